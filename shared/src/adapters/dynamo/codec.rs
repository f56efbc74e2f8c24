//! Items to records and back. A record is stored as its serde JSON in the `doc` attribute, beside
//! the key, index and condition attributes. The stored shapes are pinned by the tests below:
//! changing a record's fields must not change what is already in a table.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::*;
use super::table::{GSI_EMAIL_PK, GSI_EXPIRY_PK, GSI_EXPIRY_SK, PK, SK};
use crate::access::model::{ApiKey, Business};
use crate::customers::model::{Customer, CustomerRevision};
use crate::error::{DomainError, DomainResult, Original};
use crate::holds::model::{Hold, HoldRef, HoldStatus};
use crate::invoices::model::InvoicePayment;
use crate::kernel::{BusinessId, Currency, CustomerId, HoldId, IdempotencyKey, Timestamp};
use crate::ledger::model::{CustomerWallets, LedgerEntry, Wallet};

pub const DOC: &str = "doc";
/// Lower-case name on customer items, for the case-insensitive name filter.
pub const NAME_LOWER: &str = "name_lc";
/// On the wallet set: its version (condition of the next change).
pub const VERSION: &str = "ver";
/// On idempotency items: what the key produced (absent for ledger entries).
const KIND: &str = "kind";
const KIND_HOLD: &str = "hold";
const KIND_TOP_UP_LINK: &str = "top_up_link";
/// On hold items: the status (condition and filter) and currency (filter).
pub const HOLD_STATUS: &str = "st";
pub const HOLD_CURRENCY: &str = "cur";
/// On invoice payment items: the amount reversed so far (condition of the next reversal).
pub const REVERSED: &str = "rev";
const BUSINESS_ID: &str = "business_id";
/// On entry and hold items: the wallet of their currency right after their change, with the
/// wallets' version (JSON of `webhooks::events::WalletAfter`), for the events of the stream.
pub const WALLET_AFTER: &str = "w_after";
/// On items a table upgrade wrote (`upgrade::copy_table`): their insertion is no new event.
pub const COPIED: &str = "upg";
/// The table's TTL attribute (epoch seconds): deliveries, attempts and change receipts.
pub const TTL: &str = "ttl";
/// Seconds a change's receipt is kept.
const RECEIPT_KEPT_SECONDS: u64 = 24 * 60 * 60;

pub(super) fn corrupt(what: impl std::fmt::Display) -> DomainError {
    DomainError::Storage(format!("corrupt item: {what}"))
}

pub(super) fn to_doc<T: Serialize>(record: &T) -> AttributeValue {
    s(serde_json::to_string(record).expect("records serialise to JSON"))
}

pub(super) fn from_doc<T: DeserializeOwned>(item: &Item) -> DomainResult<T> {
    let doc = text(item, DOC)?;
    serde_json::from_str(doc).map_err(|e| corrupt(format!("doc: {e}")))
}

pub(super) fn text<'a>(item: &'a Item, name: &str) -> DomainResult<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(format!("no {name}")))
}

pub(super) fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[derive(Serialize, Deserialize)]
struct WalletsDoc {
    customer_id: CustomerId,
    entry_count: u64,
    /// Absent in wallet sets written before hold chunks (and while 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    hold_count: u64,
    wallets: BTreeMap<Currency, Wallet>,
}

/// Stored shape of a hold: the record plus its expiry in milliseconds.
#[derive(Serialize, Deserialize)]
struct HoldDoc {
    #[serde(flatten)]
    hold: Hold,
    expires_at_ms: u64,
}

pub fn business_item(business: &Business) -> Item {
    let mut item = key_of(business_pk(&business.business_id), BUSINESS_SK);
    item.insert("name".into(), s(&business.name));
    item.insert("created_at".into(), s(business.created_at.rfc3339()));
    item
}

/// On API key items: the expiry, revocation and last use in ms (changed in place).
pub const KEY_EXPIRES: &str = "exp";
pub const KEY_REVOKED: &str = "rev";
pub const KEY_USED: &str = "used";

/// The `by_email` partition that lists a business's API keys (no email has this form: it has
/// no `@`).
pub fn keys_listing(business_id: &BusinessId) -> String {
    format!("{business_id}#api-keys")
}

pub fn api_key_item(key: &ApiKey) -> Item {
    let mut item = key_of(api_key_pk(&key.key_hash), KEY_SK);
    item.insert(BUSINESS_ID.into(), s(key.business_id.as_str()));
    item.insert("created_at".into(), s(key.created_at.rfc3339()));
    item.insert(GSI_EMAIL_PK.to_owned(), s(keys_listing(&key.business_id)));
    if let Some(at) = key.expires_at {
        item.insert(KEY_EXPIRES.into(), number(at.unix_ms));
    }
    item.insert(DOC.into(), to_doc(key));
    item
}

