//! What the domain needs from the outside, named for the need: keys, customers, wallet state and
//! its writes, the ledger, holds, invoice payments (and a clock, in `kernel::clock`). Events and a
//! payment gateway arrive here as traits of their own. Adapters: `adapters::dynamo` (the
//! functions) and `adapters::memory` (unit tests).

use std::future::Future;

use crate::access::model::ApiKey;
use crate::access::model::FormClaim;
use crate::access::model::Session;
use crate::change::model::{Change, Rejection};
use crate::customers::model::{Customer, CustomerQuery, CustomerRevision};
use crate::error::{DomainResult, Original};
use crate::holds::model::{Hold, HoldQuery, HoldRef};
use crate::invoices::model::InvoicePayment;
use crate::kernel::paging::PageRequest;
use crate::kernel::Currency;
use crate::kernel::{BusinessId, CustomerId, HoldId, IdempotencyKey, InvoiceId};
use crate::kernel::{EndpointId, EventId, Timestamp};
use crate::ledger::model::{CustomerWallets, EntryAt, EntryRange, LedgerEntry};
use crate::payins::model::{CardTopUp, CardTopUpRef};
use crate::portal::model::PortalSettings;
use crate::reports::model::{Day, DayTotals, Movement};
use crate::webhooks::model::{Attempt, Delivery, DeliveryQuery, DeliveryRef, Endpoint};

/// API keys.
pub trait KeyStore: Send + Sync {
    /// The key with this hash.
    fn key_by_hash(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = DomainResult<Option<ApiKey>>> + Send;
    /// Every key of the business.
    fn list_keys(
        &self,
        business_id: &BusinessId,
    ) -> impl Future<Output = DomainResult<Vec<ApiKey>>> + Send;
    /// Records a use at `now` unless one was recorded less than `every_ms` before (condition).
    fn touch_key(
        &self,
        key_hash: &str,
        now: Timestamp,
        every_ms: u64,
    ) -> impl Future<Output = DomainResult<()>> + Send;
    /// Ends a key at `at`: revoked (`revoked_at`), or expiring then (a rotation's grace).
    fn end_key(
        &self,
        key_hash: &str,
        at: Timestamp,
        revoke: bool,
    ) -> impl Future<Output = DomainResult<()>> + Send;
    /// Writes a new dashboard session (condition: no session has its id hash).
    fn put_session(&self, session: &Session) -> impl Future<Output = DomainResult<()>> + Send;
    /// The session with this id hash (a strongly consistent read: the page after sign-in finds
    /// it), whether or not it is still open.
    fn session_by_hash(
        &self,
        id_hash: &str,
    ) -> impl Future<Output = DomainResult<Option<Session>>> + Send;
    /// Records `session.seen_at` (and moves its TTL) unless a use was recorded less than
    /// `every_ms` before it, or the session is gone (conditions).
    fn touch_session(
        &self,
        session: &Session,
        every_ms: u64,
    ) -> impl Future<Output = DomainResult<()>> + Send;
    /// Deletes a session (signed out).
    fn end_session(&self, id_hash: &str) -> impl Future<Output = DomainResult<()>> + Send;
    /// Claims a dashboard form's key (condition: unclaimed), kept until `expires_s`; or tells
    /// what the earlier claim came to.
    fn claim_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        expires_s: u64,
    ) -> impl Future<Output = DomainResult<FormClaim>> + Send;
    /// Records the result of a claimed form.
    fn finish_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        result: &str,
    ) -> impl Future<Output = DomainResult<()>> + Send;
    /// Drops the claim of a form whose work failed (changing nothing).
    fn release_form(
        &self,
        business_id: &BusinessId,
        key: &str,
    ) -> impl Future<Output = DomainResult<()>> + Send;
}

