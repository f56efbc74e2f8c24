//! The key layout of the one table (see docs/data-model.md):
//!
//! | item            | pk                    | sk                 | other keys                        |
//! |-----------------|-----------------------|--------------------|-----------------------------------|
//! | business        | `BIZ#<business>`      | `#BUSINESS`        |                                   |
//! | API key         | `KEY#<sha256 of key>` | `#KEY`             |                                   |
//! | dashboard session | `SES#<sha256 of id>` | `#SESSION`        | `ttl` (8 h after the last use)    |
//! | dashboard form  | `FORM#<business>#<key>` | `#FORM`          | `result`, `ttl` (a day)           |
//! | customer        | `BIZ#<business>`      | `CUS#<customer>`   | `email_key` (GSI `by_email`)      |
//! | wallet set      | `CUS#<business>#<id>` | `#WALLETS`         |                                   |
//! | ledger entry    | `CUS#<business>#<id>#LED#<n / 100000>` | `LED#<n:020>` |                    |
//! | currency copy   | `CUS#<business>#<id>#<CUR>#<m / 100000>` | `<CUR>#<m:020>` | (m: position in the currency) |
//! | hold            | `CUS#<business>#<id>#HLD#<k>` | `HLD#<hold>` | pending: `exp_shard`, `exp_at` (GSI `by_expiry`) |
//! | invoice payment | `CUS#<business>#<id>#INV#<invoice>` | `INV#<invoice>` |                       |
//! | idempotency key | `IDEM#<business>#<k>` | `#IDEM`            |                                   |
//! | top-up link     | `TUL#<business>#<link>` | `TUL#<link>` | `email_key` (GSI `by_email`); active: `exp_shard`, `exp_at` (`links.rs`) |
//! | change receipt  | `CUS#<business>#<id>` | `CHG#<token>`      | `ttl` (a day)                     |
//! | internal key    | `IDEM#<business>#<k>` | `#IDEM#INTERNAL`   | (the service's own keys)          |
//!
//! Every key starts with the business id, so another business's ids find nothing. Every item of
//! a customer has a partition key that starts with the customer's (`CUS#<business>#<id>`), and no
//! partition key value holds more than [`LEDGER_CHUNK`] entries: a ledger grows by chunks, with no
//! index whose item collection has a size limit.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::table::{HOLD_EXPIRY_SHARDS, PK, SK};
use crate::kernel::{BusinessId, Currency, CustomerId, HoldId, IdempotencyKey, InvoiceId};

pub type Item = HashMap<String, AttributeValue>;

pub const WALLETS_SK: &str = "#WALLETS";
pub const IDEM_SK: &str = "#IDEM";
/// The sort key of the service's own idempotency keys (`IdempotencyKey::internal`): a caller's
/// key of the same text is another item (sort key [`IDEM_SK`]).
pub const INTERNAL_IDEM_SK: &str = "#IDEM#INTERNAL";
pub const KEY_SK: &str = "#KEY";
pub const SESSION_SK: &str = "#SESSION";
pub const FORM_SK: &str = "#FORM";
pub const BUSINESS_SK: &str = "#BUSINESS";
pub const HOLD_SK_PREFIX: &str = "HLD#";
pub const CUSTOMER_PK_PREFIX: &str = "CUS#";
pub const RECEIPT_SK_PREFIX: &str = "CHG#";

