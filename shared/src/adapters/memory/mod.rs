//! An in-memory adapter of every store port, for fast unit tests of the operations and of the
//! HTTP handlers. It behaves like `adapters::dynamo` condition for condition: each
//! [`Write`](crate::change::model::Write) is checked as its variant documents, a change lands all
//! or nothing, a refusal names every write whose condition failed, and every record is scoped by
//! business the way the DynamoDB keys are (another business's ids find nothing). Reads sort, filter and page like the DynamoDB queries.
//!
//! Every call yields to the scheduler once before it touches the state, as a network call would,
//! so concurrent tasks interleave between a change's read and its commit and race as they do
//! against DynamoDB.
//!
//! One file a capability, as in `adapters::dynamo`: the records (`table.rs`), the item each write
//! puts (`keys.rs`), changes as all-or-nothing conditional writes (`commit.rs`), list and index
//! queries (`queries.rs`), webhook endpoints and deliveries (`webhooks.rs`), injected failures
//! (`faults.rs`) and a fixed clock for tests (`clock.rs`).

mod clock;
mod commit;
mod faults;
mod keys;
mod links;
mod payins;
mod portal;
mod queries;
mod table;
mod totals;
mod webhooks;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use self::table::{revision_of, Tables};
use crate::access::model::ApiKey;
use crate::access::model::FormClaim;
use crate::access::model::Session;
use crate::change::model::{Change, Rejection};
use crate::customers::model::{Customer, CustomerQuery, CustomerRevision};
use crate::error::{DomainResult, Original};
use crate::holds::model::{Hold, HoldQuery, HoldRef};
use crate::invoices::model::InvoicePayment;
use crate::kernel::{
    BusinessId, Currency, CustomerId, HoldId, IdempotencyKey, InvoiceId, Timestamp,
};
use crate::ledger::model::{CustomerWallets, EntryAt, EntryRange, LedgerEntry};
use crate::ports::{CustomerStore, HoldStore, InvoiceStore, KeyStore, LedgerStore, WalletStore};

pub use self::clock::FixedClock;

/// Every port, in memory. Clones share their state, so a test can keep one clone to inspect or
/// steer while the service (or handlers on other tasks) use another.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

/// How many commits landed and how many were refused (failed conditions or injected conflicts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commits {
    pub landed: u64,
    pub rejected: u64,
}

#[derive(Default)]
struct State {
    tables: Tables,
    /// Commits still to refuse as conflicts, before looking at them.
    conflicts_to_inject: u32,
    commits: Commits,
    /// Tokens of the changes that landed: a change with one of them lands no second time
    /// (DynamoDB's `ClientRequestToken`).
    tokens: HashSet<String>,
    /// Commits still to answer with a failure after they landed.
    answers_to_lose: u32,
    /// Set: tokens are not remembered (as DynamoDB forgets them after ten minutes).
    forget_tokens: bool,
    /// Set: right after a commit whose answer is lost, another change of the same wallets lands
    /// (their version moves on), before the caller can look.
    move_wallets_after_lost_answer: bool,
    /// Customers whose wallets and holds cannot be read (an injected failure of one item).
    broken: HashSet<(BusinessId, CustomerId)>,
    /// Endpoints that cannot be read, nor their deliveries (the same, for webhooks).
    broken_endpoints: HashSet<(BusinessId, crate::kernel::EndpointId)>,
    webhooks: webhooks::WebhookTables,
    totals: totals::TotalsTables,
    portal: portal::PortalTables,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }

    /// Reads the tables after yielding once, as a network round trip would.
    async fn read<T>(&self, read: impl FnOnce(&Tables) -> T) -> T {
        tokio::task::yield_now().await;
        read(&self.lock().tables)
    }
}

impl KeyStore for MemoryStore {
    async fn key_by_hash(&self, key_hash: &str) -> DomainResult<Option<ApiKey>> {
        Ok(self.read(|t| t.api_keys.get(key_hash).cloned()).await)
    }