/// Customers of a business.
pub trait CustomerStore: Send + Sync {
    /// The business's name (a top-up link's page names it); `None` for no such business.
    fn business_name(
        &self,
        business_id: &BusinessId,
    ) -> impl Future<Output = DomainResult<Option<String>>> + Send;
    fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Option<Customer>>> + Send;
    /// The customer read consistently, with the revision a replacement must still find.
    fn get_customer_revision(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Option<CustomerRevision>>> + Send;
    fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> impl Future<Output = DomainResult<Vec<Customer>>> + Send;
    /// The ids of the business's customers after `after` (from the first when `None`), in id
    /// order, at most `limit` (one query; fewer does not mean the last, none does).
    fn customers_after(
        &self,
        business_id: &BusinessId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<CustomerId>>> + Send;
}

/// The state every change reads and the one way to write: a [`Change`].
pub trait WalletStore: Send + Sync {
    /// The customer's wallets, read consistently; `None` if the customer does not exist.
    fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Option<CustomerWallets>>> + Send;
    /// Writes every write of `change` with its condition, all or nothing.
    fn commit(
        &self,
        change: &Change,
    ) -> impl Future<Output = DomainResult<Result<(), Rejection>>> + Send;
    /// Whether the change named `token` left its receipt (`Write::Receipt`), read consistently.
    fn has_receipt(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        token: &str,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// Customers of every business whose wallets have top-up work due at or before `now_ms`
    /// (sparse index), about `limit` (DynamoDB rounds it up to equal parts per shard): from
    /// every shard of the index, its soonest due and its most recently due halves (so neither
    /// a backlog in one shard nor an old backlog hides work that fell due since the last run).
    fn due_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<(BusinessId, CustomerId)>>> + Send;
    /// The record that first used an idempotency key, if any.
    fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> impl Future<Output = DomainResult<Option<Original>>> + Send;
}

/// Reading the ledger.
pub trait LedgerStore: Send + Sync {
    /// The entries in `range`, newest first, read consistently.
    fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> impl Future<Output = DomainResult<Vec<LedgerEntry>>> + Send;
    /// The entry at `position` of the customer's ledger (`currency: None`) or of one currency's,
    /// read consistently (one `GetItem`); `None` when there is none.
    fn get_entry(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Option<Currency>,
        position: u64,
    ) -> impl Future<Output = DomainResult<Option<EntryAt>>> + Send;
}

/// Reading holds.
pub trait HoldStore: Send + Sync {
    fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> impl Future<Output = DomainResult<Option<Hold>>> + Send;
    /// Newest first, from the customer's hold chunk `newest_chunk` down to chunk 0.
    fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        newest_chunk: u64,
    ) -> impl Future<Output = DomainResult<Vec<Hold>>> + Send;
    /// Pending holds of every business whose expiry is at or before `now_ms`, about `limit`,
    /// read as [`WalletStore::due_top_ups`] reads.
    fn expired_holds(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<HoldRef>>> + Send;
}

/// Reading invoice payments.
pub trait InvoiceStore: Send + Sync {
    fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> impl Future<Output = DomainResult<Option<InvoicePayment>>> + Send;
}

/// Card top-ups (`payins`) and the gateway's webhook events already handled.
pub trait PayinStore: Send + Sync {
    /// The top-up, read consistently; `None` if the customer has none with this id.
    fn get_card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        id: &str,
    ) -> impl Future<Output = DomainResult<Option<CardTopUp>>> + Send;
    /// The customer's top-ups, newest first, one page.
    fn list_card_top_ups(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        page: PageRequest,
    ) -> impl Future<Output = DomainResult<Vec<CardTopUp>>> + Send;
    /// Pending top-ups of every business due for reconciliation at or before `now_ms` (sparse
    /// index), about `limit`, read as [`WalletStore::due_top_ups`] reads.
    fn pending_card_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<CardTopUpRef>>> + Send;
    /// Whether the gateway's event with this id was handled (recorded by
    /// [`record_gateway_event`](Self::record_gateway_event)).
    fn gateway_event_seen(&self, event_id: &str)
        -> impl Future<Output = DomainResult<bool>> + Send;
    /// Records that the gateway's event was handled, kept until `expires_s` (unix seconds).
    /// Condition: not recorded yet; a second record is no error (`false`).
    fn record_gateway_event(
        &self,
        event_id: &str,
        expires_s: u64,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
}

/// Reading top-up links (they are written by changes: `Write::NewTopUpLink` and the others).
pub trait TopUpLinkStore: Send + Sync {
    /// The business's link with this id, read consistently.
    fn get_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &crate::kernel::TopUpLinkId,
    ) -> impl Future<Output = DomainResult<Option<crate::payins::links::TopUpLink>>> + Send;
    /// The customer's links, newest first (an index: a link made a moment ago may be missing).
    fn list_top_up_links(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &crate::payins::links::TopUpLinkQuery,
    ) -> impl Future<Output = DomainResult<Vec<crate::payins::links::TopUpLink>>> + Send;
    /// Active links of every business whose expiry is at or before `now_ms`, about `limit`,
    /// read as [`WalletStore::due_top_ups`] reads.
    fn expired_top_up_links(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<crate::payins::links::TopUpLinkRef>>> + Send;
}

/// Webhook endpoints and deliveries. Every write is conditional; `false` means its condition
/// failed (the id is taken, or the record changed since it was read).
pub trait WebhookStore: Send + Sync {
    /// A new endpoint. Conditions: its id is unused (else `false`), and its business has fewer
    /// than [`ENDPOINTS_MAX`](crate::webhooks::rules::ENDPOINTS_MAX) endpoints (else the error
    /// `too_many_endpoints`), however many inserts race. `listed` is how many endpoints the
    /// caller found: the count a store that keeps a counter starts from when it has none yet.
    fn insert_endpoint(
        &self,
        endpoint: &Endpoint,
        listed: usize,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// A changed endpoint. Condition: it is still at `endpoint.version - 1`.
    fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    fn delete_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    fn get_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> impl Future<Output = DomainResult<Option<Endpoint>>> + Send;
    /// Every endpoint of the business (a few at most), oldest first, read consistently.
    fn list_endpoints(
        &self,
        business_id: &BusinessId,
    ) -> impl Future<Output = DomainResult<Vec<Endpoint>>> + Send;
    /// A new delivery, due at its lease or next attempt. Condition: none exists for this event
    /// and endpoint.
    fn insert_delivery(
        &self,
        delivery: &Delivery,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// A delivery after a claim or an attempt (`attempt`, logged in the same write). Condition:
    /// it still has `seen`'s attempt count and lease, so two workers never both act on one
    /// reading.
    fn update_delivery(
        &self,
        delivery: &Delivery,
        seen: &Delivery,
        attempt: Option<&Attempt>,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// The delivery and its attempts, oldest first.
    fn get_delivery(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> impl Future<Output = DomainResult<Option<(Delivery, Vec<Attempt>)>>> + Send;
    fn list_deliveries(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        query: &DeliveryQuery,
    ) -> impl Future<Output = DomainResult<Vec<Delivery>>> + Send;
    /// Takes one of the `limit` delivery slots of an endpoint in the clock second `second`
    /// (unix seconds): `false` when all are taken. One conditional write, counted in the store,
    /// so an endpoint's `rate_limit` holds however many workers deliver to it at once.
    fn take_delivery_slot(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        second: u64,
        limit: u32,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// Pending deliveries of every business due at or before `now_ms` (sparse index), about
    /// `limit`, read as [`WalletStore::due_top_ups`] reads.
    fn due_deliveries(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<DeliveryRef>>> + Send;
}

/// The day totals the stream keeps (`reports`).
pub trait TotalsStore: Send + Sync {
    /// Adds `movement` into its days' totals and records its version as the customer's last
    /// added, all or nothing, unless that version or a later one was added: then `false`, and
    /// nothing is written (a stream record given again).
    fn apply_movement(
        &self,
        movement: &Movement,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// The business's stored day totals in `currency` up to `to` (inclusive), oldest first.
    fn day_totals(
        &self,
        business_id: &BusinessId,
        currency: Currency,
        to: &Day,
    ) -> impl Future<Output = DomainResult<Vec<DayTotals>>> + Send;
}

/// The customer portal: a business's settings, the revocation of a customer's portal links, and
/// attempt counters of the rate limits (`portal`).
pub trait PortalStore: Send + Sync {
    /// The business's stored portal settings (`None`: never set).
    fn get_portal_settings(
        &self,
        business_id: &BusinessId,
    ) -> impl Future<Output = DomainResult<Option<PortalSettings>>> + Send;
    /// Writes the settings. Condition: the stored ones are at `settings.version - 1` (none
    /// stored for version 1); `false` when they are not (a concurrent change: read again).
    fn put_portal_settings(
        &self,
        business_id: &BusinessId,
        settings: &PortalSettings,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
    /// The last revocation of the customer's portal links: every token issued at or before it
    /// is void.
    fn portal_revoked_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Option<Timestamp>>> + Send;
    /// Records a revocation at `at`. Condition: no later one is recorded (a revocation never
    /// moves back).
    fn revoke_portal(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> impl Future<Output = DomainResult<()>> + Send;
    /// Takes one of the `limit` attempts of `scope` in the window numbered `window` (a counter
    /// per scope and window, kept until `expires_s`, unix seconds): `false` when all are taken.
    /// One conditional write, so the limit holds however many instances take at once.
    fn take_attempt(
        &self,
        scope: &str,
        window: u64,
        limit: u32,
        expires_s: u64,
    ) -> impl Future<Output = DomainResult<bool>> + Send;
}

/// Every port a store adapter provides; the service needs all of them.
pub trait Store:
    KeyStore
    + CustomerStore
    + WalletStore
    + LedgerStore
    + HoldStore
    + InvoiceStore
    + WebhookStore
    + TotalsStore
    + PayinStore
    + PortalStore
    + TopUpLinkStore
{
}

impl<T> Store for T where
    T: KeyStore
        + CustomerStore
        + WalletStore
        + LedgerStore
        + HoldStore
        + InvoiceStore
        + WebhookStore
        + TotalsStore
        + PayinStore
        + PortalStore
        + TopUpLinkStore
{
}
