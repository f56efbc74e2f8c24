//! What this process last saw of customers' wallets, so that a write need not read them first;
//! and one lane per customer, so that this process's own requests for one customer take turns
//! instead of racing each other.
//!
//! A hint is a guess, never a source of truth: every write of the wallets is conditional on the
//! version it was planned from, so a stale hint costs one refused transaction, whose refusal
//! answers the stored wallets (`Rejection::wallets_now`) for the next attempt. A plan that the
//! rules refuse on a hint is planned again from a consistent read (a stale balance must never
//! refuse a debit). Hints come from this process's own commits (trusted [`OWN_HINT_FRESH`]) and
//! from refusals (the store's answer, trusted the same).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::kernel::{BusinessId, CustomerId};
use crate::ledger::model::CustomerWallets;

/// How long a hint is used. Long enough for a burst on one wallet, short enough that a wallet
/// other instances write is read, not guessed (a guess that fails costs a refused transaction).
pub const OWN_HINT_FRESH: Duration = Duration::from_secs(1);
/// Hints and lanes kept at most before the idle ones are dropped.
const ENTRIES_MAX: usize = 4_096;

type Customer = (BusinessId, CustomerId);

#[derive(Debug, Default)]
pub struct WalletHints {
    seen: Mutex<HashMap<Customer, (CustomerWallets, Instant)>>,
    lanes: Mutex<HashMap<Customer, Arc<tokio::sync::Mutex<()>>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves a map that is still valid.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl WalletHints {
    /// Keeps `wallets` as the latest known state of their customer, unless a later version is
    /// known already.
    pub fn keep(&self, business_id: &BusinessId, wallets: &CustomerWallets) {
        let mut seen = locked(&self.seen);
        if seen.len() >= ENTRIES_MAX {
            seen.retain(|_, (_, at)| at.elapsed() < OWN_HINT_FRESH);
        }
        let customer = (business_id.clone(), wallets.customer_id.clone());
        match seen.get(&customer) {
            Some((known, at))
                if known.version > wallets.version && at.elapsed() < OWN_HINT_FRESH => {}
            _ => {
                seen.insert(customer, (wallets.clone(), Instant::now()));
            }
        }
    }

    /// The customer's wallets as last seen, if seen lately.
    pub fn get(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> Option<CustomerWallets> {
        let seen = locked(&self.seen);
        let (wallets, at) = seen.get(&(business_id.clone(), customer_id.clone()))?;
        (at.elapsed() < OWN_HINT_FRESH).then(|| wallets.clone())
    }

    /// Waits for this process's turn on the customer's wallets; the turn lasts while the guard
    /// lives.
    pub async fn lane(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        let lane = {
            let mut lanes = locked(&self.lanes);
            if lanes.len() >= ENTRIES_MAX {
                lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
            }
            lanes
                .entry((business_id.clone(), customer_id.clone()))
                .or_default()
                .clone()
        };
        lane.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Currency, Timestamp};

    fn wallets(customer_id: &CustomerId, version: u64) -> CustomerWallets {
        let mut wallets = CustomerWallets::open(
            customer_id.clone(),
            &[Currency::USD],
            Timestamp::from_unix_ms(0),
        );
        wallets.version = version;
        wallets
    }

    #[test]
    fn the_latest_version_seen_is_the_hint() {
        let hints = WalletHints::default();
        let (b, c) = (BusinessId::generate(), CustomerId::generate());
        assert!(hints.get(&b, &c).is_none());
        hints.keep(&b, &wallets(&c, 3));
        hints.keep(&b, &wallets(&c, 2));
        assert_eq!(hints.get(&b, &c).unwrap().version, 3);
        hints.keep(&b, &wallets(&c, 4));
        assert_eq!(hints.get(&b, &c).unwrap().version, 4);
        assert!(
            hints.get(&BusinessId::generate(), &c).is_none(),
            "another business's key never finds it"
        );
    }

    #[tokio::test]
    async fn a_customer_lane_lets_one_request_in_at_a_time() {
        let hints = Arc::new(WalletHints::default());
        let (b, c) = (BusinessId::generate(), CustomerId::generate());
        let first = hints.lane(&b, &c).await;
        let waiting = {
            let (hints, b, c) = (hints.clone(), b.clone(), c.clone());
            tokio::spawn(async move { drop(hints.lane(&b, &c).await) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second waits for the first");
        let other = hints.lane(&b, &CustomerId::generate()).await;
        drop(other);
        drop(first);
        waiting.await.unwrap();
    }
}
