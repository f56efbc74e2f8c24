//! Day totals: what one business's wallets of one currency moved on one UTC day, and the change
//! of its liability (the sum of the balances) and of its number of open wallets that day.

use std::collections::BTreeMap;

use crate::kernel::{BusinessId, Currency, CustomerId};
use crate::ledger::model::EventType;

/// A UTC day, `YYYY-MM-DD` (sorts as text in date order).
pub type Day = String;

/// Money moved in one direction, per entry event type (minor units).
pub type ByEventType = BTreeMap<EventType, i64>;

/// What changed on one day in one currency of one business: added into its totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayMovement {
    /// Credits per event type.
    pub credits: ByEventType,
    /// Debits per event type.
    pub debits: ByEventType,
    /// Change of the sum of the balances (the business's liability in this currency).
    pub balance_change: i64,
    /// Change of the number of open wallets.
    pub wallets_change: i64,
}

impl DayMovement {
    pub fn is_empty(&self) -> bool {
        *self == DayMovement::default()
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &DayMovement) {
        for (kind, amount) in &other.credits {
            *self.credits.entry(*kind).or_default() += amount;
        }
        for (kind, amount) in &other.debits {
            *self.debits.entry(*kind).or_default() += amount;
        }
        self.balance_change += other.balance_change;
        self.wallets_change += other.wallets_change;
    }
}

/// One committed change of a customer's wallet set, as the totals count it: applied once per
/// (business, customer, version), the version being the wallet set's after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    /// The wallet set's version after the change: the totals' marker for this customer.
    pub version: u64,
    /// What the change added, per (currency, day); only non-empty ones.
    pub days: BTreeMap<(Currency, Day), DayMovement>,
}

/// The stored totals of one day (what [`DayMovement`]s added up to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    pub day: Day,
    pub movement: DayMovement,
}

/// One day of a liability report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiabilityDay {
    pub day: Day,
    pub credits: i64,
    pub debits: i64,
    pub credits_by_event_type: ByEventType,
    pub debits_by_event_type: ByEventType,
    /// The sum of the balances at the end of the day.
    pub closing_balance: i64,
    /// Open wallets at the end of the day.
    pub wallets: i64,
}

/// The longest period one report covers, in days.
pub const REPORT_DAYS_MAX: i64 = 366;
