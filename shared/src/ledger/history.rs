//! The ledger through time: where a currency's ledger stood at an instant, found by bisection
//! over its positions (O(log n) reads, never a walk), and the wallets at an instant (`as_of`).
//!
//! An entry's `created_at` is its writer's clock when it planned the change. A change plans only
//! after the change before it committed (a write is conditional on the version it read), so
//! along a ledger's positions `created_at` does not decrease, save for the clock difference of
//! two instances (milliseconds). The cut at an instant is therefore the position of the last
//! entry written before it: its after balance is a balance the wallet really had, and two
//! cuts at the same instant agree, so statements of consecutive periods chain exactly.

use super::model::{LedgerEntry, Wallet};
use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, Currency, CustomerId, Timestamp, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// Where one currency's ledger stood at an instant: the entries written before it, and the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// Entries of the currency written before the instant (the last one's position).
    pub position: u64,
    /// The balance there: the last entry's after balance, 0 before the first.
    pub balance: i64,
    /// The last entry, when it was read (a cut read back from a statement's cursor has none).
    pub last: Option<LedgerEntry>,
}

impl Cut {
    /// Before the first entry.
    pub const START: Cut = Cut {
        position: 0,
        balance: 0,
        last: None,
    };

    /// Just after `entry`.
    pub fn after(entry: LedgerEntry) -> Cut {
        Cut {
            position: entry.currency_seq,
            balance: entry.after_balance,
            last: Some(entry),
        }
    }
}

/// One currency's wallet at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletAt {
    pub currency: Currency,
    pub balance: i64,
    /// The pending charges right after the last entry at or before the instant (0 before the
    /// first entry: a hold needs a balance, so none can be pending then). `None` when that entry
    /// was written before entries kept them. Holds placed, released or expired between that
    /// entry and the instant are not in it (see docs/api.md, "Balances at an instant").
    pub pending_charges: Option<i64>,
    /// The last entry at or before the instant; `None` before the first.
    pub last_entry: Option<LedgerEntry>,
}

impl WalletAt {
    /// Balance less pending charges, when they are known.
    pub fn available_balance(&self) -> Option<i64> {
        self.pending_charges.map(|pending| self.balance - pending)
    }
}

/// A customer's wallets at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletsAt {
    pub customer_id: CustomerId,
    pub as_of: Timestamp,
    pub wallets: Vec<WalletAt>,
    /// The balances' sum in USD, at today's rates.
    pub total_balance_usd: i64,
}

/// Refuses an instant after `now`: the ledger cannot say yet what it will hold.
pub fn require_past(field: &str, at: Timestamp, now: Timestamp) -> Result<(), ValidationError> {
    if at > now {
        return Err(ValidationError::new(
            "timestamp_in_future",
            format!("`{field}` must not be after now ({now}); got {at}"),
        ));
    }
    Ok(())
}

/// Checks a paged period query (a statement's, an export's): `from` before `to`, `to` not after
/// now, `page_size` within `1..=page_max`, and a cursor (its `from_ms`, `to_ms`) of this same
/// period.
pub fn check_period_query(
    (from, to): (Timestamp, Timestamp),
    page_size: u64,
    page_max: u64,
    cursor_period: Option<(u64, u64)>,
    now: Timestamp,
) -> Result<(), ValidationError> {
    if from >= to {
        return Err(ValidationError::new(
            "invalid_period",
            format!("`from` ({from}) must be before `to` ({to})"),
        ));
    }
    require_past("to", to, now)?;
    if !(1..=page_max).contains(&page_size) {
        return Err(ValidationError::new(
            "invalid_page_size",
            format!("`page_size` must be between 1 and {page_max}"),
        ));
    }
    if cursor_period.is_some_and(|period| period != (from.unix_ms, to.unix_ms)) {
        return Err(ValidationError::new(
            "invalid_cursor",
            "`cursor` belongs to another period: send the same `from` and `to` with it",
        ));
    }
    Ok(())
}

