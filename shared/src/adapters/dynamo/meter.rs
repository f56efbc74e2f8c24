//! Metering for the capacity benchmark: the capacity DynamoDB reports, and the items written in
//! transactions with their sizes. Off unless [`super::DynamoStore::metered`] turned it on; then
//! every call asks DynamoDB for its consumed capacity.

use std::sync::Mutex;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, ReturnConsumedCapacity, TransactWriteItem,
};

use super::keys::Item;
use super::table::{GSI_EMAIL_PK, GSI_EXPIRY_PK, SK};

/// Capacity DynamoDB reported, and the items written in transactions with their sizes, since the
/// last [`Meter::take`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub calls: u32,
    pub read_units: f64,
    pub write_units: f64,
    /// (item kind, size in bytes, secondary indexes it is written to), per transactional write.
    pub transaction_items: Vec<(String, usize, u32)>,
}

impl Usage {
    /// Write units billed on AWS: non-transactional writes as reported, plus transactions
    /// computed from their items.
    pub fn billed_wcu(&self) -> f64 {
        self.write_units + self.transactional_wcu() as f64
    }

    /// Write units a transaction is billed on AWS: 2 per KB (rounded up) per item and per
    /// secondary-index copy of it.
    pub fn transactional_wcu(&self) -> u64 {
        self.transaction_items
            .iter()
            .map(|(_, size, indexes)| 2 * size.div_ceil(1024) as u64 * (1 + u64::from(*indexes)))
            .sum()
    }
}

/// What a call did, as the meter counts it.
pub enum Call<'a> {
    Read(Option<&'a ConsumedCapacity>),
    Reads(&'a [ConsumedCapacity]),
    Write(Option<&'a ConsumedCapacity>),
    /// Priced from its items: DynamoDB Local under-reports transactions.
    Transaction(&'a [TransactWriteItem]),
}

#[derive(Debug, Default)]
pub struct Meter {
    usage: Mutex<Usage>,
}

impl Meter {
    /// Usage since the previous call, and resets it.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.usage.lock().expect("meter lock"))
    }

    pub fn record(&self, call: Call<'_>) {
        let units =
            |c: Option<&ConsumedCapacity>| c.and_then(|c| c.capacity_units()).unwrap_or(0.0);
        let mut usage = self.usage.lock().expect("meter lock");
        usage.calls += 1;
        match call {
            Call::Read(consumed) => usage.read_units += units(consumed),
            Call::Reads(consumed) => {
                usage.read_units += consumed.iter().map(|c| units(Some(c))).sum::<f64>()
            }
            Call::Write(consumed) => usage.write_units += units(consumed),
            Call::Transaction(items) => {
                for item in items.iter().filter_map(|t| t.put.as_ref()).map(|p| &p.item) {
                    usage.transaction_items.push((
                        item_kind(item),
                        item_size(item),
                        secondary_indexes(item),
                    ));
                }
                // An update is priced from its key: the items updated in transactions (the day
                // totals, `totals.rs`) stay far under 1 KB, so 2 WCU each.
                for key in items
                    .iter()
                    .filter_map(|t| t.update.as_ref())
                    .map(|u| &u.key)
                {
                    usage
                        .transaction_items
                        .push((item_kind(key), item_size(key), 0));
                }
            }
        }
    }
}

/// What to ask DynamoDB for: consumed capacity only when metering.
pub fn consumed_capacity(meter: Option<&Meter>) -> ReturnConsumedCapacity {
    if meter.is_some() {
        ReturnConsumedCapacity::Total
    } else {
        ReturnConsumedCapacity::None
    }
}

/// DynamoDB's item size: attribute names plus values (strings by UTF-8 length, numbers about one
/// byte per two digits plus one).
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(text) => text.len(),
                    AttributeValue::N(number) => number.len().div_ceil(2) + 1,
                    _ => 1,
                }
        })
        .sum()
}

fn item_kind(item: &Item) -> String {
    let sk = item
        .get(SK)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str);
    let kind = sk.split('#').find(|part| !part.is_empty()).unwrap_or("?");
    if crate::kernel::Currency::parse(kind).is_ok() {
        return "currency copy".to_owned(); // `<CUR>#<n>`: an entry's copy in its currency
    }
    kind.to_lowercase()
}

fn secondary_indexes(item: &Item) -> u32 {
    [GSI_EMAIL_PK, GSI_EXPIRY_PK]
        .iter()
        .map(|index_key| u32::from(item.contains_key(*index_key)))
        .sum()
}
