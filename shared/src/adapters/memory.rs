//! An in-memory adapter of every store port, for fast unit tests of the operations and of the
//! HTTP handlers. It behaves like `adapters::dynamo` condition for condition: each [`Write`] is
//! checked as its variant documents, a change lands all or nothing, a refusal names every write
//! whose condition failed, and every record is scoped by business the way the DynamoDB keys are
//! (another business's ids find nothing). Reads sort, filter and page like the DynamoDB queries.
//!
//! Every call yields to the scheduler once before it touches the state, as a network call would,
//! so concurrent tasks interleave between a change's read and its commit and race as they do
//! against DynamoDB.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::access::model::{ApiKey, Business};
use crate::change::{Change, Rejection, Write};
use crate::customers::model::{Customer, CustomerQuery, CustomerRevision};
use crate::error::{DomainError, DomainResult, Original};
use crate::holds::model::{Hold, HoldQuery, HoldRef, HoldStatus};
use crate::invoices::model::InvoicePayment;
use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, Clock, CustomerId, HoldId, IdempotencyKey, InvoiceId, Timestamp};
use crate::ledger::model::{CustomerWallets, EntryRange, LedgerEntry};
use crate::ports::{CustomerStore, HoldStore, InvoiceStore, KeyStore, LedgerStore, WalletStore};

#[path = "memory/webhooks.rs"]
mod webhooks;

/// Writes one DynamoDB transaction may hold.
const TRANSACTION_WRITES_MAX: usize = 100;

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
}

/// The records, keyed as the DynamoDB items are (see `adapters::dynamo::keys`).
#[derive(Default)]
struct Tables {
    businesses: HashMap<BusinessId, Business>,
    /// By key hash: the only key not scoped by business.
    api_keys: HashMap<String, ApiKey>,
    /// Per business, by id: ids carry their creation millisecond, so this is creation order.
    customers: HashMap<BusinessId, BTreeMap<CustomerId, Customer>>,
    /// Everything one customer owns, like the DynamoDB partition `CUS#<business>#<customer>`.
    partitions: HashMap<(BusinessId, CustomerId), Partition>,
    claims: HashMap<(BusinessId, IdempotencyKey), Original>,
}

#[derive(Default)]
struct Partition {
    wallets: Option<CustomerWallets>,
    /// By position in the customer's ledger.
    entries: BTreeMap<u64, LedgerEntry>,
    /// By id, a ULID: creation order.
    holds: BTreeMap<HoldId, Hold>,
    invoices: HashMap<InvoiceId, InvoicePayment>,
    /// Tokens of the wallet-only changes that landed ([`Write::Receipt`]).
    receipts: HashSet<String>,
}