impl<S: Store, C: Clock> Service<S, C> {
    /// The entry at `position` of `currency`'s ledger (the customer's, for `None`), which the
    /// wallets' count says exists.
    async fn entry_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Option<Currency>,
        position: u64,
    ) -> DomainResult<LedgerEntry> {
        self.store()
            .get_entry(business_id, customer_id, currency, position)
            .await?
            .map(|found| found.entry)
            .ok_or_else(|| {
                let ledger = currency.map_or("customer".to_owned(), |c| c.to_string());
                DomainError::Storage(format!(
                    "ledger gap: {ledger} entry {position} of {customer_id} is missing"
                ))
            })
    }

    /// Where `currency`'s ledger of `count` entries stood just before `before`: the entries
    /// written before it. With `currency` `None`, the customer's whole ledger (positions are
    /// `customer_seq`, and the cut's balance is only its last entry's currency's). `floor` is a
    /// cut known to be at or before the answer. Reads the newest
    /// entry first (an instant after it costs that one read), then the oldest after `floor` (an
    /// instant before it costs two), then bisects: at most 2 + ceil(log2(count - floor))
    /// `GetItem`s.
    pub(crate) async fn cut_before(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        (currency, count): (Option<Currency>, u64),
        before: Timestamp,
        floor: Cut,
    ) -> DomainResult<Cut> {
        let after = |entry: LedgerEntry| match currency {
            Some(_) => Cut::after(entry),
            None => Cut {
                position: entry.customer_seq,
                ..Cut::after(entry)
            },
        };
        let (mut low, mut high) = (floor, count);
        if high <= low.position {
            return Ok(low);
        }
        let newest = self
            .entry_at(business_id, customer_id, currency, high)
            .await?;
        if newest.created_at < before {
            return Ok(after(newest));
        }
        high -= 1;
        if low.position < high {
            // An instant before the range (a statement from the start, an instant before the
            // first entry) costs one more read, not a bisection.
            let first = self
                .entry_at(business_id, customer_id, currency, low.position + 1)
                .await?;
            if first.created_at >= before {
                return Ok(low);
            }
            low = after(first);
        }
        while low.position < high {
            let middle = low.position + (high - low.position).div_ceil(2);
            let entry = self
                .entry_at(business_id, customer_id, currency, middle)
                .await?;
            if entry.created_at < before {
                low = after(entry);
            } else {
                high = middle - 1;
            }
        }
        Ok(low)
    }

    /// One wallet at `at`: its ledger's cut just after `at`, and the pending charges the entry
    /// there left (one more `GetItem`, of the entry in the customer's ledger).
    async fn wallet_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        (currency, wallet): (Currency, &Wallet),
        at: Timestamp,
    ) -> DomainResult<WalletAt> {
        let before = Timestamp::from_unix_ms(at.unix_ms + 1);
        let cut = if wallet.created_at > at {
            Cut::START
        } else {
            let count = (Some(currency), wallet.entry_count);
            self.cut_before(business_id, customer_id, count, before, Cut::START)
                .await?
        };
        let pending_charges = match &cut.last {
            None => Some(0),
            Some(entry) => self
                .store()
                .get_entry(business_id, customer_id, None, entry.customer_seq)
                .await?
                .and_then(|found| found.pending_after),
        };
        Ok(WalletAt {
            currency,
            balance: cut.balance,
            pending_charges,
            last_entry: cut.last,
        })
    }

    /// The customer's wallets as they stood at `at` (at or before now), from the ledger: per
    /// currency one wallet read and O(log n) entry reads. A wallet made after `at` shows 0.
    pub async fn wallets_at(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> DomainResult<WalletsAt> {
        require_past("as_of", at, self.now())?;
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let mut found = Vec::with_capacity(wallets.wallets.len());
        for (currency, wallet) in &wallets.wallets {
            found.push(
                self.wallet_at(&tenant.business_id, customer_id, (*currency, wallet), at)
                    .await?,
            );
        }
        let total_balance_usd = self
            .config()
            .rates
            .total_usd_cents(found.iter().map(|w| (w.currency, w.balance)));
        Ok(WalletsAt {
            customer_id: customer_id.clone(),
            as_of: at,
            wallets: found,
            total_balance_usd,
        })
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