/// The sort key of a wallet-only change's receipt, in the customer's partition.
pub fn receipt_sk(token: &str) -> String {
    format!("{RECEIPT_SK_PREFIX}{token}")
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn key_of(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub fn business_pk(business_id: &BusinessId) -> String {
    format!("BIZ#{business_id}")
}

pub fn api_key_pk(key_hash: &str) -> String {
    format!("KEY#{key_hash}")
}

/// The partition of a dashboard session, by the hash of its id (never the id itself).
pub fn session_pk(id_hash: &str) -> String {
    format!("SES#{id_hash}")
}

/// The partition of a dashboard form's claim (`access::forms`).
pub fn form_pk(business_id: &BusinessId, key: &str) -> String {
    format!("FORM#{business_id}#{key}")
}

pub fn customer_sk(customer_id: &CustomerId) -> String {
    format!("CUS#{customer_id}")
}

/// The partition of a customer's wallet set, and the start of the partition keys of its ledger
/// chunks, hold chunks and invoice payments.
pub fn customer_pk(business_id: &BusinessId, customer_id: &CustomerId) -> String {
    format!("{CUSTOMER_PK_PREFIX}{business_id}#{customer_id}")
}

/// Entries per ledger chunk: positions `k * LEDGER_CHUNK ..= (k + 1) * LEDGER_CHUNK - 1` share
/// chunk `k`'s partition key (the first chunk starts at position 1). Typically under 1 KB each
/// (6 KB at worst), a chunk stays under 100 MB (600 MB); a page of at most 100 entries spans at
/// most two chunks.
pub const LEDGER_CHUNK: u64 = 100_000;

/// The chunk of the ledger that holds `position`.
pub fn chunk_of(position: u64) -> u64 {
    position / LEDGER_CHUNK
}

/// The partition of the customer's entries in `chunk`.
pub fn entry_pk(business_id: &BusinessId, customer_id: &CustomerId, chunk: u64) -> String {
    format!("{}#LED#{chunk}", customer_pk(business_id, customer_id))
}

/// The partition of the copies of the customer's `currency` entries in `chunk` (of positions in
/// that currency).
pub fn currency_pk(
    business_id: &BusinessId,
    customer_id: &CustomerId,
    currency: Currency,
    chunk: u64,
) -> String {
    format!(
        "{}#{currency}#{chunk}",
        customer_pk(business_id, customer_id)
    )
}

/// The partition of the customer's holds in `chunk` (see `holds::model::HOLD_CHUNK`).
pub fn hold_pk(business_id: &BusinessId, customer_id: &CustomerId, chunk: u64) -> String {
    format!("{}#HLD#{chunk}", customer_pk(business_id, customer_id))
}

/// The partition of one invoice payment: its own, so a customer's invoices never pile up in one.
pub fn invoice_pk(
    business_id: &BusinessId,
    customer_id: &CustomerId,
    invoice_id: &InvoiceId,
) -> String {
    format!("{}#INV#{invoice_id}", customer_pk(business_id, customer_id))
}

/// The business and customer of a customer's item, from its partition key.
pub fn customer_of_pk(pk: &str) -> Option<(&str, &str)> {
    let mut parts = pk.strip_prefix(CUSTOMER_PK_PREFIX)?.splitn(3, '#');
    Some((parts.next()?, parts.next()?))
}

pub fn entry_sk(position: u64) -> String {
    format!("LED#{position:020}")
}

pub fn currency_sk(currency: Currency, position: u64) -> String {
    format!("{currency}#{position:020}")
}

pub fn idem_pk(business_id: &BusinessId, key: &IdempotencyKey) -> String {
    format!("IDEM#{business_id}#{}", key.as_str())
}

/// The key of the item that claims `key`: a caller's and an internal key of the same text are
/// two items.
pub fn idem_key(business_id: &BusinessId, key: &IdempotencyKey) -> Item {
    let sk = if key.is_internal() {
        INTERNAL_IDEM_SK
    } else {
        IDEM_SK
    };
    key_of(idem_pk(business_id, key), sk)
}

pub fn email_key(business_id: &BusinessId, email: &str) -> String {
    format!("{business_id}#{}", email.to_lowercase())
}

pub fn hold_sk(hold_id: &HoldId) -> String {
    format!("{HOLD_SK_PREFIX}{hold_id}")
}

/// The sort-key prefix of invoice payments.
pub const INVOICE_SK_PREFIX: &str = "INV#";

pub fn invoice_sk(invoice_id: &InvoiceId) -> String {
    format!("{INVOICE_SK_PREFIX}{invoice_id}")
}

pub fn expiry_shard(shard: u32) -> String {
    format!("EXP#{shard}")
}

/// The expiry-index shard of a hold, picked by its id.
pub fn expiry_shard_of(hold_id: &HoldId) -> String {
    expiry_shard(hold_id.as_str().bytes().map(u32::from).sum::<u32>() % HOLD_EXPIRY_SHARDS)
}

/// Partitions of the top-up part of the `by_expiry` index (`TOP#<n>`).
pub const TOP_UP_SHARDS: u32 = 8;
pub const TOP_UP_SHARD_PREFIX: &str = "TOP#";

/// The top-up-index shard of a customer's wallet set, picked by the customer id.
pub fn top_up_shard_of(customer_id: &CustomerId) -> String {
    let shard = customer_id.as_str().bytes().map(u32::from).sum::<u32>() % TOP_UP_SHARDS;
    format!("{TOP_UP_SHARD_PREFIX}{shard}")
}

/// The expiry-index sort key: every expiry at or before a millisecond sorts before the next one.
pub fn expiry_sk(expires_at_ms: u64, hold_id: &HoldId) -> String {
    format!("{expires_at_ms:013}#{hold_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_at_most_ledger_chunk_positions_and_every_customer_key_names_its_customer() {
        assert_eq!(chunk_of(1), 0);
        assert_eq!(chunk_of(LEDGER_CHUNK - 1), 0);
        assert_eq!(chunk_of(LEDGER_CHUNK), 1);
        assert_eq!(chunk_of(2 * LEDGER_CHUNK - 1), 1);
        let (b, c) = (BusinessId::generate(), CustomerId::generate());
        let invoice = InvoiceId::parse("inv#7").unwrap();
        for pk in [
            customer_pk(&b, &c),
            entry_pk(&b, &c, 3),
            currency_pk(&b, &c, Currency::USD, 0),
            invoice_pk(&b, &c, &invoice),
            hold_pk(&b, &c, 2),
        ] {
            assert_eq!(customer_of_pk(&pk), Some((b.as_str(), c.as_str())), "{pk}");
        }
        assert_eq!(customer_of_pk(&business_pk(&b)), None);
    }
}
