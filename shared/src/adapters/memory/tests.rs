//! The memory store's own tests: hand-made records and changes, a store that holds one of each
//! record (shared with `commit/tests.rs` and `queries/tests.rs`), and the scoping by business.

use super::MemoryStore;
use crate::access::model::{ApiKey, Business};
use crate::change::model::{Change, Rejection, Write};
use crate::customers::model::{Customer, CustomerQuery};
use crate::error::Original;
use crate::holds::model::{Hold, HoldQuery, HoldStatus};
use crate::invoices::model::InvoicePayment;
use crate::kernel::ids::change_token;
use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, Currency, CustomerId, EntryId, HoldId, IdempotencyKey};
use crate::kernel::{InvoiceId, Timestamp};
use crate::ledger::model::{CustomerWallets, EntryRange, EventType, LedgerEntry, WalletStatus};
use crate::ports::{CustomerStore, HoldStore, InvoiceStore, KeyStore, LedgerStore, WalletStore};

pub(super) const T0: u64 = 1_800_000_000_000;

pub(super) fn inr() -> Currency {
    Currency::parse("INR").unwrap()
}

pub(super) fn page(number: u32, size: u32) -> PageRequest {
    PageRequest { number, size }
}

pub(super) fn customer(
    business_id: &BusinessId,
    created_ms: u64,
    email: &str,
    name: &str,
) -> Customer {
    Customer {
        customer_id: CustomerId::generate_at(created_ms),
        business_id: business_id.clone(),
        email: email.to_owned(),
        name: name.to_owned(),
        phone_number: None,
        metadata: Default::default(),
        preferred_locale: None,
        created_at: Timestamp::from_unix_ms(created_ms),
        gateway_customer_id: None,
        payment_methods: Vec::new(),
        auto_pay: false,
    }
}

pub(super) fn wallets(customer_id: &CustomerId, version: u64) -> CustomerWallets {
    let mut wallets = CustomerWallets::open(
        customer_id.clone(),
        &[Currency::USD, inr()],
        Timestamp::from_unix_ms(T0),
    );
    wallets.version = version;
    wallets
}

pub(super) fn entry(
    business_id: &BusinessId,
    customer_id: &CustomerId,
    currency: Currency,
    customer_seq: u64,
    currency_seq: u64,
) -> LedgerEntry {
    LedgerEntry {
        id: EntryId::generate(),
        customer_id: customer_id.clone(),
        business_id: business_id.clone(),
        currency,
        amount: 1,
        is_credit: true,
        before_balance: 0,
        after_balance: 1,
        event_type: EventType::MerchantAdjustment,
        reason: None,
        reference_object_id: None,
        idempotency_key: None,
        created_at: Timestamp::from_unix_ms(T0),
        customer_seq,
        currency_seq,
        created_by: None,
    }
}

pub(super) fn hold(
    business_id: &BusinessId,
    customer_id: &CustomerId,
    created_ms: u64,
    status: HoldStatus,
    currency: Currency,
    expires_ms: u64,
) -> Hold {
    Hold {
        id: HoldId::generate_at(created_ms),
        customer_id: customer_id.clone(),
        business_id: business_id.clone(),
        currency,
        amount: 10,
        status,
        captured_amount: 0,
        reason: None,
        reference_object_id: None,
        idempotency_key: None,
        ledger_entry_id: None,
        expires_at: Timestamp::from_unix_ms(expires_ms),
        created_at: Timestamp::from_unix_ms(created_ms),
        updated_at: Timestamp::from_unix_ms(created_ms),
        created_by: None,
        updated_by: None,
    }
}

