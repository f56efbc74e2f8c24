//! A store that notes the name of every port method called on it, then passes the call to the
//! store it wraps: which store calls an operation can make (`tests/tests/routes.rs` checks each
//! route's against its function's policy, through `adapters::dynamo::permissions`).

mod links;
mod payins;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::access::model::ApiKey;
use crate::access::model::FormClaim;
use crate::access::model::Session;
use crate::change::model::{Change, Rejection};
use crate::customers::model::{Customer, CustomerQuery, CustomerRevision};
use crate::error::{DomainResult, Original};
use crate::holds::model::{Hold, HoldQuery, HoldRef};
use crate::invoices::model::InvoicePayment;
use crate::kernel::Currency;
use crate::kernel::{
    BusinessId, CustomerId, EndpointId, EventId, HoldId, IdempotencyKey, InvoiceId, Timestamp,
};
use crate::ledger::model::{CustomerWallets, EntryAt, EntryRange, LedgerEntry};
use crate::ports::{
    CustomerStore, HoldStore, InvoiceStore, KeyStore, LedgerStore, TotalsStore, WalletStore,
    WebhookStore,
};
use crate::reports::model::{Day, DayTotals, Movement};
use crate::webhooks::model::{Attempt, Delivery, DeliveryQuery, DeliveryRef, Endpoint};

/// `inner`, noting the methods called. Clones share the notes.
#[derive(Clone, Default)]
pub struct RecordingStore<S> {
    inner: S,
    called: Arc<Mutex<BTreeSet<&'static str>>>,
    /// How many times each method was called, ever.
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl<S> RecordingStore<S> {
    pub fn new(inner: S) -> RecordingStore<S> {
        RecordingStore {
            inner,
            called: Arc::default(),
            counts: Arc::default(),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The methods called since the last `take`, and forgets them.
    pub fn take(&self) -> BTreeSet<&'static str> {
        std::mem::take(&mut *self.called.lock().expect("recording lock"))
    }

    /// How many times `method` was called since this store was made.
    pub fn calls(&self, method: &str) -> u64 {
        let counts = self.counts.lock().expect("recording lock");
        counts.get(method).copied().unwrap_or(0)
    }

    fn note(&self, method: &'static str) {
        self.called.lock().expect("recording lock").insert(method);
        *self
            .counts
            .lock()
            .expect("recording lock")
            .entry(method)
            .or_default() += 1;
    }
}

impl<S: KeyStore> KeyStore for RecordingStore<S> {
    async fn key_by_hash(&self, key_hash: &str) -> DomainResult<Option<ApiKey>> {
        self.note("key_by_hash");
        self.inner.key_by_hash(key_hash).await
    }

    async fn list_keys(&self, business_id: &BusinessId) -> DomainResult<Vec<ApiKey>> {
        self.note("list_keys");
        self.inner.list_keys(business_id).await
    }

    async fn touch_key(&self, key_hash: &str, now: Timestamp, every_ms: u64) -> DomainResult<()> {
        self.note("touch_key");
        self.inner.touch_key(key_hash, now, every_ms).await
    }

    async fn end_key(&self, key_hash: &str, at: Timestamp, revoke: bool) -> DomainResult<()> {
        self.note("end_key");
        self.inner.end_key(key_hash, at, revoke).await
    }

    async fn put_session(&self, session: &Session) -> DomainResult<()> {
        self.note("put_session");
        self.inner.put_session(session).await
    }

    async fn session_by_hash(&self, id_hash: &str) -> DomainResult<Option<Session>> {
        self.note("session_by_hash");
        self.inner.session_by_hash(id_hash).await
    }

    async fn touch_session(&self, session: &Session, every_ms: u64) -> DomainResult<()> {
        self.note("touch_session");
        self.inner.touch_session(session, every_ms).await
    }

    async fn end_session(&self, id_hash: &str) -> DomainResult<()> {
        self.note("end_session");
        self.inner.end_session(id_hash).await
    }

    async fn claim_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        expires_s: u64,
    ) -> DomainResult<FormClaim> {
        self.note("claim_form");
        self.inner.claim_form(business_id, key, expires_s).await
    }

    async fn finish_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        result: &str,
    ) -> DomainResult<()> {
        self.note("finish_form");
        self.inner.finish_form(business_id, key, result).await
    }

    async fn release_form(&self, business_id: &BusinessId, key: &str) -> DomainResult<()> {
        self.note("release_form");
        self.inner.release_form(business_id, key).await
    }
}

impl<S: CustomerStore> CustomerStore for RecordingStore<S> {
    async fn business_name(&self, business_id: &BusinessId) -> DomainResult<Option<String>> {
        self.note("business_name");
        self.inner.business_name(business_id).await
    }

    async fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Customer>> {
        self.note("get_customer");
        self.inner.get_customer(business_id, customer_id).await
    }

