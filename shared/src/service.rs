//! The service: the ports and settings every operation runs with. The operations themselves
//! live with their capability (`customers/operations.rs`, `ledger/operations.rs`, ...).

use crate::config::Config;
use crate::kernel::{Clock, SystemClock, Timestamp};

pub struct Service<S, C = SystemClock> {
    store: S,
    clock: C,
    config: Config,
}

impl<S, C: Clock> Service<S, C> {
    pub fn new(store: S, clock: C, config: Config) -> Service<S, C> {
        Service {
            store,
            clock,
            config,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
