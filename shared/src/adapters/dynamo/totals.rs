//! The day totals the stream keeps (`reports`), in their own partitions:
//!
//! | item | pk | sk | other |
//! | --- | --- | --- | --- |
//! | a customer's marker | `TOT#<business>#<customer>` | `#ADDED` | `ver`: the wallet-set version last added |
//! | a day's totals | `TOT#<business>#<CUR>` | `DAY#<YYYY-MM-DD>` | `bal`, `wal` (changes of the liability and of open wallets), `c_<event type>`, `d_<event type>` (credits, debits) |
//!
//! A change is added by one transaction of `UpdateItem`s: the marker, condition "no version at
//! or after this one was added" (so a stream record given again adds nothing), and an `ADD` to
//! each of its days. Both live under `TOT#`, so the dispatcher's `UpdateItem` reaches nothing
//! else (`permissions.rs`).

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::codec::{corrupt, number, text, VERSION};
use super::keys::{key_of, s, Item};
use super::table::{PK, SK};
use super::DynamoStore;
use crate::error::{DomainError, DomainResult};
use crate::kernel::wait::jittered;
use crate::kernel::{BusinessId, Currency, CustomerId};
use crate::ledger::model::EventType;
use crate::reports::model::{Day, DayMovement, DayTotals, Movement};

/// The prefix of every totals partition.
pub const TOTALS_PK_PREFIX: &str = "TOT#";
const MARKER_SK: &str = "#ADDED";
const DAY_SK_PREFIX: &str = "DAY#";
pub const BALANCE_CHANGE: &str = "bal";
pub const WALLETS_CHANGE: &str = "wal";
/// Each event type with its credit and debit attributes.
const EVENT_ATTRIBUTES: [(EventType, &str, &str); 7] = [
    (EventType::Payment, "c_payment", "d_payment"),
    (
        EventType::PaymentReversal,
        "c_payment_reversal",
        "d_payment_reversal",
    ),
    (EventType::Refund, "c_refund", "d_refund"),
    (
        EventType::RefundReversal,
        "c_refund_reversal",
        "d_refund_reversal",
    ),
    (EventType::Dispute, "c_dispute", "d_dispute"),
    (
        EventType::DisputeReversal,
        "c_dispute_reversal",
        "d_dispute_reversal",
    ),
    (
        EventType::MerchantAdjustment,
        "c_merchant_adjustment",
        "d_merchant_adjustment",
    ),
];
/// Every attribute an update of the totals names (IAM's `dynamodb:Attributes`).
pub const TOTALS_ATTRIBUTES: &[&str] = &[
    PK,
    SK,
    VERSION,
    BALANCE_CHANGE,
    WALLETS_CHANGE,
    "c_payment",
    "d_payment",
    "c_payment_reversal",
    "d_payment_reversal",
    "c_refund",
    "d_refund",
    "c_refund_reversal",
    "d_refund_reversal",
    "c_dispute",
    "d_dispute",
    "c_dispute_reversal",
    "d_dispute_reversal",
    "c_merchant_adjustment",
    "d_merchant_adjustment",
];
/// Attempts of one change's transaction when another transaction holds its day item.
const CONFLICT_TRIES: u32 = 20;

fn marker_pk(business_id: &BusinessId, customer_id: &CustomerId) -> String {
    format!("{TOTALS_PK_PREFIX}{business_id}#{customer_id}")
}

fn day_pk(business_id: &BusinessId, currency: Currency) -> String {
    format!("{TOTALS_PK_PREFIX}{business_id}#{currency}")
}

fn attributes(kind: EventType) -> (&'static str, &'static str) {
    let (_, credit, debit) = EVENT_ATTRIBUTES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .expect("every event type has attributes");
    (credit, debit)
}

fn update(
    key: Item,
    expression: String,
    condition: Option<&str>,
    values: Vec<(String, AttributeValue)>,
    table: &str,
) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values(Some(values.into_iter().collect()))
        .build()
        .expect("update has table, key, expression");
    TransactWriteItem::builder().update(update).build()
}

