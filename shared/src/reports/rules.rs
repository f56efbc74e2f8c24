//! How one committed change of a customer's wallet set moves the day totals, and how stored day
//! totals make a report. Pure.

use time::macros::format_description;
use time::Date;

use super::model::{Day, DayMovement, DayTotals, LiabilityDay, Movement, REPORT_DAYS_MAX};
use crate::kernel::{BusinessId, Currency, Timestamp, ValidationError};
use crate::ledger::model::{CustomerWallets, LedgerEntry, Wallet, WalletStatus};

/// The UTC day of an instant.
pub fn day_of(at: Timestamp) -> Day {
    at.rfc3339()[..10].to_owned()
}

fn open(wallet: Option<&Wallet>) -> i64 {
    i64::from(wallet.is_some_and(|w| w.status == WalletStatus::Active))
}

/// The customer positions of the entries a change from `old` to `new` wrote: `None` when it wrote
/// none, or when there is no old image (a new wallet set has no entries; a set an upgrade copied
/// brings its balance, not its past volume).
pub fn entries_written(old: Option<&CustomerWallets>, new: &CustomerWallets) -> Option<(u64, u64)> {
    let old = old?;
    (new.entry_count > old.entry_count).then_some((old.entry_count + 1, new.entry_count))
}

/// What the change from `old` (`None`: the set is new) to `new` adds into the totals: each
/// currency's balance and open-wallet change on the day of its wallet's `updated_at`, and each
/// entry it wrote (`entries`) on the day it was written. The liability comes from the images
/// alone, so it is exact whatever the entries say; [`entries_disagree`] checks them.
pub fn movement_of(
    business_id: &BusinessId,
    old: Option<&CustomerWallets>,
    new: &CustomerWallets,
    entries: &[LedgerEntry],
) -> Movement {
    let mut movement = Movement {
        business_id: business_id.clone(),
        customer_id: new.customer_id.clone(),
        version: new.version,
        days: Default::default(),
    };
    for (currency, wallet) in &new.wallets {
        let was = old.and_then(|o| o.wallets.get(currency));
        let change = DayMovement {
            balance_change: wallet.balance - was.map_or(0, |w| w.balance),
            wallets_change: open(Some(wallet)) - open(was),
            ..DayMovement::default()
        };
        if !change.is_empty() {
            let key = (*currency, day_of(wallet.updated_at));
            movement.days.entry(key).or_default().add(&change);
        }
    }
    for entry in entries {
        let mut change = DayMovement::default();
        let side = if entry.is_credit {
            &mut change.credits
        } else {
            &mut change.debits
        };
        side.insert(entry.event_type, entry.amount);
        let key = (entry.currency, day_of(entry.created_at));
        movement.days.entry(key).or_default().add(&change);
    }
    movement
}

/// The currencies whose entries do not add up to their balance change (an invariant: every
/// balance change is an entry in the same transaction).
pub fn entries_disagree(
    old: Option<&CustomerWallets>,
    new: &CustomerWallets,
    entries: &[LedgerEntry],
) -> Vec<Currency> {
    let Some(old) = old else {
        return Vec::new();
    };
    new.wallets
        .iter()
        .filter(|(currency, wallet)| {
            let was = old.wallets.get(currency).map_or(0, |w| w.balance);
            let signed: i64 = entries
                .iter()
                .filter(|e| e.currency == **currency)
                .map(|e| if e.is_credit { e.amount } else { -e.amount })
                .sum();
            signed != wallet.balance - was
        })
        .map(|(currency, _)| *currency)
        .collect()
}

/// A `YYYY-MM-DD` date of the query.
pub fn parse_day(field: &str, raw: &str) -> Result<Date, ValidationError> {
    Date::parse(raw, format_description!("[year]-[month]-[day]")).map_err(|_| {
        ValidationError::new(
            "invalid_date",
            format!("`{field}` must be a date, YYYY-MM-DD; got `{raw}`"),
        )
    })
}

/// Checks a report's period: `from` at or before `to`, at most [`REPORT_DAYS_MAX`] days.
pub fn check_period(from: Date, to: Date) -> Result<(), ValidationError> {
    if from > to {
        return Err(ValidationError::new(
            "invalid_period",
            "`from` must be on or before `to`",
        ));
    }
    if (to - from).whole_days() >= REPORT_DAYS_MAX {
        return Err(ValidationError::new(
            "invalid_period",
            format!("a report covers at most {REPORT_DAYS_MAX} days"),
        ));
    }
    Ok(())
}

/// `date` as a [`Day`].
pub fn day(date: Date) -> Day {
    let format = format_description!("[year]-[month]-[day]");
    date.format(&format).expect("dates format")
}

/// The report of every day from `from` to `to`, from every stored day up to `to`, oldest
/// first: each day's movement, and the liability and open wallets that all days up to it add up
/// to (days without a change carry the day before's).
pub fn report(stored: &[DayTotals], from: Date, to: Date) -> Vec<LiabilityDay> {
    let mut closing_balance = 0;
    let mut wallets = 0;
    let mut stored = stored.iter().peekable();
    let mut days = Vec::new();
    let mut date = from;
    let first = day(from);
    while let Some(before) = stored.next_if(|t| t.day < first) {
        closing_balance += before.movement.balance_change;
        wallets += before.movement.wallets_change;
    }
    loop {
        let today = day(date);
        let moved = stored
            .next_if(|t| t.day == today)
            .map(|t| t.movement.clone())
            .unwrap_or_default();
        closing_balance += moved.balance_change;
        wallets += moved.wallets_change;
        days.push(LiabilityDay {
            day: today,
            credits: moved.credits.values().sum(),
            debits: moved.debits.values().sum(),
            credits_by_event_type: moved.credits,
            debits_by_event_type: moved.debits,
            closing_balance,
            wallets,
        });
        if date >= to {
            break;
        }
        date = date.next_day().expect("dates before 9999");
    }
    days
}
