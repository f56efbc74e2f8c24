//! The memory store against hand-made changes: each write's condition, all-or-nothing commits,
//! scoping by business, and the reads' order, filters and paging.

use super::*;
use crate::kernel::ids::change_token;
use crate::kernel::paging::PageRequest;
use crate::kernel::{Currency, EntryId};
use crate::ledger::model::{EventType, WalletStatus};

const T0: u64 = 1_800_000_000_000;

fn inr() -> Currency {
    Currency::parse("INR").unwrap()
}

fn page(number: u32, size: u32) -> PageRequest {
    PageRequest { number, size }
}

fn customer(business_id: &BusinessId, created_ms: u64, email: &str, name: &str) -> Customer {
    Customer {
        customer_id: CustomerId::generate_at(created_ms),
        business_id: business_id.clone(),
        email: email.to_owned(),
        name: name.to_owned(),
        phone_number: None,
        metadata: Default::default(),
        preferred_locale: None,
        created_at: Timestamp::from_unix_ms(created_ms),
    }
}

fn wallets(customer_id: &CustomerId, version: u64) -> CustomerWallets {
    let mut wallets = CustomerWallets::open(
        customer_id.clone(),
        &[Currency::USD, inr()],
        Timestamp::from_unix_ms(T0),
    );
    wallets.version = version;
    wallets
}

