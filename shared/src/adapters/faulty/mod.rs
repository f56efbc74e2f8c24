//! A store that fails the way DynamoDB does, on purpose: a wrapper of any adapter that, driven by
//! a seed, injects transaction conflicts, throttling and internal errors (as they reach the port:
//! after the SDK's own retries), latency, stalls (a call that takes its whole time budget and
//! then fails), and the ambiguous case: the commit lands, then the caller sees a failure.
//! The simulation test runs every operation over it; see `tests/tests/simulation.rs`.

mod keys;
mod links;
mod payins;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::change::model::{Change, Rejection};
use crate::customers::model::{Customer, CustomerQuery, CustomerRevision};
use crate::error::{DomainError, DomainResult, Original};
use crate::holds::model::{Hold, HoldQuery, HoldRef};
use crate::invoices::model::InvoicePayment;
use crate::kernel::Currency;
use crate::kernel::{
    BusinessId, CustomerId, EndpointId, EventId, HoldId, IdempotencyKey, InvoiceId,
};
use crate::ledger::model::{CustomerWallets, EntryAt, EntryRange, LedgerEntry};
use crate::ports::{
    CustomerStore, HoldStore, InvoiceStore, LedgerStore, WalletStore, WebhookStore,
};
use crate::webhooks::model::{Attempt, Delivery, DeliveryQuery, DeliveryRef, Endpoint};

/// How often each fault strikes, as a probability per call (commit faults per commit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// A commit refused as a `TransactionConflict` (nothing written).
    pub conflict: f64,
    /// A call answered "throttled" after the SDK's retries (nothing written).
    pub throttle: f64,
    /// A call answered "internal server error" (nothing written).
    pub internal: f64,
    /// A commit that lands, then answers a failure: the outcome the caller sees is unknown.
    pub ambiguous: f64,
    /// A call that hangs for `stall`, then fails as a timeout (nothing written).
    pub stall: f64,
    /// A call delayed by up to `latency_max`.
    pub latency: f64,
    pub latency_max: Duration,
    pub stall_for: Duration,
}

impl Faults {
    /// No faults: the wrapped store as it is.
    pub const NONE: Faults = Faults {
        conflict: 0.0,
        throttle: 0.0,
        internal: 0.0,
        ambiguous: 0.0,
        stall: 0.0,
        latency: 0.0,
        latency_max: Duration::ZERO,
        stall_for: Duration::ZERO,
    };
}

/// How many of each fault were injected, and over how many calls.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub calls: AtomicU64,
    pub conflicts: AtomicU64,
    pub throttles: AtomicU64,
    pub internals: AtomicU64,
    pub ambiguous: AtomicU64,
    pub stalls: AtomicU64,
    pub delays: AtomicU64,
}

impl FaultCounts {
    /// The injected faults of every kind together.
    pub fn faults(&self) -> u64 {
        [
            &self.conflicts,
            &self.throttles,
            &self.internals,
            &self.ambiguous,
            &self.stalls,
            &self.delays,
        ]
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .sum()
    }
}

impl std::fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "{} store calls; injected {} conflicts, {} throttles, {} internal errors, {} ambiguous commits, {} stalls, {} delays",
            n(&self.calls),
            n(&self.conflicts),
            n(&self.throttles),
            n(&self.internals),
            n(&self.ambiguous),
            n(&self.stalls),
            n(&self.delays)
        )
    }
}

/// SplitMix64: a small, seedable generator (the same seed gives the same draws in order).
#[derive(Debug)]
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the dice decided for one call.
enum Fault {
    None,
    Delay(Duration),
    Fail(&'static str),
    Stall,
}

/// `inner`, failing now and then as `faults` says. Clones share the dice and the counts.
#[derive(Clone)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Faults,
    /// Set: a commit that lands never answers, as if the function died right after it.
    dies_after_commit: bool,
    draws: Arc<Mutex<Draws>>,
    counts: Arc<FaultCounts>,
}

impl<S> FaultyStore<S> {
    pub fn new(inner: S, seed: u64, faults: Faults) -> FaultyStore<S> {
        FaultyStore {
            inner,
            faults,
            dies_after_commit: false,
            draws: Arc::new(Mutex::new(Draws(seed))),
            counts: Arc::default(),
        }
    }

    /// This store, except that every commit that lands then hangs for ever: the caller (a
    /// function instance) is as good as killed between the commit and its answer.
    pub fn dying_after_commit(mut self) -> FaultyStore<S> {
        self.dies_after_commit = true;
        self
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn counts(&self) -> &FaultCounts {
        &self.counts
    }

    fn draw(&self) -> f64 {
        self.draws.lock().expect("fault dice").unit()
    }

    /// Rolls for one call: each fault in turn, by its probability.
    fn roll(&self) -> Fault {
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        let f = &self.faults;
        if *f == Faults::NONE {
            return Fault::None;
        }
        if self.draw() < f.throttle {
            self.counts.throttles.fetch_add(1, Ordering::Relaxed);
            return Fault::Fail("ThrottlingException (injected)");
        }
        if self.draw() < f.internal {
            self.counts.internals.fetch_add(1, Ordering::Relaxed);
            return Fault::Fail("InternalServerError (injected)");
        }
        if self.draw() < f.stall {
            self.counts.stalls.fetch_add(1, Ordering::Relaxed);
            return Fault::Stall;
        }
        if self.draw() < f.latency {
            self.counts.delays.fetch_add(1, Ordering::Relaxed);
            return Fault::Delay(f.latency_max.mul_f64(self.draw()));
        }
        Fault::None
    }

    /// Runs the faults of one call before it reaches the wrapped store.
    pub(super) async fn before_call(&self) -> DomainResult<()> {
        match self.roll() {
            Fault::None => Ok(()),
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Fault::Fail(what) => Err(DomainError::Unavailable(what.to_owned())),
            Fault::Stall => {
                tokio::time::sleep(self.faults.stall_for).await;
                Err(DomainError::Unavailable(
                    "timed out (injected stall)".to_owned(),
                ))
            }
        }
    }
}

impl<S: CustomerStore> CustomerStore for FaultyStore<S> {
    async fn business_name(&self, business_id: &BusinessId) -> DomainResult<Option<String>> {
        self.before_call().await?;
        self.inner.business_name(business_id).await
    }

