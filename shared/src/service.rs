//! The service: the ports and settings every operation runs with. The operations themselves
//! live with their capability (`customers/operations.rs`, `ledger/operations.rs`, ...).

use crate::access::cache::KeyCache;
use crate::config::Config;
use crate::hints::WalletHints;
use crate::kernel::{Clock, SystemClock, Timestamp};

pub struct Service<S, C = SystemClock> {
    store: S,
    clock: C,
    config: Config,
    /// API keys read lately (`access/cache.rs`).
    keys: KeyCache,
    /// Wallets this process saw last, and a lane per customer (`hints.rs`).
    wallets: WalletHints,
    /// The payment gateway of the configuration, built on first use ([`Service::stripe`]).
    gateway: std::sync::OnceLock<Result<Option<crate::adapters::stripe::StripeGateway>, String>>,
    /// The mailer of the configuration, built on first use ([`Service::mailer`]).
    mailer: std::sync::OnceLock<crate::adapters::mailer::ConfiguredMailer>,
}

impl<S, C: Clock> Service<S, C> {
    pub fn new(store: S, clock: C, config: Config) -> Service<S, C> {
        Service {
            store,
            clock,
            keys: KeyCache::new(config.key_cache_ttl_ms),
            wallets: WalletHints::default(),
            gateway: std::sync::OnceLock::new(),
            mailer: std::sync::OnceLock::new(),
            config,
        }
    }

    /// The payment gateway the configuration names (`None`: none configured), built once per
    /// instance (one connection pool); `Err` when its configuration is invalid.
    pub fn stripe(&self) -> Result<Option<&crate::adapters::stripe::StripeGateway>, String> {
        self.gateway
            .get_or_init(|| crate::adapters::stripe::from_config(&self.config))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// The mailer the configuration names (a file mailbox, SES, or none), built once.
    pub fn mailer(&self) -> &crate::adapters::mailer::ConfiguredMailer {
        self.mailer.get_or_init(|| {
            crate::adapters::mailer::ConfiguredMailer::from_config(&self.config.portal.mailer)
        })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn keys(&self) -> &KeyCache {
        &self.keys
    }

    pub(crate) fn hints(&self) -> &WalletHints {
        &self.wallets
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
