//! Circuit breakers and attempt slots of the endpoints a deliverer serves.

use std::collections::HashMap;
use std::sync::Arc;

use crate::kernel::{BusinessId, EndpointId};

use super::{BREAKER_FAILURES, PER_ENDPOINT_IN_FLIGHT};

/// How long an endpoint whose breaker opened is left alone by the deliverers of one process
/// (a warm Lambda instance): its deliveries wait for the sweep meanwhile.
pub const BREAKER_OPEN_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// The endpoints whose breaker opened, with when each may be tried again: kept by the process
/// (a warm deliverer instance) across its invocations, so a hanging endpoint costs a few
/// attempts per [`BREAKER_OPEN_FOR`] rather than a few per invocation.
/// It also holds each endpoint's [`PER_ENDPOINT_IN_FLIGHT`] slots, shared by the process's
/// invocations: the cap holds however many hand-overs run at once.
#[derive(Debug, Default)]
pub struct Breakers {
    open_until: std::sync::Mutex<HashMap<(BusinessId, EndpointId), std::time::Instant>>,
    slots: std::sync::Mutex<HashMap<(BusinessId, EndpointId), Arc<tokio::sync::Semaphore>>>,
}

impl Breakers {
    /// One of the endpoint's attempt slots, waited for until `until`; `None` if none came.
    pub(super) async fn slot(
        &self,
        key: &(BusinessId, EndpointId),
        until: std::time::Instant,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let semaphore = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_ENDPOINT_IN_FLIGHT)))
            .clone();
        tokio::time::timeout_at(until.into(), semaphore.acquire_owned())
            .await
            .ok()?
            .ok()
    }

    pub(super) fn is_open(&self, key: &(BusinessId, EndpointId)) -> bool {
        let mut open = self.open_until.lock().unwrap_or_else(|e| e.into_inner());
        match open.get(key) {
            Some(until) if *until > std::time::Instant::now() => true,
            Some(_) => {
                open.remove(key);
                false
            }
            None => false,
        }
    }

    pub(super) fn open(&self, key: (BusinessId, EndpointId)) {
        let until = std::time::Instant::now() + BREAKER_OPEN_FOR;
        self.open_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, until);
    }
}

/// The circuit breaker of one endpoint in one deliverer run: open after
/// [`BREAKER_FAILURES`] consecutive failed attempts; a success closes it.
#[derive(Default)]
pub(super) struct Breaker {
    failures: std::sync::atomic::AtomicU32,
}

impl Breaker {
    pub(super) fn open(&self) -> bool {
        self.failures.load(std::sync::atomic::Ordering::Relaxed) >= BREAKER_FAILURES
    }

    pub(super) fn trip(&self) {
        self.failures
            .store(BREAKER_FAILURES, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn record(&self, succeeded: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if succeeded {
            self.failures.store(0, Relaxed);
        } else {
            self.failures.fetch_add(1, Relaxed);
        }
    }
}