fn millis(item: &Item, name: &str) -> Option<Timestamp> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .map(Timestamp::from_unix_ms)
}

/// A key item as its record. A key made before keys had ids (only `business_id` and
/// `created_at`) reads with an id derived from its hash.
pub fn api_key_from(item: &Item) -> DomainResult<ApiKey> {
    let key_hash = text(item, PK)?
        .strip_prefix("KEY#")
        .ok_or_else(|| corrupt("key item without KEY# key"))?
        .to_owned();
    let mut key: ApiKey = if item.contains_key(DOC) {
        from_doc(item)?
    } else {
        let created_at = crate::kernel::clock::parse_instant(
            "created_at",
            text(item, "created_at")?,
            crate::kernel::clock::Round::Down,
        )
        .map_err(corrupt)?;
        ApiKey {
            id: crate::kernel::KeyId::parse(&format!("key_{}", &key_hash[..26]))
                .map_err(corrupt)?,
            key_hash: String::new(),
            business_id: BusinessId::parse(text(item, BUSINESS_ID)?).map_err(corrupt)?,
            name: "API key".into(),
            prefix: "cw_".into(),
            created_at: Timestamp::from_unix_ms(created_at),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            scope: crate::access::model::Scope::Full,
        }
    };
    key.key_hash = key_hash;
    key.expires_at = millis(item, KEY_EXPIRES);
    key.revoked_at = millis(item, KEY_REVOKED);
    key.last_used_at = millis(item, KEY_USED);
    Ok(key)
}

pub fn customer_item(customer: &Customer) -> Item {
    let business_id = &customer.business_id;
    let mut item = key_of(
        business_pk(business_id),
        &customer_sk(&customer.customer_id),
    );
    item.insert(
        GSI_EMAIL_PK.to_owned(),
        s(email_key(business_id, &customer.email)),
    );
    item.insert(NAME_LOWER.to_owned(), s(customer.name.to_lowercase()));
    item.insert(DOC.to_owned(), to_doc(customer));
    item
}

pub fn customer_from(item: &Item) -> DomainResult<Customer> {
    from_doc(item)
}

/// The customer and its revision: the stored document itself, compared on replacement.
pub fn customer_revision_from(item: &Item) -> DomainResult<CustomerRevision> {
    Ok(CustomerRevision {
        customer: customer_from(item)?,
        revision: text(item, DOC)?.to_owned(),
    })
}