/// The item a write puts, to refuse two writes of one item in one change as DynamoDB does.
#[derive(PartialEq, Eq, Hash)]
enum ItemKey<'a> {
    Business(&'a BusinessId),
    ApiKey(&'a str),
    Customer(&'a BusinessId, &'a CustomerId),
    Wallets(&'a BusinessId, &'a CustomerId),
    Entry(&'a BusinessId, &'a CustomerId, u64),
    Hold(&'a BusinessId, &'a CustomerId, &'a HoldId),
    Invoice(&'a BusinessId, &'a CustomerId, &'a InvoiceId),
    Claim(&'a BusinessId, &'a IdempotencyKey),
    Receipt(&'a BusinessId, &'a CustomerId, &'a str),
}

/// The item of a write, from the same fields the DynamoDB codec builds its key from.
fn item_key<'a>(business_id: &'a BusinessId, write: &'a Write) -> ItemKey<'a> {
    match write {
        Write::NewBusiness(business) => ItemKey::Business(&business.business_id),
        Write::NewApiKey(key) => ItemKey::ApiKey(&key.key_hash),
        Write::NewCustomer(customer) | Write::ReplaceCustomer { customer, .. } => {
            ItemKey::Customer(&customer.business_id, &customer.customer_id)
        }
        Write::NewWallets(wallets) | Write::Wallets(wallets) => {
            ItemKey::Wallets(business_id, &wallets.customer_id)
        }
        Write::NewEntry(entry) => {
            ItemKey::Entry(&entry.business_id, &entry.customer_id, entry.customer_seq)
        }
        Write::NewHold(hold) | Write::ResolveHold(hold) => {
            ItemKey::Hold(&hold.business_id, &hold.customer_id, &hold.id)
        }
        Write::NewInvoicePayment(payment) | Write::ReverseInvoicePayment { payment, .. } => {
            ItemKey::Invoice(
                &payment.business_id,
                &payment.customer_id,
                &payment.invoice_id,
            )
        }
        Write::ClaimKey { key, .. } => ItemKey::Claim(business_id, key),
        Write::Receipt { customer_id, token } => ItemKey::Receipt(business_id, customer_id, token),
    }
}

/// The stored customer's revision: its serialised form, as the DynamoDB adapter uses the stored
/// document. A replacement that changes nothing keeps it, as there.
fn revision_of(customer: &Customer) -> String {
    serde_json::to_string(customer).expect("customers serialise to JSON")
}

/// At most `limit` of `due` (sorted soonest first): the oldest half and the most recently due
/// half, as the DynamoDB adapter reads each index shard from both ends.
pub(crate) fn both_ends<T>(mut due: Vec<T>, limit: usize) -> Vec<T> {
    if due.len() > limit {
        let newest = due.split_off(due.len() - limit / 2);
        due.truncate(limit - limit / 2);
        due.extend(newest);
    }
    due
}

/// The items of `page` from an iterator of every match, in order.
fn page_of<T>(items: impl Iterator<Item = T>, page: PageRequest) -> Vec<T> {
    let skipped = usize::try_from(page.skipped()).unwrap_or(usize::MAX);
    items.skip(skipped).take(page.size as usize).collect()
}

impl Tables {
    fn partition(&self, business_id: &BusinessId, customer_id: &CustomerId) -> Option<&Partition> {
        self.partitions
            .get(&(business_id.clone(), customer_id.clone()))
    }

    fn partition_mut(
        &mut self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> &mut Partition {
        self.partitions
            .entry((business_id.clone(), customer_id.clone()))
            .or_default()
    }

    fn customer(&self, business_id: &BusinessId, customer_id: &CustomerId) -> Option<&Customer> {
        self.customers.get(business_id)?.get(customer_id)
    }

    fn wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> Option<&CustomerWallets> {
        self.partition(business_id, customer_id)?.wallets.as_ref()
    }

    fn hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> Option<&Hold> {
        self.partition(business_id, customer_id)?.holds.get(hold_id)
    }

    fn invoice(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> Option<&InvoicePayment> {
        self.partition(business_id, customer_id)?
            .invoices
            .get(invoice_id)
    }

    /// Whether the stored state meets the condition `write` documents.
    fn allows(&self, business_id: &BusinessId, write: &Write) -> bool {
        match write {
            Write::NewBusiness(business) => !self.businesses.contains_key(&business.business_id),
            Write::NewApiKey(key) => !self.api_keys.contains_key(&key.key_hash),
            Write::NewCustomer(customer) => self
                .customer(&customer.business_id, &customer.customer_id)
                .is_none(),
            Write::ReplaceCustomer { customer, revision } => self
                .customer(&customer.business_id, &customer.customer_id)
                .is_some_and(|stored| revision_of(stored) == *revision),
            Write::NewWallets(wallets) => self.wallets(business_id, &wallets.customer_id).is_none(),
            Write::Wallets(wallets) => {
                let read = wallets
                    .version
                    .checked_sub(1)
                    .expect("a changed wallet set has a version above zero");
                self.wallets(business_id, &wallets.customer_id)
                    .is_some_and(|stored| stored.version == read)
            }
            Write::NewEntry(entry) => self
                .partition(&entry.business_id, &entry.customer_id)
                .is_none_or(|p| !p.entries.contains_key(&entry.customer_seq)),
            Write::NewHold(hold) => self
                .hold(&hold.business_id, &hold.customer_id, &hold.id)
                .is_none(),
            Write::ResolveHold(hold) => self
                .hold(&hold.business_id, &hold.customer_id, &hold.id)
                .is_some_and(|stored| stored.status == HoldStatus::Pending),
            Write::NewInvoicePayment(payment) => self
                .invoice(
                    &payment.business_id,
                    &payment.customer_id,
                    &payment.invoice_id,
                )
                .is_none(),
            Write::ReverseInvoicePayment {
                payment,
                reversed_before,
            } => self
                .invoice(
                    &payment.business_id,
                    &payment.customer_id,
                    &payment.invoice_id,
                )
                .is_some_and(|stored| stored.reversed == *reversed_before),
            Write::ClaimKey { key, .. } => !self
                .claims
                .contains_key(&(business_id.clone(), key.clone())),
            Write::Receipt { customer_id, token } => self
                .partition(business_id, customer_id)
                .is_none_or(|p| !p.receipts.contains(token)),
        }
    }

    /// Stores what `write` writes, over whatever was there (its condition was checked).
    fn put(&mut self, business_id: &BusinessId, write: &Write) {
        match write {
            Write::NewBusiness(business) => {
                self.businesses
                    .insert(business.business_id.clone(), business.clone());
            }
            Write::NewApiKey(key) => {
                self.api_keys.insert(key.key_hash.clone(), key.clone());
            }
            Write::NewCustomer(customer) | Write::ReplaceCustomer { customer, .. } => {
                self.customers
                    .entry(customer.business_id.clone())
                    .or_default()
                    .insert(customer.customer_id.clone(), customer.clone());
            }
            Write::NewWallets(wallets) | Write::Wallets(wallets) => {
                self.partition_mut(business_id, &wallets.customer_id)
                    .wallets = Some(wallets.clone());
            }
            Write::NewEntry(entry) => {
                self.partition_mut(&entry.business_id, &entry.customer_id)
                    .entries
                    .insert(entry.customer_seq, entry.clone());
            }
            Write::NewHold(hold) | Write::ResolveHold(hold) => {
                self.partition_mut(&hold.business_id, &hold.customer_id)
                    .holds
                    .insert(hold.id.clone(), hold.clone());
            }
            Write::NewInvoicePayment(payment) | Write::ReverseInvoicePayment { payment, .. } => {
                self.partition_mut(&payment.business_id, &payment.customer_id)
                    .invoices
                    .insert(payment.invoice_id.clone(), payment.clone());
            }
            Write::ClaimKey { key, original } => {
                self.claims
                    .insert((business_id.clone(), key.clone()), original.clone());
            }
            Write::Receipt { customer_id, token } => {
                self.partition_mut(business_id, customer_id)
                    .receipts
                    .insert(token.clone());
            }
        }
    }
}

/// What DynamoDB refuses before looking at any condition: an empty or oversized transaction, or
/// two writes of one item.
fn malformed(change: &Change) -> Option<DomainError> {
    let writes = change.writes.len();
    if !(1..=TRANSACTION_WRITES_MAX).contains(&writes) {
        return Some(DomainError::Storage(format!(
            "commit: a transaction takes 1 to {TRANSACTION_WRITES_MAX} writes; got {writes}"
        )));
    }
    let mut items = HashSet::new();
    let repeated = change
        .writes
        .iter()
        .any(|write| !items.insert(item_key(&change.business_id, write)));
    repeated.then(|| {
        DomainError::Storage("commit: a transaction cannot write one item twice".to_owned())
    })
}

impl State {
    /// Another change of the wallets `change` wrote lands: their version moves on.
    fn move_wallets_on(&mut self, change: &Change) {
        for write in &change.writes {
            if let Write::Wallets(wallets) | Write::NewWallets(wallets) = write {
                let partition = self
                    .tables
                    .partition_mut(&change.business_id, &wallets.customer_id);
                if let Some(stored) = partition.wallets.as_mut() {
                    stored.version += 1;
                }
            }
        }
    }

    /// The answer to a commit that landed (now or under its token before): success, unless
    /// answers are to be lost.
    fn answer_landed(&mut self) -> DomainResult<Result<(), Rejection>> {
        if self.answers_to_lose > 0 {
            self.answers_to_lose -= 1;
            return Err(DomainError::Unavailable(
                "committed, then the answer was lost (injected)".to_owned(),
            ));
        }
        Ok(Ok(()))
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Refuses the next `n` commits as conflicts with another transaction
    /// (`Rejection { failed: [] }`, DynamoDB's `TransactionConflict`), without looking at them.
    pub fn fail_next_commits(&self, n: u32) {
        self.lock().conflicts_to_inject = n;
    }

    /// Every read of this customer's wallets or holds fails from now on (a storage error): one
    /// item that a sweep cannot process.
    pub fn break_customer(&self, business_id: &BusinessId, customer_id: &CustomerId) {
        let customer = (business_id.clone(), customer_id.clone());
        self.lock().broken.insert(customer);
    }

    /// Every read of this endpoint or of its deliveries fails from now on (a storage error).
    pub fn break_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &crate::kernel::EndpointId,
    ) {
        let endpoint = (business_id.clone(), endpoint_id.clone());
        self.lock().broken_endpoints.insert(endpoint);
    }

    fn check_endpoint_not_broken(
        &self,
        business_id: &BusinessId,
        endpoint_id: &crate::kernel::EndpointId,
    ) -> DomainResult<()> {
        let endpoint = (business_id.clone(), endpoint_id.clone());
        if self.lock().broken_endpoints.contains(&endpoint) {
            return Err(DomainError::Storage(format!(
                "read endpoint {endpoint_id}: failed (injected)"
            )));
        }
        Ok(())
    }

    fn check_not_broken(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<()> {
        let customer = (business_id.clone(), customer_id.clone());
        if self.lock().broken.contains(&customer) {
            return Err(DomainError::Storage(format!(
                "read customer {customer_id}: failed (injected)"
            )));
        }
        Ok(())
    }

    /// The next `n` commits that land answer as if the store had failed: the caller cannot tell
    /// whether they landed (a timeout after the write).
    pub fn lose_next_answers(&self, n: u32) {
        self.lock().answers_to_lose = n;
    }

    /// From now on, a change sent again with its token is checked like a new one (DynamoDB
    /// remembers a `ClientRequestToken` for ten minutes only).
    pub fn forget_tokens(&self) {
        self.lock().forget_tokens = true;
    }

    /// From now on, right after a commit whose answer is lost, another change of the same
    /// wallets lands before the caller can look (a concurrent request of the customer's).
    pub fn move_wallets_after_lost_answers(&self) {
        self.lock().move_wallets_after_lost_answer = true;
    }

    /// Commits landed and refused so far.
    pub fn commits(&self) -> Commits {
        self.lock().commits
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
}

impl CustomerStore for MemoryStore {
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
        let Some((oldest, newest)) = query.id_range() else {
            return Ok(Vec::new());
        };
        let email = query.email.as_ref().map(|e| e.to_lowercase());
        let name_part = query.name_contains.as_ref().map(|n| n.to_lowercase());
        Ok(self
            .read(|t| {
                let Some(customers) = t.customers.get(business_id) else {
                    return Vec::new();
                };
                let matching = customers
                    .range(oldest..=newest)
                    .rev()
                    .map(|(_, customer)| customer)
                    .filter(|c| email.as_ref().is_none_or(|e| c.email.to_lowercase() == *e))
                    .filter(|c| {
                        name_part
                            .as_ref()
                            .is_none_or(|part| c.name.to_lowercase().contains(part.as_str()))
                    })
                    .cloned();
                page_of(matching, query.page)
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
        Ok(self
            .read(|t| {
                let mut due: Vec<(Timestamp, &(BusinessId, CustomerId))> = t
                    .partitions
                    .iter()
                    .filter_map(|(key, p)| {
                        let due = p.wallets.as_ref().and_then(|w| {
                            w.wallets
                                .values()
                                .filter_map(crate::topups::rules::due_at)
                                .min()
                        })?;
                        (due.unix_ms <= now_ms).then_some((due, key))
                    })
                    .collect();
                due.sort();
                both_ends(due, limit)
                    .into_iter()
                    .map(|(_, key)| key.clone())
                    .collect()
            })
            .await)
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
        tokio::task::yield_now().await;
        if let Some(refused) = malformed(change) {
            return Err(refused);
        }
        let mut state = self.lock();
        if state.tokens.contains(&change.token) && !state.forget_tokens {
            return state.answer_landed();
        }
        let failed: Vec<usize> = if state.conflicts_to_inject > 0 {
            state.conflicts_to_inject -= 1;
            Vec::new()
        } else {
            let failed: Vec<usize> = (0..change.writes.len())
                .filter(|&at| !state.tables.allows(&change.business_id, &change.writes[at]))
                .collect();
            if failed.is_empty() {
                for write in &change.writes {
                    state.tables.put(&change.business_id, write);
                }
                state.commits.landed += 1;
                state.tokens.insert(change.token.clone());
                let answer = state.answer_landed();
                if answer.is_err() && state.move_wallets_after_lost_answer {
                    state.move_wallets_on(change);
                }
                return answer;
            }
            failed
        };
        state.commits.rejected += 1;
        // As DynamoDB answers with ReturnValuesOnConditionCheckFailure on the wallets' write.
        let wallets_now = failed.iter().find_map(|&at| match &change.writes[at] {
            Write::Wallets(wallets) => state
                .tables
                .wallets(&change.business_id, &wallets.customer_id)
                .cloned()
                .map(Box::new),
            _ => None,
        });
        Ok(Err(Rejection {
            failed,
            wallets_now,
        }))
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
        if range.oldest > range.newest {
            // DynamoDB refuses a `BETWEEN` whose bounds are reversed.
            return Err(DomainError::Storage(format!(
                "list ledger entries: oldest {} is after newest {}",
                range.oldest, range.newest
            )));
        }
        Ok(self
            .read(|t| {
                let Some(partition) = t.partition(business_id, customer_id) else {
                    return Vec::new();
                };
                let positions = range.oldest..=range.newest;
                match range.currency {
                    None => partition
                        .entries
                        .range(positions)
                        .rev()
                        .map(|(_, entry)| entry.clone())
                        .collect(),
                    Some(currency) => {
                        let mut entries: Vec<LedgerEntry> = partition
                            .entries
                            .values()
                            .filter(|e| {
                                e.currency == currency && positions.contains(&e.currency_seq)
                            })
                            .cloned()
                            .collect();
                        entries.sort_by_key(|e| std::cmp::Reverse(e.currency_seq));
                        entries
                    }
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
        _newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        Ok(self
            .read(|t| {
                let Some(partition) = t.partition(business_id, customer_id) else {
                    return Vec::new();
                };
                let matching = partition
                    .holds
                    .values()
                    .rev()
                    .filter(|h| query.status.is_none_or(|s| h.status == s))
                    .filter(|h| query.currency.is_none_or(|c| h.currency == c))
                    .cloned();
                page_of(matching, query.page)
            })
            .await)
    }

    /// Pending holds due at or before `now_ms`: the soonest and the most recently due (see
    /// [`both_ends`]). (DynamoDB answers shard by shard; the sweep does not depend on the order.)
    async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        Ok(self
            .read(|t| {
                let mut due: Vec<&Hold> = t
                    .partitions
                    .values()
                    .flat_map(|p| p.holds.values())
                    .filter(|h| h.status == HoldStatus::Pending && h.expires_at.unix_ms <= now_ms)
                    .collect();
                due.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
                both_ends(due, limit)
                    .into_iter()
                    .map(|h| HoldRef {
                        business_id: h.business_id.clone(),
                        customer_id: h.customer_id.clone(),
                        hold_id: h.id.clone(),
                    })
                    .collect()
            })
            .await)
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

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
