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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kernel::wait::{jittered, locked};
use crate::kernel::{BusinessId, CustomerId};
use crate::ledger::model::CustomerWallets;

/// How long a hint is used. Long enough for a burst on one wallet, short enough that a wallet
/// other instances write is read, not guessed (a guess that fails costs a refused transaction).
pub const OWN_HINT_FRESH: Duration = Duration::from_secs(1);
/// Hints and lanes kept at most before the idle ones are dropped.
const ENTRIES_MAX: usize = 4_096;

type Customer = (BusinessId, CustomerId);

/// The contention window's floor and ceiling: after a refused write of a customer's wallets,
/// this process waits a random time up to its window for that customer; the window doubles on
/// every refusal and halves on every landed write, so writers that keep colliding spread out
/// until their attempts fit the store's pace, and shrink back when the wallet calms down.
pub const WINDOW_MIN: Duration = Duration::from_millis(2);
pub const WINDOW_MAX: Duration = Duration::from_millis(200);

#[derive(Debug, Default)]
pub struct WalletHints {
    seen: Mutex<HashMap<Customer, (CustomerWallets, Instant)>>,
    lanes: Mutex<HashMap<Customer, Arc<tokio::sync::Mutex<()>>>>,
    /// Contention window per customer, in microseconds (absent: none).
    windows: Mutex<HashMap<Customer, u64>>,
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

    /// After a refused write of the customer's wallets: widens the customer's window and waits a
    /// random time within it.
    pub async fn contended(&self, business_id: &BusinessId, customer_id: &CustomerId) {
        let window_us = {
            let mut windows = locked(&self.windows);
            if windows.len() >= ENTRIES_MAX {
                windows.clear();
            }
            let window = windows
                .entry((business_id.clone(), customer_id.clone()))
                .or_insert(0);
            *window =
                (*window * 2).clamp(WINDOW_MIN.as_micros() as u64, WINDOW_MAX.as_micros() as u64);
            *window
        };
        jittered(Duration::from_micros(window_us)).await;
    }

    /// After a landed write of the customer's wallets: halves the customer's window.
    pub fn landed(&self, business_id: &BusinessId, customer_id: &CustomerId) {
        let mut windows = locked(&self.windows);
        let customer = (business_id.clone(), customer_id.clone());
        if let Some(window) = windows.get_mut(&customer) {
            *window /= 2;
            if *window < WINDOW_MIN.as_micros() as u64 {
                windows.remove(&customer);
            }
        }
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

    #[tokio::test(start_paused = true)]
    async fn the_contention_window_doubles_on_refusals_and_halves_on_landings() {
        let hints = WalletHints::default();
        let (b, c) = (BusinessId::generate(), CustomerId::generate());
        let window =
            |hints: &WalletHints| locked(&hints.windows).get(&(b.clone(), c.clone())).copied();
        hints.landed(&b, &c);
        assert_eq!(window(&hints), None, "no contention, no window");
        for expected in [2_000, 4_000, 8_000] {
            hints.contended(&b, &c).await;
            assert_eq!(window(&hints), Some(expected));
        }
        for _ in 0..20 {
            hints.contended(&b, &c).await;
        }
        assert_eq!(window(&hints), Some(WINDOW_MAX.as_micros() as u64));
        hints.landed(&b, &c);
        assert_eq!(window(&hints), Some(WINDOW_MAX.as_micros() as u64 / 2));
        for _ in 0..10 {
            hints.landed(&b, &c);
        }
        assert_eq!(window(&hints), None, "calm again");
        assert_eq!(
            locked(&hints.windows).get(&(b.clone(), CustomerId::generate())),
            None
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