pub fn revision_value(revision: &str) -> AttributeValue {
    s(revision)
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

pub fn wallets_item(business_id: &BusinessId, wallets: &CustomerWallets) -> Item {
    let doc = WalletsDoc {
        customer_id: wallets.customer_id.clone(),
        entry_count: wallets.entry_count,
        hold_count: wallets.hold_count,
        wallets: wallets.wallets.clone(),
    };
    let mut item = key_of(customer_pk(business_id, &wallets.customer_id), WALLETS_SK);
    item.insert(VERSION.to_owned(), number(wallets.version));
    // Sparse: only a wallet set with top-up work (due now, retrying, or in flight) is in the
    // index the sweep reads.
    let due = wallets
        .wallets
        .values()
        .filter_map(crate::topups::rules::due_at)
        .min();
    if let Some(due) = due {
        item.insert(
            GSI_EXPIRY_PK.to_owned(),
            s(top_up_shard_of(&wallets.customer_id)),
        );
        item.insert(
            GSI_EXPIRY_SK.to_owned(),
            s(format!("{:013}#{}", due.unix_ms, wallets.customer_id)),
        );
    }
    item.insert(DOC.to_owned(), to_doc(&doc));
    item
}

pub fn version_value(version: u64) -> AttributeValue {
    number(version)
}

pub fn wallets_from(item: &Item) -> DomainResult<CustomerWallets> {
    let doc: WalletsDoc = from_doc(item)?;
    let version = item
        .get(VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt("wallet set without version"))?;
    Ok(CustomerWallets {
        customer_id: doc.customer_id,
        version,
        entry_count: doc.entry_count,
        hold_count: doc.hold_count,
        wallets: doc.wallets,
    })
}

/// An entry in its ledger chunk.
pub fn entry_item(entry: &LedgerEntry) -> Item {
    let mut item = key_of(
        entry_pk(
            &entry.business_id,
            &entry.customer_id,
            chunk_of(entry.customer_seq),
        ),
        &entry_sk(entry.customer_seq),
    );
    item.insert(DOC.to_owned(), to_doc(entry));
    item
}

/// The entry's copy in the ledger of its currency, written in the same transaction (what a local
/// secondary index would hold, without the index's 10 GB limit per customer). Events are made of
/// the entry, not of the copy.
pub fn currency_copy_item(entry: &LedgerEntry) -> Item {
    let mut item = key_of(
        currency_pk(
            &entry.business_id,
            &entry.customer_id,
            entry.currency,
            chunk_of(entry.currency_seq),
        ),
        &currency_sk(entry.currency, entry.currency_seq),
    );
    item.insert(DOC.to_owned(), to_doc(entry));
    item
}

/// Adds to an entry or hold item the wallet of `currency` as `wallets` leave it. An entry of a
/// batch (several entries of one currency in one transaction) shows the balance right after
/// itself (`balance_after`), the rest as the transaction leaves it.
pub fn add_wallet_after(
    item: &mut Item,
    wallets: &CustomerWallets,
    currency: Currency,
    balance_after: Option<i64>,
) {
    if let Some(wallet) = wallets.wallets.get(&currency) {
        // Only what an event shows of the wallet: its settings and top-up state stay in the
        // wallet set (they would add hundreds of bytes to every entry).
        let mut wallet = wallet.clone();
        wallet.settings = Default::default();
        wallet.top_up = Default::default();
        wallet.invoice_charges = Default::default();
        if let Some(balance) = balance_after {
            wallet.balance = balance;
        }
        let after = crate::webhooks::events::WalletAfter {
            version: wallets.version,
            wallet,
        };
        item.insert(WALLET_AFTER.to_owned(), to_doc(&after));
    }
}

pub fn entry_from(item: &Item) -> DomainResult<LedgerEntry> {
    from_doc(item)
}

/// An entry with its currency's pending charges right after it, from its `w_after` when the item
/// has one (entries in the customer's ledger; not their currency copies, nor entries written
/// before `w_after` existed).
pub fn entry_at_from(item: &Item) -> DomainResult<crate::ledger::model::EntryAt> {
    let pending_after = match item.get(WALLET_AFTER).and_then(|v| v.as_s().ok()) {
        Some(raw) => {
            let after: crate::webhooks::events::WalletAfter =
                serde_json::from_str(raw).map_err(|e| corrupt(format!("{WALLET_AFTER}: {e}")))?;
            Some(after.wallet.pending_charges)
        }
        None => None,
    };
    Ok(crate::ledger::model::EntryAt {
        entry: entry_from(item)?,
        pending_after,
    })
}

fn hold_doc(hold: &Hold) -> AttributeValue {
    to_doc(&HoldDoc {
        hold: hold.clone(),
        expires_at_ms: hold.expires_at.unix_ms,
    })
}

/// A hold item; while pending it is also in the sparse expiry index.
pub fn hold_item(hold: &Hold) -> Item {
    let mut item = key_of(
        hold_pk(
            &hold.business_id,
            &hold.customer_id,
            crate::holds::model::chunk_of_hold(&hold.id),
        ),
        &hold_sk(&hold.id),
    );
    item.insert(HOLD_STATUS.to_owned(), s(hold.status.as_str()));
    item.insert(HOLD_CURRENCY.to_owned(), s(hold.currency.code()));
    if hold.status == HoldStatus::Pending {
        item.insert(GSI_EXPIRY_PK.to_owned(), s(expiry_shard_of(&hold.id)));
        item.insert(
            GSI_EXPIRY_SK.to_owned(),
            s(expiry_sk(hold.expires_at.unix_ms, &hold.id)),
        );
    }
    item.insert(DOC.to_owned(), hold_doc(hold));
    item
}

pub fn hold_from(item: &Item) -> DomainResult<Hold> {
    let doc: HoldDoc = from_doc(item)?;
    debug_assert_eq!(
        doc.hold.expires_at,
        Timestamp::from_unix_ms(doc.expires_at_ms)
    );
    Ok(doc.hold)
}

/// The hold an expiry-index item (keys only) points at.
/// The business and customer of a wallet set found in the top-up index.
pub fn wallets_ref_from(item: &Item) -> DomainResult<(BusinessId, CustomerId)> {
    let (business, customer) = customer_of_pk(text(item, PK)?)
        .ok_or_else(|| corrupt("top-up index points at a non-wallet item"))?;
    Ok((
        BusinessId::parse(business).map_err(corrupt)?,
        CustomerId::parse(customer).map_err(corrupt)?,
    ))
}

pub fn hold_ref_from(item: &Item) -> DomainResult<HoldRef> {
    let not_a_hold = || corrupt("expiry index points at a non-hold item");
    let (business, customer) = customer_of_pk(text(item, PK)?).ok_or_else(not_a_hold)?;
    let hold = text(item, SK)?
        .strip_prefix(HOLD_SK_PREFIX)
        .ok_or_else(not_a_hold)?;
    Ok(HoldRef {
        business_id: BusinessId::parse(business).map_err(corrupt)?,
        customer_id: CustomerId::parse(customer).map_err(corrupt)?,
        hold_id: HoldId::parse(hold).map_err(corrupt)?,
    })
}

pub fn invoice_item(payment: &InvoicePayment) -> Item {
    let mut item = key_of(
        invoice_pk(
            &payment.business_id,
            &payment.customer_id,
            &payment.invoice_id,
        ),
        &invoice_sk(&payment.invoice_id),
    );
    item.insert(REVERSED.to_owned(), number(payment.reversed));
    item.insert(DOC.to_owned(), to_doc(payment));
    item
}

pub fn reversed_value(reversed: i64) -> AttributeValue {
    number(reversed)
}

pub fn invoice_from(item: &Item) -> DomainResult<InvoicePayment> {
    from_doc(item)
}

/// The idempotency item: the key's business, and the record it produced.
pub fn claim_item(business_id: &BusinessId, key: &IdempotencyKey, original: &Original) -> Item {
    let mut item = idem_key(business_id, key);
    let (customer_id, doc) = match original {
        Original::Entry(entry) => (&entry.customer_id, to_doc(entry)),
        Original::Hold(hold) => {
            item.insert(KIND.to_owned(), s(KIND_HOLD));
            (&hold.customer_id, hold_doc(hold))
        }
        Original::TopUpLink(link) => {
            item.insert(KIND.to_owned(), s(KIND_TOP_UP_LINK));
            (&link.customer_id, to_doc(link))
        }
    };
    item.insert("customer_id".into(), s(customer_id.as_str()));
    item.insert(DOC.to_owned(), doc);
    item
}

/// The receipt of a wallet-only change (`Write::Receipt`), in the customer's partition; removed
/// by the table's TTL a day after the change (a resend that asks comes within seconds).
pub fn receipt_item(business_id: &BusinessId, customer_id: &CustomerId, token: &str) -> Item {
    let mut item = key_of(customer_pk(business_id, customer_id), &receipt_sk(token));
    let made_ms = ulid::Ulid::from_string(token).map_or(0, |ulid| ulid.timestamp_ms());
    item.insert(
        TTL.to_owned(),
        number(made_ms / 1000 + RECEIPT_KEPT_SECONDS),
    );
    item
}

pub fn original_from(item: &Item) -> DomainResult<Original> {
    let kind = item
        .get(KIND)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str);
    Ok(match kind {
        Some(KIND_HOLD) => Original::Hold(hold_from(item)?),
        Some(KIND_TOP_UP_LINK) => Original::TopUpLink(Box::new(from_doc(item)?)),
        _ => Original::Entry(entry_from(item)?),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn doc(item: &Item) -> serde_json::Value {
        serde_json::from_str(item[DOC].as_s().unwrap()).unwrap()
    }

    const BUSINESS: &str = "bus_01kb0000000000000000000000";
    const CUSTOMER: &str = "cus_01kb0000000000000000000001";

    fn stored_entry() -> serde_json::Value {
        serde_json::json!({
            "id": "wle_01kb0000000000000000000002", "customer_id": CUSTOMER,
            "business_id": BUSINESS, "currency": "USD", "amount": 250, "is_credit": false,
            "before_balance": 1000, "after_balance": 750, "event_type": "payment",
            "reason": "usage", "reference_object_id": "hld_1", "idempotency_key": "k-1",
            "created_at": "2026-11-23T12:00:00.123Z", "customer_seq": 7, "currency_seq": 3
        })
    }

    /// The stored documents of today's tables read back and write out unchanged.
    #[test]
    fn stored_documents_keep_their_shape() {
        let entry: LedgerEntry = serde_json::from_value(stored_entry()).unwrap();
        let item = entry_item(&entry);
        assert_eq!(doc(&item), stored_entry());
        assert_eq!(item[SK].as_s().unwrap(), "LED#00000000000000000007");
        assert_eq!(
            *item[PK].as_s().unwrap(),
            format!("CUS#{BUSINESS}#{CUSTOMER}#LED#0")
        );
        let copy = currency_copy_item(&entry);
        assert_eq!(doc(&copy), stored_entry());
        assert_eq!(copy[SK].as_s().unwrap(), "USD#00000000000000000003");
        assert_eq!(
            *copy[PK].as_s().unwrap(),
            format!("CUS#{BUSINESS}#{CUSTOMER}#USD#0")
        );

        let hold = serde_json::json!({
            "id": "hld_01kb0000000000000000000003", "customer_id": CUSTOMER,
            "business_id": BUSINESS, "currency": "INR", "amount": 600, "status": "pending",
            "captured_amount": 0, "reason": null, "reference_object_id": null,
            "idempotency_key": null, "ledger_entry_id": null,
            "expires_at": "2026-11-30T12:00:00.000Z", "created_at": "2026-11-23T12:00:00.000Z",
            "updated_at": "2026-11-23T12:00:00.000Z", "expires_at_ms": 1_796_040_000_000_u64
        });
        let item =
            hold_item(&hold_from(&HashMap::from([(DOC.to_owned(), s(hold.to_string()))])).unwrap());
        assert_eq!(doc(&item), hold);
        assert_eq!(
            item[GSI_EXPIRY_SK].as_s().unwrap(),
            "1796040000000#hld_01kb0000000000000000000003"
        );

        let wallets = serde_json::json!({
            "customer_id": CUSTOMER, "entry_count": 2,
            "wallets": {"INR": {"balance": 5, "pending_charges": 0, "entry_count": 1,
                "status": "closed", "created_at": "2026-11-23T12:00:00.000Z",
                "updated_at": "2026-11-23T12:00:01.000Z"}}
        });
        let mut item = HashMap::from([(DOC.to_owned(), s(wallets.to_string()))]);
        item.insert(VERSION.to_owned(), number(4));
        let read = wallets_from(&item).unwrap();
        assert_eq!(read.version, 4);
        let written = wallets_item(&BusinessId::parse(BUSINESS).unwrap(), &read);
        assert_eq!(doc(&written), wallets);
        assert_eq!(written[VERSION].as_n().unwrap(), "4");

        let payment = serde_json::json!({
            "invoice_id": "inv 7", "customer_id": CUSTOMER, "business_id": BUSINESS,
            "currency": "USD", "amount_due": 500, "applied": 70, "remaining": 430,
            "reversed": 20, "ledger_entry_id": "wle_01kb0000000000000000000002",
            "created_at": "2026-11-23T12:00:00.000Z", "updated_at": "2026-11-23T12:00:00.000Z"
        });
        let read: InvoicePayment = serde_json::from_value(payment.clone()).unwrap();
        assert_eq!(doc(&invoice_item(&read)), payment);

        let customer = serde_json::json!({
            "customer_id": CUSTOMER, "business_id": BUSINESS, "email": "Ada@Example.com",
            "name": "Ada", "phone_number": null, "metadata": {"plan": "pro"},
            "preferred_locale": "en", "created_at": "2026-11-23T12:00:00.000Z"
        });
        let read: Customer = serde_json::from_value(customer.clone()).unwrap();
        let item = customer_item(&read);
        assert_eq!(doc(&item), customer);
        assert_eq!(
            item[GSI_EMAIL_PK].as_s().unwrap(),
            &format!("{BUSINESS}#ada@example.com")
        );
    }

    #[test]
    fn an_idempotency_item_gives_back_the_record_it_claimed() {
        let entry: LedgerEntry = serde_json::from_value(stored_entry()).unwrap();
        let key = IdempotencyKey::parse("k-1").unwrap();
        let item = claim_item(&entry.business_id, &key, &Original::Entry(entry.clone()));
        assert_eq!(original_from(&item).unwrap(), Original::Entry(entry));
    }

    #[test]
    fn an_internal_key_and_a_callers_key_of_the_same_text_are_two_items() {
        let entry: LedgerEntry = serde_json::from_value(stored_entry()).unwrap();
        let original = Original::Entry(entry.clone());
        let callers = IdempotencyKey::parse("auto_top_up_tpa_1").unwrap();
        let internal = IdempotencyKey::internal("auto_top_up_tpa_1".into());
        let callers = claim_item(&entry.business_id, &callers, &original);
        let internal = claim_item(&entry.business_id, &internal, &original);
        assert_eq!(callers[PK], internal[PK]);
        assert_eq!(
            callers[SK].as_s().unwrap(),
            IDEM_SK,
            "as earlier versions wrote it"
        );
        assert_eq!(internal[SK].as_s().unwrap(), INTERNAL_IDEM_SK);
        assert_eq!(original_from(&internal).unwrap(), original);
    }
}
