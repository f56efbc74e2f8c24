//! The setting of the operations' unit tests: a service on a fresh memory store with a fixed
//! clock and one business, and shorthands for commands and reads.

use std::sync::Arc;

use super::{FixedClock, MemoryStore};
use crate::access::model::Tenant;
use crate::customers::model::{Customer, NewCustomer};
use crate::holds::model::{Hold, HoldCommand, HoldQuery, HoldStatus};
use crate::kernel::paging::PageRequest;
use crate::kernel::{Amount, Currency, CustomerId, IdempotencyKey};
use crate::ledger::model::{EntryCommand, EntryType, EventType, LedgerEntry, Wallet};
use crate::{Config, Service};

/// The clock's start: 2027-01-15T08:00:00Z.
pub(crate) const T0: u64 = 1_800_000_000_000;

pub(crate) type TestService = Service<MemoryStore, FixedClock>;

pub(crate) struct World {
    /// Shared, so that tests can run operations on concurrent tasks.
    pub service: Arc<TestService>,
    /// The service's store, to steer (inject conflicts) and count commits.
    pub store: MemoryStore,
    /// The service's clock, to move it.
    pub clock: FixedClock,
    /// A business with USD and INR enabled.
    pub tenant: Tenant,
}

impl World {
    pub async fn new() -> World {
        let (store, clock) = (MemoryStore::new(), FixedClock::at(T0));
        let config = Config::build("t".into(), None, "USD,INR", None).expect("test config");
        let service = Arc::new(Service::new(store.clone(), clock.clone(), config));
        let tenant = business(&service).await;
        World {
            service,
            store,
            clock,
            tenant,
        }
    }

    /// Another service on the same store and clock, as another Lambda instance: its requests
    /// race this one's at the store, not in one process's lanes.
    pub fn instance(&self) -> Arc<TestService> {
        let config = self.service.config().clone();
        Arc::new(Service::new(self.store.clone(), self.clock.clone(), config))
    }

    /// Another business on the same store.
    pub async fn other_business(&self) -> Tenant {
        business(&self.service).await
    }

    pub async fn customer(&self) -> CustomerId {
        self.customer_named("ada@example.com", "Ada")
            .await
            .customer_id
    }

    pub async fn customer_named(&self, email: &str, name: &str) -> Customer {
        self.service
            .create_customer(&self.tenant, new_customer(email, name))
            .await
            .expect("customer created")
    }

    pub async fn wallet(&self, customer_id: &CustomerId, currency: Currency) -> Wallet {
        self.service
            .list_wallets(&self.tenant, customer_id)
            .await
            .expect("wallets")
            .wallets
            .wallets[&currency]
            .clone()
    }

    /// The customer's ledger, oldest first.
    pub async fn ledger(&self, customer_id: &CustomerId) -> Vec<LedgerEntry> {
        let mut entries = Vec::new();
        for number in 0.. {
            let page = PageRequest { number, size: 100 };
            let newest_first = self
                .service
                .list_entries(&self.tenant, customer_id, None, page)
                .await
                .expect("entries");
            if newest_first.is_empty() {
                break;
            }
            entries.extend(newest_first);
        }
        entries.reverse();
        entries
    }

    pub async fn credit(&self, customer_id: &CustomerId, amount: i64) {
        self.service
            .create_entry(
                &self.tenant,
                customer_id,
                entry(EntryType::Credit, amount, None),
            )
            .await
            .expect("credit");
    }

    pub async fn holds(&self, customer_id: &CustomerId, status: Option<HoldStatus>) -> Vec<Hold> {
        let query = HoldQuery {
            status,
            currency: None,
            page: PageRequest {
                number: 0,
                size: 100,
            },
        };
        self.service
            .list_holds(&self.tenant, customer_id, query)
            .await
            .expect("holds")
    }
}

/// A new business, as its API key authenticates it.
async fn business(service: &TestService) -> Tenant {
    let (_, key) = service
        .create_business("Acme")
        .await
        .expect("business created");
    service
        .authenticate(Some(&key))
        .await
        .expect("the new key authenticates")
}

pub(crate) fn new_customer(email: &str, name: &str) -> NewCustomer {
    NewCustomer {
        email: email.to_owned(),
        name: name.to_owned(),
        phone_number: None,
        metadata: Default::default(),
        preferred_locale: None,
    }
}

pub(crate) fn key(raw: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey::parse(raw).expect("valid key"))
}

pub(crate) fn amount(minor: i64) -> Amount {
    Amount::new(minor).expect("valid amount")
}

/// A USD merchant adjustment.
pub(crate) fn entry(
    entry_type: EntryType,
    minor: i64,
    idempotency_key: Option<IdempotencyKey>,
) -> EntryCommand {
    EntryCommand {
        currency: Currency::USD,
        amount: amount(minor),
        entry_type,
        event_type: EventType::MerchantAdjustment,
        reason: None,
        reference_object_id: None,
        idempotency_key,
    }
}

/// A USD hold with the default expiry.
pub(crate) fn hold(minor: i64, idempotency_key: Option<IdempotencyKey>) -> HoldCommand {
    HoldCommand {
        currency: Currency::USD,
        amount: amount(minor),
        reason: None,
        reference_object_id: None,
        idempotency_key,
        expires_at: None,
    }
}

/// Each entry continues the previous one of its currency, and positions have no gaps.
pub(crate) fn assert_chained(ledger: &[LedgerEntry]) {
    for (at, entry) in ledger.iter().enumerate() {
        assert_eq!(entry.customer_seq, at as u64 + 1, "dense positions");
        let signed = if entry.is_credit {
            entry.amount
        } else {
            -entry.amount
        };
        assert_eq!(entry.after_balance, entry.before_balance + signed);
        let previous = ledger[..at]
            .iter()
            .rev()
            .find(|e| e.currency == entry.currency);
        assert_eq!(
            entry.before_balance,
            previous.map_or(0, |p| p.after_balance),
            "entry {} continues the previous one",
            entry.customer_seq
        );
        assert_eq!(
            entry.currency_seq,
            previous.map_or(1, |p| p.currency_seq + 1)
        );
    }
}