    async fn list_keys(&self, business_id: &BusinessId) -> DomainResult<Vec<ApiKey>> {
        Ok(self
            .read(|t| {
                t.api_keys
                    .values()
                    .filter(|k| k.business_id == *business_id)
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn touch_key(&self, key_hash: &str, now: Timestamp, every_ms: u64) -> DomainResult<()> {
        tokio::task::yield_now().await;
        if let Some(key) = self.lock().tables.api_keys.get_mut(key_hash) {
            if key
                .last_used_at
                .is_none_or(|at| at.unix_ms + every_ms <= now.unix_ms)
            {
                key.last_used_at = Some(now);
            }
        }
        Ok(())
    }

    async fn end_key(&self, key_hash: &str, at: Timestamp, revoke: bool) -> DomainResult<()> {
        tokio::task::yield_now().await;
        if let Some(key) = self.lock().tables.api_keys.get_mut(key_hash) {
            key.expires_at = Some(at);
            if revoke {
                key.revoked_at = Some(at);
            }
        }
        Ok(())
    }

    async fn put_session(&self, session: &Session) -> DomainResult<()> {
        tokio::task::yield_now().await;
        let sessions = &mut self.lock().tables.sessions;
        if sessions.contains_key(&session.id_hash) {
            return Err(crate::error::DomainError::Storage(
                "a session with this id exists".to_owned(),
            ));
        }
        sessions.insert(session.id_hash.clone(), session.clone());
        Ok(())
    }

    async fn session_by_hash(&self, id_hash: &str) -> DomainResult<Option<Session>> {
        Ok(self.read(|t| t.sessions.get(id_hash).cloned()).await)
    }

    async fn touch_session(&self, session: &Session, every_ms: u64) -> DomainResult<()> {
        tokio::task::yield_now().await;
        if let Some(stored) = self.lock().tables.sessions.get_mut(&session.id_hash) {
            if stored.seen_at.unix_ms + every_ms <= session.seen_at.unix_ms {
                stored.seen_at = session.seen_at;
            }
        }
        Ok(())
    }

    async fn end_session(&self, id_hash: &str) -> DomainResult<()> {
        tokio::task::yield_now().await;
        self.lock().tables.sessions.remove(id_hash);
        Ok(())
    }

    async fn claim_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        _expires_s: u64,
    ) -> DomainResult<FormClaim> {
        tokio::task::yield_now().await;
        let forms = &mut self.lock().tables.forms;
        Ok(match forms.get(&(business_id.clone(), key.to_owned())) {
            Some(Some(result)) => FormClaim::Done(result.clone()),
            Some(None) => FormClaim::Started,
            None => {
                forms.insert((business_id.clone(), key.to_owned()), None);
                FormClaim::New
            }
        })
    }

    async fn finish_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        result: &str,
    ) -> DomainResult<()> {
        tokio::task::yield_now().await;
        self.lock().tables.forms.insert(
            (business_id.clone(), key.to_owned()),
            Some(result.to_owned()),
        );
        Ok(())
    }

    async fn release_form(&self, business_id: &BusinessId, key: &str) -> DomainResult<()> {
        tokio::task::yield_now().await;
        self.lock()
            .tables
            .forms
            .remove(&(business_id.clone(), key.to_owned()));
        Ok(())
    }
}

impl CustomerStore for MemoryStore {
    async fn business_name(&self, business_id: &BusinessId) -> DomainResult<Option<String>> {
        Ok(self
            .read(|t| t.businesses.get(business_id).map(|b| b.name.clone()))
            .await)
    }

    async fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Customer>> {
        Ok(self
            .read(|t| t.customer(business_id, customer_id).cloned())
            .await)
    }

    async fn get_customer_revision(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerRevision>> {
        Ok(self
            .read(|t| {
                t.customer(business_id, customer_id)
                    .map(|customer| CustomerRevision {
                        customer: customer.clone(),
                        revision: revision_of(customer),
                    })
            })
            .await)
    }

    /// Newest first; email matches whole and name in part, both ignoring case; the created range
    /// is the range of ids its milliseconds bound.
    async fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        self.query_customers(business_id, query).await
    }

    async fn customers_after(
        &self,
        business_id: &BusinessId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> DomainResult<Vec<CustomerId>> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, Excluded);
        Ok(self
            .read(|t| {
                t.customers.get(business_id).map_or_else(Vec::new, |all| {
                    all.range::<CustomerId, _>((start, Unbounded))
                        .take(limit)
                        .map(|(id, _)| id.clone())
                        .collect()
                })
            })
            .await)
    }
}

impl WalletStore for MemoryStore {
    async fn due_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<(BusinessId, CustomerId)>> {
        self.query_due_top_ups(now_ms, limit).await
    }

    async fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerWallets>> {
        self.check_not_broken(business_id, customer_id)?;
        Ok(self
            .read(|t| t.wallets(business_id, customer_id).cloned())
            .await)
    }

    async fn has_receipt(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        token: &str,
    ) -> DomainResult<bool> {
        Ok(self
            .read(|t| {
                t.partition(business_id, customer_id)
                    .is_some_and(|p| p.receipts.contains(token))
            })
            .await)
    }

    /// Checks every write's condition, then writes all of them, or none and names every write
    /// whose condition failed.
    async fn commit(&self, change: &Change) -> DomainResult<Result<(), Rejection>> {
        self.commit_change(change).await
    }

    async fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<Original>> {
        Ok(self
            .read(|t| t.claims.get(&(business_id.clone(), key.clone())).cloned())
            .await)
    }
}

impl LedgerStore for MemoryStore {
    /// Newest first: by position in the whole ledger, or in one currency's.
    async fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        self.query_entries(business_id, customer_id, range).await
    }

    /// By position in the whole ledger (with the pending charges after it), or in one
    /// currency's (without, as the DynamoDB currency copy).
    async fn get_entry(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Option<Currency>,
        position: u64,
    ) -> DomainResult<Option<EntryAt>> {
        self.check_not_broken(business_id, customer_id)?;
        Ok(self
            .read(|t| {
                let partition = t.partition(business_id, customer_id)?;
                match currency {
                    None => partition.entries.get(&position).map(|entry| EntryAt {
                        entry: entry.clone(),
                        pending_after: partition.pending_after.get(&position).copied(),
                    }),
                    Some(currency) => partition
                        .entries
                        .values()
                        .find(|e| e.currency == currency && e.currency_seq == position)
                        .map(|entry| EntryAt {
                            entry: entry.clone(),
                            pending_after: None,
                        }),
                }
            })
            .await)
    }
}

impl HoldStore for MemoryStore {
    async fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Option<Hold>> {
        self.check_not_broken(business_id, customer_id)?;
        Ok(self
            .read(|t| t.hold(business_id, customer_id, hold_id).cloned())
            .await)
    }

    /// Newest first (by id), filtered by status and currency.
    async fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        self.query_holds(business_id, customer_id, query, newest_chunk)
            .await
    }

    /// Pending holds due at or before `now_ms`: the soonest and the most recently due (see
    /// `queries::both_ends`).
    async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        self.query_expired_holds(now_ms, limit).await
    }
}

impl InvoiceStore for MemoryStore {
    async fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> DomainResult<Option<InvoicePayment>> {
        Ok(self
            .read(|t| t.invoice(business_id, customer_id, invoice_id).cloned())
            .await)
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