pub(super) fn payment(
    business_id: &BusinessId,
    customer_id: &CustomerId,
    invoice: &str,
    reversed: i64,
) -> InvoicePayment {
    InvoicePayment {
        invoice_id: InvoiceId::parse(invoice).unwrap(),
        customer_id: customer_id.clone(),
        business_id: business_id.clone(),
        currency: Currency::USD,
        amount_due: 100,
        applied: 100,
        remaining: 0,
        reversed,
        ledger_entry_id: None,
        created_at: Timestamp::from_unix_ms(T0),
        updated_at: Timestamp::from_unix_ms(T0),
        created_by: None,
        updated_by: None,
        status: None,
        charges: Vec::new(),
        charge_attempt: None,
        card_reversed: 0,
        refunds: Vec::new(),
    }
}

pub(super) fn claim(raw: &str, entry: &LedgerEntry) -> Write {
    Write::ClaimKey {
        key: IdempotencyKey::parse(raw).unwrap(),
        original: Original::Entry(entry.clone()),
    }
}

pub(super) async fn commit(
    store: &MemoryStore,
    business_id: &BusinessId,
    writes: Vec<Write>,
) -> Result<(), Rejection> {
    let change = Change {
        business_id: business_id.clone(),
        writes,
        token: change_token(0),
    };
    // Which writes failed; the wallets answered with a refusal are checked on their own.
    store
        .commit(&change)
        .await
        .expect("no storage failure")
        .map_err(|rejection| Rejection {
            failed: rejection.failed,
            wallets_now: None,
        })
}

pub(super) fn failed(at: &[usize]) -> Result<(), Rejection> {
    Err(Rejection {
        failed: at.to_vec(),
        wallets_now: None,
    })
}

/// One business with one customer who has wallets at version 1, entry 1, a pending hold, an
/// invoice payment with 20 reversed, and the idempotency key `k` claimed.
pub(super) struct Stored {
    pub(super) store: MemoryStore,
    pub(super) business: Business,
    pub(super) api_key: ApiKey,
    pub(super) customer: Customer,
    pub(super) wallets: CustomerWallets,
    pub(super) entry: LedgerEntry,
    pub(super) hold: Hold,
    pub(super) payment: InvoicePayment,
}

impl Stored {
    pub(super) async fn new() -> Stored {
        let store = MemoryStore::new();
        let business_id = BusinessId::generate();
        let business = Business {
            business_id: business_id.clone(),
            name: "Acme".into(),
            created_at: Timestamp::from_unix_ms(T0),
        };
        let api_key = ApiKey {
            id: crate::kernel::KeyId::generate(),
            key_hash: "hash-1".into(),
            business_id: business_id.clone(),
            name: "first".into(),
            prefix: "cw_12345678".into(),
            created_at: Timestamp::from_unix_ms(T0),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            scope: crate::access::model::Scope::Full,
        };
        let customer = customer(&business_id, T0, "ada@example.com", "Ada");
        let id = &customer.customer_id;
        let entry = entry(&business_id, id, Currency::USD, 1, 1);
        let hold = hold(
            &business_id,
            id,
            T0,
            HoldStatus::Pending,
            Currency::USD,
            T0 + 1,
        );
        let payment = payment(&business_id, id, "inv_1", 20);
        let writes = vec![
            Write::NewBusiness(business.clone()),
            Write::NewApiKey(api_key.clone()),
            Write::NewCustomer(customer.clone()),
            Write::NewWallets(wallets(id, 0)),
        ];
        assert_eq!(commit(&store, &business_id, writes).await, Ok(()));
        let writes = vec![
            Write::Wallets(wallets(id, 1)),
            Write::NewEntry(entry.clone()),
            Write::NewHold(hold.clone()),
            Write::NewInvoicePayment(payment.clone()),
            claim("k", &entry),
        ];
        assert_eq!(commit(&store, &business_id, writes).await, Ok(()));
        Stored {
            wallets: wallets(id, 1),
            store,
            business,
            api_key,
            customer,
            entry,
            hold,
            payment,
        }
    }

    pub(super) fn business_id(&self) -> &BusinessId {
        &self.business.business_id
    }

    pub(super) fn customer_id(&self) -> &CustomerId {
        &self.customer.customer_id
    }