    async fn get_customer_revision(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerRevision>> {
        self.note("get_customer_revision");
        self.inner
            .get_customer_revision(business_id, customer_id)
            .await
    }

    async fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        self.note("list_customers");
        self.inner.list_customers(business_id, query).await
    }

    async fn customers_after(
        &self,
        business_id: &BusinessId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> DomainResult<Vec<CustomerId>> {
        self.note("customers_after");
        self.inner.customers_after(business_id, after, limit).await
    }
}

impl<S: WalletStore> WalletStore for RecordingStore<S> {
    async fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerWallets>> {
        self.note("get_wallets");
        self.inner.get_wallets(business_id, customer_id).await
    }

    async fn has_receipt(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        token: &str,
    ) -> DomainResult<bool> {
        self.note("has_receipt");
        self.inner
            .has_receipt(business_id, customer_id, token)
            .await
    }

    async fn commit(&self, change: &Change) -> DomainResult<Result<(), Rejection>> {
        self.note("commit");
        self.inner.commit(change).await
    }

    async fn due_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<(BusinessId, CustomerId)>> {
        self.note("due_top_ups");
        self.inner.due_top_ups(now_ms, limit).await
    }

    async fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<Original>> {
        self.note("original_for_key");
        self.inner.original_for_key(business_id, key).await
    }
}

impl<S: LedgerStore> LedgerStore for RecordingStore<S> {
    async fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        self.note("list_entries");
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
        self.note("get_entry");
        self.inner
            .get_entry(business_id, customer_id, currency, position)
            .await
    }
}

impl<S: HoldStore> HoldStore for RecordingStore<S> {
    async fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Option<Hold>> {
        self.note("get_hold");
        self.inner.get_hold(business_id, customer_id, hold_id).await
    }

    async fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        self.note("list_holds");
        self.inner
            .list_holds(business_id, customer_id, query, newest_chunk)
            .await
    }

    async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        self.note("expired_holds");
        self.inner.expired_holds(now_ms, limit).await
    }
}

impl<S: InvoiceStore> InvoiceStore for RecordingStore<S> {
    async fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> DomainResult<Option<InvoicePayment>> {
        self.note("get_invoice_payment");
        self.inner
            .get_invoice_payment(business_id, customer_id, invoice_id)
            .await
    }
}

impl<S: WebhookStore> WebhookStore for RecordingStore<S> {
    async fn insert_endpoint(&self, endpoint: &Endpoint, listed: usize) -> DomainResult<bool> {
        self.note("insert_endpoint");
        self.inner.insert_endpoint(endpoint, listed).await
    }

    async fn replace_endpoint(&self, endpoint: &Endpoint) -> DomainResult<bool> {
        self.note("replace_endpoint");
        self.inner.replace_endpoint(endpoint).await
    }

    async fn delete_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<bool> {
        self.note("delete_endpoint");
        self.inner.delete_endpoint(business_id, endpoint_id).await
    }

    async fn get_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<Option<Endpoint>> {
        self.note("get_endpoint");
        self.inner.get_endpoint(business_id, endpoint_id).await
    }

    async fn list_endpoints(&self, business_id: &BusinessId) -> DomainResult<Vec<Endpoint>> {
        self.note("list_endpoints");
        self.inner.list_endpoints(business_id).await
    }

    async fn insert_delivery(&self, delivery: &Delivery) -> DomainResult<bool> {
        self.note("insert_delivery");
        self.inner.insert_delivery(delivery).await
    }

    async fn update_delivery(
        &self,
        delivery: &Delivery,
        seen: &Delivery,
        attempt: Option<&Attempt>,
    ) -> DomainResult<bool> {
        self.note("update_delivery");
        self.inner.update_delivery(delivery, seen, attempt).await
    }

    async fn get_delivery(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> DomainResult<Option<(Delivery, Vec<Attempt>)>> {
        self.note("get_delivery");
        self.inner.get_delivery(business_id, endpoint_id, id).await
    }

    async fn list_deliveries(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        query: &DeliveryQuery,
    ) -> DomainResult<Vec<Delivery>> {
        self.note("list_deliveries");
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
        self.note("take_delivery_slot");
        self.inner
            .take_delivery_slot(business_id, endpoint_id, second, limit)
            .await
    }

    async fn due_deliveries(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<DeliveryRef>> {
        self.note("due_deliveries");
        self.inner.due_deliveries(now_ms, limit).await
    }
}

impl<S: TotalsStore> TotalsStore for RecordingStore<S> {
    async fn apply_movement(&self, movement: &Movement) -> DomainResult<bool> {
        self.note("apply_movement");
        self.inner.apply_movement(movement).await
    }

    async fn day_totals(
        &self,
        business_id: &BusinessId,
        currency: Currency,
        to: &Day,
    ) -> DomainResult<Vec<DayTotals>> {
        self.note("day_totals");
        self.inner.day_totals(business_id, currency, to).await
    }
}