/// `ADD` of one day's movement (only the attributes it changes).
fn day_update(
    table: &str,
    business_id: &BusinessId,
    currency: Currency,
    day: &Day,
    change: &DayMovement,
) -> TransactWriteItem {
    let mut adds = vec![
        (BALANCE_CHANGE.to_owned(), change.balance_change),
        (WALLETS_CHANGE.to_owned(), change.wallets_change),
    ];
    for (kind, amount) in &change.credits {
        adds.push((attributes(*kind).0.to_owned(), *amount));
    }
    for (kind, amount) in &change.debits {
        adds.push((attributes(*kind).1.to_owned(), *amount));
    }
    let expression = adds
        .iter()
        .enumerate()
        .map(|(at, (name, _))| format!("{name} :a{at}"))
        .collect::<Vec<_>>()
        .join(", ");
    let values = adds
        .iter()
        .enumerate()
        .map(|(at, (_, amount))| (format!(":a{at}"), number(amount)))
        .collect();
    let key = key_of(
        day_pk(business_id, currency),
        &format!("{DAY_SK_PREFIX}{day}"),
    );
    update(key, format!("ADD {expression}"), None, values, table)
}

fn read_number(item: &Item, name: &str) -> DomainResult<i64> {
    match item.get(name) {
        None => Ok(0),
        Some(value) => value
            .as_n()
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| corrupt(format!("day totals {name}"))),
    }
}

fn day_totals_from(item: &Item) -> DomainResult<DayTotals> {
    let day = text(item, SK)?
        .strip_prefix(DAY_SK_PREFIX)
        .ok_or_else(|| corrupt("day totals key"))?
        .to_owned();
    let mut movement = DayMovement {
        balance_change: read_number(item, BALANCE_CHANGE)?,
        wallets_change: read_number(item, WALLETS_CHANGE)?,
        ..DayMovement::default()
    };
    for (kind, credit, debit) in EVENT_ATTRIBUTES {
        for (name, side) in [
            (credit, &mut movement.credits),
            (debit, &mut movement.debits),
        ] {
            let amount = read_number(item, name)?;
            if amount != 0 {
                side.insert(kind, amount);
            }
        }
    }
    Ok(DayTotals { day, movement })
}

impl DynamoStore {
    /// [`TotalsStore::apply_movement`](crate::ports::TotalsStore::apply_movement).
    pub(super) async fn add_movement(&self, movement: &Movement) -> DomainResult<bool> {
        let (business_id, customer_id) = (&movement.business_id, &movement.customer_id);
        let mut items = vec![update(
            key_of(marker_pk(business_id, customer_id), MARKER_SK),
            format!("SET {VERSION} = :v"),
            // A record is added once: none of this customer's at or after it was added.
            Some(&format!(
                "attribute_not_exists({VERSION}) OR {VERSION} < :v"
            )),
            vec![(":v".into(), number(movement.version))],
            &self.table,
        )];
        for ((currency, day), change) in &movement.days {
            items.push(day_update(&self.table, business_id, *currency, day, change));
        }
        for _ in 0..CONFLICT_TRIES {
            match self
                .transact_items(items.clone(), "add to the day totals")
                .await?
            {
                None => return Ok(true),
                Some(rejected) if rejected.failed.contains(&0) => return Ok(false),
                // Another change's transaction held a day item: try again.
                Some(_) => jittered(Duration::from_millis(50)).await,
            }
        }
        Err(DomainError::Contention)
    }

    /// [`TotalsStore::day_totals`](crate::ports::TotalsStore::day_totals).
    pub(super) async fn query_day_totals(
        &self,
        business_id: &BusinessId,
        currency: Currency,
        to: &Day,
    ) -> DomainResult<Vec<DayTotals>> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(day_pk(business_id, currency)))
            .expression_attribute_values(":first", s(DAY_SK_PREFIX))
            .expression_attribute_values(":last", s(format!("{DAY_SK_PREFIX}{to}")))
            .consistent_read(true);
        self.query_all(request, "read the day totals")
            .await?
            .iter()
            .map(day_totals_from)
            .collect()
    }
}