    async fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Customer>> {
        self.before_call().await?;
        self.inner.get_customer(business_id, customer_id).await
    }

    async fn get_customer_revision(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerRevision>> {
        self.before_call().await?;
        self.inner
            .get_customer_revision(business_id, customer_id)
            .await
    }

    async fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        self.before_call().await?;
        self.inner.list_customers(business_id, query).await
    }

    async fn customers_after(
        &self,
        business_id: &BusinessId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> DomainResult<Vec<CustomerId>> {
        self.before_call().await?;
        self.inner.customers_after(business_id, after, limit).await
    }
}

impl<S: WalletStore> WalletStore for FaultyStore<S> {
    async fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerWallets>> {
        self.before_call().await?;
        self.inner.get_wallets(business_id, customer_id).await
    }

    async fn has_receipt(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        token: &str,
    ) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner
            .has_receipt(business_id, customer_id, token)
            .await
    }

    async fn commit(&self, change: &Change) -> DomainResult<Result<(), Rejection>> {
        self.before_call().await?;
        if self.faults.conflict > 0.0 && self.draw() < self.faults.conflict {
            self.counts.conflicts.fetch_add(1, Ordering::Relaxed);
            return Ok(Err(Rejection::default()));
        }
        let outcome = self.inner.commit(change).await?;
        if outcome.is_ok() && self.dies_after_commit {
            std::future::pending::<()>().await;
        }
        if outcome.is_ok() && self.faults.ambiguous > 0.0 && self.draw() < self.faults.ambiguous {
            self.counts.ambiguous.fetch_add(1, Ordering::Relaxed);
            return Err(DomainError::Unavailable(
                "committed, then the answer was lost (injected)".to_owned(),
            ));
        }
        Ok(outcome)
    }

    async fn due_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<(BusinessId, CustomerId)>> {
        self.before_call().await?;
        self.inner.due_top_ups(now_ms, limit).await
    }

    async fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<Original>> {
        self.before_call().await?;
        self.inner.original_for_key(business_id, key).await
    }
}

impl<S: LedgerStore> LedgerStore for FaultyStore<S> {
    async fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        self.before_call().await?;
        self.inner
            .list_entries(business_id, customer_id, range)
            .await
    }

    async fn get_entry(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Option<Currency>,
        position: u64,
    ) -> DomainResult<Option<EntryAt>> {
        self.before_call().await?;
        self.inner
            .get_entry(business_id, customer_id, currency, position)
            .await
    }
}

impl<S: HoldStore> HoldStore for FaultyStore<S> {
    async fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Option<Hold>> {
        self.before_call().await?;
        self.inner.get_hold(business_id, customer_id, hold_id).await
    }

    async fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        self.before_call().await?;
        self.inner
            .list_holds(business_id, customer_id, query, newest_chunk)
            .await
    }

    async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        self.before_call().await?;
        self.inner.expired_holds(now_ms, limit).await
    }
}

impl<S: InvoiceStore> InvoiceStore for FaultyStore<S> {
    async fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> DomainResult<Option<InvoicePayment>> {
        self.before_call().await?;
        self.inner
            .get_invoice_payment(business_id, customer_id, invoice_id)
            .await
    }
}

impl<S: WebhookStore> WebhookStore for FaultyStore<S> {
    async fn insert_endpoint(&self, endpoint: &Endpoint, listed: usize) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.insert_endpoint(endpoint, listed).await
    }

    async fn replace_endpoint(&self, endpoint: &Endpoint) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.replace_endpoint(endpoint).await
    }

    async fn delete_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.delete_endpoint(business_id, endpoint_id).await
    }

    async fn get_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<Option<Endpoint>> {
        self.before_call().await?;
        self.inner.get_endpoint(business_id, endpoint_id).await
    }

    async fn list_endpoints(&self, business_id: &BusinessId) -> DomainResult<Vec<Endpoint>> {
        self.before_call().await?;
        self.inner.list_endpoints(business_id).await
    }

    async fn insert_delivery(&self, delivery: &Delivery) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.insert_delivery(delivery).await
    }

    async fn update_delivery(
        &self,
        delivery: &Delivery,
        seen: &Delivery,
        attempt: Option<&Attempt>,
    ) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.update_delivery(delivery, seen, attempt).await
    }

    async fn get_delivery(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> DomainResult<Option<(Delivery, Vec<Attempt>)>> {
        self.before_call().await?;
        self.inner.get_delivery(business_id, endpoint_id, id).await
    }

    async fn list_deliveries(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        query: &DeliveryQuery,
    ) -> DomainResult<Vec<Delivery>> {
        self.before_call().await?;
        self.inner
            .list_deliveries(business_id, endpoint_id, query)
            .await
    }

    async fn take_delivery_slot(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        second: u64,
        limit: u32,
    ) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner
            .take_delivery_slot(business_id, endpoint_id, second, limit)
            .await
    }

    async fn due_deliveries(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<DeliveryRef>> {
        self.before_call().await?;
        self.inner.due_deliveries(now_ms, limit).await
    }
}
