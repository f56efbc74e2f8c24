//! A clock for tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::kernel::{Clock, Timestamp};

/// A clock that stays where a test sets it. Clones share the time, so a test can move the
/// service's clock (e.g. past a hold's expiry) through its own clone.
#[derive(Debug, Clone)]
pub struct FixedClock {
    unix_ms: Arc<AtomicU64>,
}

impl FixedClock {
    pub fn at(unix_ms: u64) -> FixedClock {
        FixedClock {
            unix_ms: Arc::new(AtomicU64::new(unix_ms)),
        }
    }

    pub fn set(&self, unix_ms: u64) {
        self.unix_ms.store(unix_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, ms: u64) {
        self.unix_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_ms(self.unix_ms.load(Ordering::SeqCst))
    }
}