    pub(super) async fn commit(&self, writes: Vec<Write>) -> Result<(), Rejection> {
        commit(&self.store, self.business_id(), writes).await
    }

    /// Everything a change could have touched, as read through the ports.
    pub(super) async fn snapshot(&self) -> String {
        let (b, c, s) = (self.business_id(), self.customer_id(), &self.store);
        let all = EntryRange {
            currency: None,
            oldest: 1,
            newest: 100,
        };
        let holds = HoldQuery {
            status: None,
            currency: None,
            page: page(0, 100),
        };
        let customers = CustomerQuery {
            email: None,
            name_contains: None,
            created_from_ms: None,
            created_to_ms: None,
            page: page(0, 100),
        };
        format!(
            "{:?}",
            (
                s.get_customer_revision(b, c).await.unwrap(),
                s.list_customers(b, &customers).await.unwrap(),
                s.get_wallets(b, c).await.unwrap(),
                s.list_entries(b, c, all).await.unwrap(),
                s.list_holds(b, c, &holds, 0).await.unwrap(),
                s.get_invoice_payment(b, c, &self.payment.invoice_id)
                    .await
                    .unwrap(),
                s.original_for_key(b, &IdempotencyKey::parse("k").unwrap())
                    .await
                    .unwrap(),
                s.key_by_hash("hash-1")
                    .await
                    .unwrap()
                    .map(|k| k.business_id),
            )
        )
    }
}

#[tokio::test]
async fn another_business_finds_nothing_and_claims_keys_of_its_own() {
    let stored = Stored::new().await;
    let (c, other) = (stored.customer_id(), &BusinessId::generate());
    let s = &stored.store;
    assert_eq!(s.get_customer(other, c).await.unwrap(), None);
    assert_eq!(s.get_customer_revision(other, c).await.unwrap(), None);
    assert_eq!(s.get_wallets(other, c).await.unwrap(), None);
    assert_eq!(s.get_hold(other, c, &stored.hold.id).await.unwrap(), None);
    let invoice = &stored.payment.invoice_id;
    assert_eq!(
        s.get_invoice_payment(other, c, invoice).await.unwrap(),
        None
    );
    let key = IdempotencyKey::parse("k").unwrap();
    assert_eq!(s.original_for_key(other, &key).await.unwrap(), None);
    let all = EntryRange {
        currency: None,
        oldest: 1,
        newest: 10,
    };
    assert_eq!(s.list_entries(other, c, all).await.unwrap(), vec![]);
    let holds = HoldQuery {
        status: None,
        currency: None,
        page: page(0, 10),
    };
    assert_eq!(s.list_holds(other, c, &holds, 0).await.unwrap(), vec![]);
    let customers = CustomerQuery {
        email: Some("ada@example.com".into()),
        name_contains: None,
        created_from_ms: None,
        created_to_ms: None,
        page: page(0, 10),
    };
    assert_eq!(s.list_customers(other, &customers).await.unwrap(), vec![]);

    // The other business's key `k` and wallets are items of their own.
    let writes = vec![Write::NewWallets(wallets(c, 0)), claim("k", &stored.entry)];
    assert_eq!(commit(s, other, writes).await, Ok(()));
    assert_eq!(s.get_wallets(other, c).await.unwrap(), Some(wallets(c, 0)));
    assert_eq!(
        s.get_wallets(stored.business_id(), c).await.unwrap(),
        Some(stored.wallets.clone())
    );
}

#[tokio::test]
async fn wallets_read_back_as_written() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let mut closed = wallets(c, 2);
    let usd = closed.wallets.get_mut(&Currency::USD).unwrap();
    usd.status = WalletStatus::Closed;
    usd.balance = 7;
    assert_eq!(
        stored.commit(vec![Write::Wallets(closed.clone())]).await,
        Ok(())
    );
    assert_eq!(stored.store.get_wallets(b, c).await.unwrap(), Some(closed));
}