fn entry(
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

fn hold(
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

fn payment(
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
    }
}

fn claim(raw: &str, entry: &LedgerEntry) -> Write {
    Write::ClaimKey {
        key: IdempotencyKey::parse(raw).unwrap(),
        original: Original::Entry(entry.clone()),
    }
}

async fn commit(
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

fn failed(at: &[usize]) -> Result<(), Rejection> {
    Err(Rejection {
        failed: at.to_vec(),
        wallets_now: None,
    })
}

/// One business with one customer who has wallets at version 1, entry 1, a pending hold, an
/// invoice payment with 20 reversed, and the idempotency key `k` claimed.
struct Stored {
    store: MemoryStore,
    business: Business,
    api_key: ApiKey,
    customer: Customer,
    wallets: CustomerWallets,
    entry: LedgerEntry,
    hold: Hold,
    payment: InvoicePayment,
}

impl Stored {
    async fn new() -> Stored {
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

    fn business_id(&self) -> &BusinessId {
        &self.business.business_id
    }

    fn customer_id(&self) -> &CustomerId {
        &self.customer.customer_id
    }

    async fn commit(&self, writes: Vec<Write>) -> Result<(), Rejection> {
        commit(&self.store, self.business_id(), writes).await
    }

    /// Everything a change could have touched, as read through the ports.
    async fn snapshot(&self) -> String {
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
async fn each_write_is_refused_when_its_condition_fails() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let mut stale_customer = stored.customer.clone();
    stale_customer.name = "Grace".into();
    let mut resolved = stored.hold.clone();
    resolved.status = HoldStatus::Released;
    let mut reversed = stored.payment.clone();
    reversed.reversed = 30;
    let unknown = CustomerId::generate();
    let refused = [
        (
            "business id taken",
            Write::NewBusiness(stored.business.clone()),
        ),
        ("key hash taken", Write::NewApiKey(stored.api_key.clone())),
        (
            "customer id taken",
            Write::NewCustomer(stored.customer.clone()),
        ),
        (
            "customer at another revision",
            Write::ReplaceCustomer {
                customer: stale_customer.clone(),
                revision: "stale".into(),
            },
        ),
        (
            "customer missing",
            Write::ReplaceCustomer {
                customer: customer(b, T0, "x@example.com", "X"),
                revision: revision_of(&stored.customer),
            },
        ),
        ("wallets exist", Write::NewWallets(wallets(c, 0))),
        ("wallets moved on", Write::Wallets(wallets(c, 3))),
        ("wallets not yet moved", Write::Wallets(wallets(c, 1))),
        ("wallets missing", Write::Wallets(wallets(&unknown, 1))),
        ("position taken", Write::NewEntry(entry(b, c, inr(), 1, 1))),
        ("hold id taken", Write::NewHold(stored.hold.clone())),
        (
            "hold missing",
            Write::ResolveHold(hold(b, c, T0, HoldStatus::Released, Currency::USD, T0)),
        ),
        (
            "invoice paid",
            Write::NewInvoicePayment(payment(b, c, "inv_1", 0)),
        ),
        (
            "reversed since",
            Write::ReverseInvoicePayment {
                payment: reversed.clone(),
                reversed_before: 0,
            },
        ),
        (
            "payment missing",
            Write::ReverseInvoicePayment {
                payment: payment(b, c, "inv_2", 10),
                reversed_before: 0,
            },
        ),
        ("key claimed", claim("k", &stored.entry)),
    ];
    let before = stored.snapshot().await;
    for (why, write) in refused {
        assert_eq!(stored.commit(vec![write]).await, failed(&[0]), "{why}");
    }
    assert_eq!(stored.snapshot().await, before);

    // The same items with the state they expect land.
    let landing = [
        Write::ReplaceCustomer {
            customer: stale_customer,
            revision: revision_of(&stored.customer),
        },
        Write::Wallets(wallets(c, 2)),
        Write::ResolveHold(resolved.clone()),
        Write::ReverseInvoicePayment {
            payment: reversed,
            reversed_before: 20,
        },
    ];
    for write in landing {
        assert_eq!(
            stored.commit(vec![write.clone()]).await,
            Ok(()),
            "{write:?}"
        );
    }
    // A hold resolved once is not resolved again.
    assert_eq!(
        stored.commit(vec![Write::ResolveHold(resolved)]).await,
        failed(&[0])
    );
}

#[tokio::test]
async fn a_change_lands_all_or_nothing_and_names_every_failed_write() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let fresh_hold = hold(b, c, T0 + 5, HoldStatus::Pending, Currency::USD, T0 + 9);
    let fresh_entry = entry(b, c, Currency::USD, 2, 2);
    let before = stored.snapshot().await;
    let writes = vec![
        Write::NewHold(fresh_hold.clone()),
        Write::Wallets(wallets(c, 1)),
        Write::NewEntry(fresh_entry.clone()),
        claim("k", &fresh_entry),
        Write::NewInvoicePayment(payment(b, c, "inv_2", 0)),
    ];
    assert_eq!(stored.commit(writes).await, failed(&[1, 3]));
    assert_eq!(stored.snapshot().await, before, "nothing landed");
    assert_eq!(
        stored.store.commits(),
        Commits {
            landed: 2,
            rejected: 1
        }
    );

    let writes = vec![
        Write::NewHold(fresh_hold.clone()),
        Write::Wallets(wallets(c, 2)),
        Write::NewEntry(fresh_entry.clone()),
        claim("k2", &fresh_entry),
    ];
    assert_eq!(stored.commit(writes).await, Ok(()));
    let s = &stored.store;
    assert_eq!(
        s.get_hold(b, c, &fresh_hold.id).await.unwrap(),
        Some(fresh_hold)
    );
    assert_eq!(s.get_wallets(b, c).await.unwrap().unwrap().version, 2);
    assert_eq!(
        s.original_for_key(b, &IdempotencyKey::parse("k2").unwrap())
            .await
            .unwrap(),
        Some(Original::Entry(fresh_entry))
    );
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
async fn a_malformed_change_is_a_storage_failure_not_a_rejection() {
    let stored = Stored::new().await;
    let c = stored.customer_id();
    let twice = Change {
        business_id: stored.business_id().clone(),
        writes: vec![Write::Wallets(wallets(c, 2)), Write::Wallets(wallets(c, 2))],
        token: change_token(0),
    };
    let empty = Change {
        business_id: stored.business_id().clone(),
        writes: vec![],
        token: change_token(0),
    };
    for change in [twice, empty] {
        assert!(matches!(
            stored.store.commit(&change).await,
            Err(DomainError::Storage(_))
        ));
    }
    assert_eq!(stored.store.commits().rejected, 0);
}

#[tokio::test]
async fn injected_conflicts_refuse_the_next_commits_then_commits_land_again() {
    let stored = Stored::new().await;
    let c = stored.customer_id();
    stored.store.fail_next_commits(2);
    for _ in 0..2 {
        assert_eq!(
            stored.commit(vec![Write::Wallets(wallets(c, 2))]).await,
            failed(&[])
        );
    }
    assert_eq!(
        stored.commit(vec![Write::Wallets(wallets(c, 2))]).await,
        Ok(())
    );
    assert_eq!(
        stored.store.commits(),
        Commits {
            landed: 3,
            rejected: 2
        }
    );
}

#[tokio::test]
async fn a_replacement_changes_the_revision_a_later_replacement_must_find() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let read = stored
        .store
        .get_customer_revision(b, c)
        .await
        .unwrap()
        .unwrap();
    let mut renamed = read.customer.clone();
    renamed.name = "Grace".into();
    let replace = |customer: &Customer, revision: &str| Write::ReplaceCustomer {
        customer: customer.clone(),
        revision: revision.to_owned(),
    };
    assert_eq!(
        stored.commit(vec![replace(&renamed, &read.revision)]).await,
        Ok(())
    );
    let reread = stored
        .store
        .get_customer_revision(b, c)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(reread.revision, read.revision);
    assert_eq!(reread.customer, renamed);
    assert_eq!(
        stored
            .commit(vec![replace(&read.customer, &read.revision)])
            .await,
        failed(&[0]),
        "a replacement of what was read before is refused"
    );
}

#[tokio::test]
async fn customers_list_newest_first_filtered_by_email_name_and_millisecond_and_paged() {
    let (store, b) = (MemoryStore::new(), BusinessId::generate());
    let people = [
        customer(&b, T0, "Ada@Example.com", "Ada Lovelace"),
        customer(&b, T0 + 1, "grace@example.com", "Grace Hopper"),
        customer(&b, T0 + 2, "ada@example.com", "Ada Byron"),
        customer(&b, T0 + 3, "linus@example.com", "Linus"),
    ];
    let other = customer(&BusinessId::generate(), T0 + 1, "ada@example.com", "Ada");
    for person in people.iter().chain([&other]) {
        let writes = vec![Write::NewCustomer(person.clone())];
        assert_eq!(commit(&store, &person.business_id, writes).await, Ok(()));
    }
    let list = |email: Option<&str>, name: Option<&str>, from, to, page| {
        let query = CustomerQuery {
            email: email.map(str::to_owned),
            name_contains: name.map(str::to_owned),
            created_from_ms: from,
            created_to_ms: to,
            page,
        };
        let (store, b) = (store.clone(), b.clone());
        async move {
            let found = store.list_customers(&b, &query).await.unwrap();
            found.into_iter().map(|c| c.name).collect::<Vec<_>>()
        }
    };
    let all = page(0, 10);
    assert_eq!(
        list(None, None, None, None, all).await,
        ["Linus", "Ada Byron", "Grace Hopper", "Ada Lovelace"]
    );
    assert_eq!(
        list(Some("ADA@example.COM"), None, None, None, all).await,
        ["Ada Byron", "Ada Lovelace"],
        "the whole email, in any case"
    );
    assert!(list(Some("da@example.com"), None, None, None, all)
        .await
        .is_empty());
    assert_eq!(
        list(None, Some("aDa"), None, None, all).await,
        ["Ada Byron", "Ada Lovelace"],
        "part of the name, in any case"
    );
    assert_eq!(
        list(None, None, Some(T0 + 1), Some(T0 + 2), all).await,
        ["Ada Byron", "Grace Hopper"],
        "both bounds inclusive"
    );
    assert_eq!(
        list(
            Some("ada@example.com"),
            Some("love"),
            Some(T0),
            Some(T0),
            all
        )
        .await,
        ["Ada Lovelace"]
    );
    assert!(list(None, None, Some(T0 + 2), Some(T0 + 1), all)
        .await
        .is_empty());
    assert_eq!(
        list(None, None, None, None, page(1, 3)).await,
        ["Ada Lovelace"]
    );
    assert_eq!(
        list(None, Some("a"), None, None, page(1, 2)).await,
        ["Ada Lovelace"],
        "pages count the matches only"
    );
}

#[tokio::test]
async fn holds_list_newest_first_filtered_by_status_and_currency_and_paged() {
    let (store, b, c) = (
        MemoryStore::new(),
        BusinessId::generate(),
        CustomerId::generate(),
    );
    let holds = [
        hold(&b, &c, T0, HoldStatus::Pending, Currency::USD, T0 + 100),
        hold(
            &b,
            &c,
            T0 + 1,
            HoldStatus::Captured,
            Currency::USD,
            T0 + 100,
        ),
        hold(&b, &c, T0 + 2, HoldStatus::Pending, inr(), T0 + 100),
        hold(&b, &c, T0 + 3, HoldStatus::Pending, Currency::USD, T0 + 100),
    ];
    let writes = holds.iter().cloned().map(Write::NewHold).collect();
    assert_eq!(commit(&store, &b, writes).await, Ok(()));
    let list = |status, currency, page| {
        let query = HoldQuery {
            status,
            currency,
            page,
        };
        let (store, b, c) = (store.clone(), b.clone(), c.clone());
        async move {
            let found = store.list_holds(&b, &c, &query, 0).await.unwrap();
            found.into_iter().map(|h| h.id).collect::<Vec<_>>()
        }
    };
    let id = |at: usize| holds[at].id.clone();
    assert_eq!(
        list(None, None, page(0, 10)).await,
        [id(3), id(2), id(1), id(0)]
    );
    assert_eq!(
        list(Some(HoldStatus::Pending), None, page(0, 10)).await,
        [id(3), id(2), id(0)]
    );
    assert_eq!(
        list(Some(HoldStatus::Pending), Some(Currency::USD), page(0, 10)).await,
        [id(3), id(0)]
    );
    assert_eq!(
        list(Some(HoldStatus::Pending), None, page(1, 2)).await,
        [id(0)]
    );
    assert!(list(None, None, page(2, 2)).await.is_empty());
}

#[tokio::test]
async fn entries_list_by_position_newest_first_in_the_whole_ledger_or_one_currency() {
    let (store, b, c) = (
        MemoryStore::new(),
        BusinessId::generate(),
        CustomerId::generate(),
    );
    // Positions 1..=5: USD 1, INR 1, USD 2, USD 3, INR 2.
    let ledger = [
        entry(&b, &c, Currency::USD, 1, 1),
        entry(&b, &c, inr(), 2, 1),
        entry(&b, &c, Currency::USD, 3, 2),
        entry(&b, &c, Currency::USD, 4, 3),
        entry(&b, &c, inr(), 5, 2),
    ];
    let writes = ledger.iter().cloned().map(Write::NewEntry).collect();
    assert_eq!(commit(&store, &b, writes).await, Ok(()));
    let list = |currency, oldest, newest| {
        let range = EntryRange {
            currency,
            oldest,
            newest,
        };
        let (store, b, c) = (store.clone(), b.clone(), c.clone());
        async move {
            let found = store.list_entries(&b, &c, range).await.unwrap();
            found
                .into_iter()
                .map(|e| e.customer_seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(None, 1, 5).await, [5, 4, 3, 2, 1]);
    assert_eq!(list(None, 2, 4).await, [4, 3, 2]);
    assert_eq!(list(Some(Currency::USD), 2, 3).await, [4, 3], "USD 2 and 3");
    assert_eq!(list(Some(inr()), 1, 9).await, [5, 2]);
    assert_eq!(
        list(Some(Currency::parse("EUR").unwrap()), 1, 9).await,
        Vec::<u64>::new()
    );
    let reversed = EntryRange {
        currency: None,
        oldest: 3,
        newest: 2,
    };
    assert!(store.list_entries(&b, &c, reversed).await.is_err());
}

#[tokio::test]
async fn expired_holds_are_the_pending_ones_due_by_now_of_every_business_at_most_limit() {
    let store = MemoryStore::new();
    let (b1, b2, c) = (
        BusinessId::generate(),
        BusinessId::generate(),
        CustomerId::generate(),
    );
    let due_late = hold(&b1, &c, T0, HoldStatus::Pending, Currency::USD, T0 + 20);
    let due_early = hold(&b2, &c, T0, HoldStatus::Pending, inr(), T0 + 10);
    let not_due = hold(&b1, &c, T0, HoldStatus::Pending, Currency::USD, T0 + 21);
    let resolved = hold(&b1, &c, T0, HoldStatus::Released, Currency::USD, T0);
    for h in [&due_late, &due_early, &not_due, &resolved] {
        let writes = vec![Write::NewHold(h.clone())];
        assert_eq!(commit(&store, &h.business_id, writes).await, Ok(()));
    }
    let reference = |h: &Hold| HoldRef {
        business_id: h.business_id.clone(),
        customer_id: h.customer_id.clone(),
        hold_id: h.id.clone(),
    };
    assert_eq!(
        store.expired_holds(T0 + 20, 10).await.unwrap(),
        [reference(&due_early), reference(&due_late)],
        "due at or before now"
    );
    assert_eq!(
        store.expired_holds(T0 + 20, 1).await.unwrap(),
        [reference(&due_early)]
    );
    assert!(store.expired_holds(T0 + 9, 10).await.unwrap().is_empty());
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

#[tokio::test]
async fn a_change_sent_again_with_its_token_lands_once() {
    let stored = Stored::new().await;
    let c = stored.customer_id();
    let change = Change {
        business_id: stored.business_id().clone(),
        writes: vec![Write::Wallets(wallets(c, 2))],
        token: change_token(0),
    };
    let landed_before = stored.store.commits().landed;
    assert_eq!(stored.store.commit(&change).await.unwrap(), Ok(()));
    assert_eq!(
        stored.store.commit(&change).await.unwrap(),
        Ok(()),
        "the same token again"
    );
    let again = Change {
        token: change_token(0),
        ..change
    };
    let refused = stored.store.commit(&again).await.unwrap().unwrap_err();
    assert_eq!(refused.failed, vec![0]);
    assert_eq!(
        refused.wallets_now.map(|w| w.version),
        Some(2),
        "it answers the stored wallets"
    );
    assert_eq!(stored.store.commits().landed, landed_before + 1);
}
