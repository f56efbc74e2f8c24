//! Webhook operations: endpoints (Dodo's `client.webhooks`), and delivery: the first attempt
//! right after the dispatcher records a delivery, retries found by the sweep, resends.
//!
//! A delivery is claimed before every attempt (a conditional write that sets a lease), so two
//! workers never attempt the same delivery at once; a worker that dies mid-attempt leaves the
//! delivery due again when its lease ends. Delivery is at least once: a receiver may see a
//! `webhook-id` again, never miss one.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};

use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, EndpointId, EventId, Timestamp};
use crate::ports::Store;
use crate::service::Service;

use super::model::*;
use super::rules::{self, ENDPOINTS_MAX, LEASE_MS};

/// Deliveries recorded at once by one dispatcher batch, and attempted at once by one sweep.
pub const ATTEMPTS_IN_FLIGHT: usize = 32;
/// Attempts of one endpoint at once in one deliverer run.
pub const PER_ENDPOINT_IN_FLIGHT: usize = 4;
/// Endpoints one deliverer run serves at once.
pub const ENDPOINTS_IN_FLIGHT: usize = 64;
/// Consecutive failed attempts of an endpoint that open its breaker for the rest of a run.
pub const BREAKER_FAILURES: u32 = 3;

/// What a deliverer did with one delivery.
enum Outcome {
    Succeeded,
    Failed,
    /// Put off: the endpoint's breaker is open.
    Postponed,
    /// Left due for the sweep: out of time, or the store failed.
    Left,
    /// Nothing to do: made already, or another worker's.
    Done,
}

/// The circuit breaker of one endpoint in one deliverer run: open after
/// [`BREAKER_FAILURES`] consecutive failed attempts; a success closes it.
#[derive(Default)]
struct Breaker {
    failures: std::sync::atomic::AtomicU32,
}

impl Breaker {
    fn open(&self) -> bool {
        self.failures.load(std::sync::atomic::Ordering::Relaxed) >= BREAKER_FAILURES
    }

    fn record(&self, succeeded: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if succeeded {
            self.failures.store(0, Relaxed);
        } else {
            self.failures.fetch_add(1, Relaxed);
        }
    }
}
/// Tries of a read-modify-write of an endpoint before answering `concurrent_update`.
const ENDPOINT_WRITE_TRIES: usize = 5;

/// A delivery this worker has claimed, with the endpoint it goes to.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub endpoint: Endpoint,
    pub delivery: Delivery,
}

fn not_found(id: &EndpointId) -> DomainError {
    DomainError::WebhookNotFound(id.to_string())
}

impl<S: Store, C: Clock> Service<S, C> {
    pub async fn create_endpoint(
        &self,
        tenant: &Tenant,
        new: NewEndpoint,
    ) -> DomainResult<Endpoint> {
        let now = self.now();
        let id = match &new.idempotency_key {
            Some(key) => EndpointId::derived(0, &format!("{}|{key}", tenant.business_id)),
            None => EndpointId::generate_at(now.unix_ms),
        };
        if let Some(existing) = self.store().get_endpoint(&tenant.business_id, &id).await? {
            return Ok(existing); // the same idempotency key: the endpoint it made
        }
        if self
            .store()
            .list_endpoints(&tenant.business_id)
            .await?
            .len()
            >= ENDPOINTS_MAX
        {
            return Err(crate::ValidationError::new(
                "too_many_endpoints",
                format!("a business may register at most {ENDPOINTS_MAX} webhook endpoints; delete one first"),
            )
            .into());
        }
        let endpoint = Endpoint {
            id,
            business_id: tenant.business_id.clone(),
            url: new.url,
            description: new.description,
            disabled: new.disabled,
            filter_types: new.filter_types,
            headers: new.headers,
            metadata: new.metadata,
            rate_limit: new.rate_limit,
            secret: rules::generate_secret(),
            version: 1,
            created_at: now,
            updated_at: now,
            created_by: crate::access::actor::current(),
            updated_by: None,
        };
        if self.store().insert_endpoint(&endpoint).await? {
            return Ok(endpoint);
        }
        // The same idempotency key raced us: answer what it made.
        self.get_endpoint(tenant, &endpoint.id).await
    }

    pub async fn get_endpoint(&self, tenant: &Tenant, id: &EndpointId) -> DomainResult<Endpoint> {
        self.store()
            .get_endpoint(&tenant.business_id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// A page of endpoints, oldest first, after `after`; and whether more follow.
    pub async fn list_endpoints(
        &self,
        tenant: &Tenant,
        after: Option<&EndpointId>,
        limit: usize,
    ) -> DomainResult<(Vec<Endpoint>, bool)> {
        let all = self.store().list_endpoints(&tenant.business_id).await?;
        let mut rest: Vec<Endpoint> = all
            .into_iter()
            .filter(|e| after.is_none_or(|after| e.id > *after))
            .collect();
        let more = rest.len() > limit;
        rest.truncate(limit);
        Ok((rest, more))
    }

    /// Applies a patch to the endpoint as it is now (re-read and retried if it changed meanwhile).
    pub async fn update_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        patch: &EndpointPatch,
    ) -> DomainResult<Endpoint> {
        for _ in 0..ENDPOINT_WRITE_TRIES {
            let current = self.get_endpoint(tenant, id).await?;
            if let Some(added) = &patch.headers {
                rules::merged_headers_fit(&current, added)?;
            }
            let next = rules::patched(&current, patch, self.now());
            if self.store().replace_endpoint(&next).await? {
                return Ok(next);
            }
        }
        Err(DomainError::Contention)
    }

    pub async fn delete_endpoint(&self, tenant: &Tenant, id: &EndpointId) -> DomainResult<()> {
        if self
            .store()
            .delete_endpoint(&tenant.business_id, id)
            .await?
        {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// Records one delivery per event and interested endpoint, and answers where the new ones
    /// are, for a deliverer to attempt ([`Service::deliver`]): recording never waits on a
    /// receiver. Each is due [`LEASE_MS`] later, so the sweep attempts it should no deliverer
    /// (the hand-over lost, the deliverer out of time); a deliverer attempts it at once.
    /// A delivery already recorded (the stream record read again) is left as it is. The
    /// endpoints of each business are read once; the deliveries are written several at once.
    pub async fn record_deliveries(
        &self,
        events: &[(Event, String)],
    ) -> DomainResult<Vec<DeliveryRef>> {
        let mut endpoints: HashMap<BusinessId, Vec<Endpoint>> = HashMap::new();
        for (event, _) in events {
            if !endpoints.contains_key(&event.business_id) {
                let found = self.store().list_endpoints(&event.business_id).await?;
                endpoints.insert(event.business_id.clone(), found);
            }
        }
        let now = self.now();
        let due = Timestamp::from_unix_ms(now.unix_ms + LEASE_MS);
        let candidates: Vec<Delivery> = events
            .iter()
            .flat_map(|(event, payload)| {
                endpoints[&event.business_id]
                    .iter()
                    .filter(|endpoint| endpoint.wants(event.event_type))
                    .map(|endpoint| Delivery {
                        id: event.id.clone(),
                        endpoint_id: endpoint.id.clone(),
                        business_id: event.business_id.clone(),
                        event_type: event.event_type,
                        payload: payload.clone(),
                        status: DeliveryStatus::Pending,
                        attempt_count: 0,
                        next_attempt_at: Some(due),
                        lease_until: None,
                        created_at: now,
                        updated_at: now,
                    })
            })
            .collect();
        let inserted: Vec<DomainResult<Option<DeliveryRef>>> = stream::iter(candidates)
            .map(|delivery| async move {
                let new = self.store().insert_delivery(&delivery).await?;
                Ok(new.then(|| DeliveryRef {
                    business_id: delivery.business_id,
                    endpoint_id: delivery.endpoint_id,
                    id: delivery.id,
                }))
            })
            .buffer_unordered(ATTEMPTS_IN_FLIGHT)
            .collect()
            .await;
        // Deliveries recorded before a failure stay recorded: the sweep attempts them when
        // they are due, and reading the records again skips them.
        inserted.into_iter().filter_map(Result::transpose).collect()
    }

    /// The deliverer's work: one attempt of each delivery of `work` that is still to be made
    /// (never attempted, or due at `now`), grouped by endpoint. At most
    /// [`PER_ENDPOINT_IN_FLIGHT`] attempts of one endpoint at once; after
    /// [`BREAKER_FAILURES`] consecutive failed attempts of an endpoint its breaker opens for
    /// this run, and its other deliveries are put off without an attempt, left as recorded for
    /// the sweep (due [`LEASE_MS`] after they were recorded). No delivery is claimed once
    /// `stop_claiming_at` has passed: what is left stays due for the sweep.
    /// Errors of the store are logged per delivery and leave it for the sweep.
    pub async fn deliver<W: WebhookSender>(
        &self,
        sender: &W,
        work: Vec<DeliveryRef>,
        now: Timestamp,
        stop_claiming_at: std::time::Instant,
    ) -> DeliveryReport {
        let mut groups: Vec<(BusinessId, EndpointId, Vec<EventId>)> = Vec::new();
        let mut index: HashMap<(BusinessId, EndpointId), usize> = HashMap::new();
        for item in work {
            let key = (item.business_id.clone(), item.endpoint_id.clone());
            let at = *index.entry(key).or_insert_with(|| {
                groups.push((item.business_id.clone(), item.endpoint_id.clone(), Vec::new()));
                groups.len() - 1
            });
            groups[at].2.push(item.id);
        }
        let reports: Vec<DeliveryReport> = stream::iter(groups)
            .map(|(business, endpoint, ids)| {
                self.deliver_to(sender, business, endpoint, ids, now, stop_claiming_at)
            })
            .buffer_unordered(ENDPOINTS_IN_FLIGHT)
            .collect()
            .await;
        reports
            .into_iter()
            .fold(DeliveryReport::default(), |mut sum, r| {
                sum.deliveries += r.deliveries;
                sum.succeeded += r.succeeded;
                sum.failed += r.failed;
                sum.postponed += r.postponed;
                sum.left += r.left;
                sum
            })
    }

    /// [`Service::deliver`] for the deliveries of one endpoint.
    async fn deliver_to<W: WebhookSender>(
        &self,
        sender: &W,
        business: BusinessId,
        endpoint_id: EndpointId,
        ids: Vec<EventId>,
        now: Timestamp,
        stop_claiming_at: std::time::Instant,
    ) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let endpoint = match self.store().get_endpoint(&business, &endpoint_id).await {
            Ok(endpoint) => endpoint,
            Err(error) => {
                tracing::warn!(%error, endpoint = %endpoint_id, "endpoint not read; its deliveries are left to the sweep");
                report.left = ids.len();
                return report;
            }
        };
        let breaker = Breaker::default();
        let outcomes: Vec<Outcome> = stream::iter(ids)
            .map(|id| {
                let (business, endpoint_id, endpoint, breaker) =
                    (&business, &endpoint_id, endpoint.as_ref(), &breaker);
                async move {
                    self.deliver_one(sender, business, endpoint_id, endpoint, &id, now, stop_claiming_at, breaker)
                        .await
                        .unwrap_or_else(|error| {
                            tracing::warn!(%error, delivery = %id, "delivery left to the sweep");
                            Outcome::Left
                        })
                }
            })
            .buffer_unordered(PER_ENDPOINT_IN_FLIGHT)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Outcome::Succeeded => {
                    report.deliveries += 1;
                    report.succeeded += 1;
                }
                Outcome::Failed => {
                    report.deliveries += 1;
                    report.failed += 1;
                }
                Outcome::Postponed => report.postponed += 1,
                Outcome::Left => report.left += 1,
                Outcome::Done => {}
            }
        }
        report
    }

    /// One delivery of [`Service::deliver_to`].
    #[allow(clippy::too_many_arguments)]
    async fn deliver_one<W: WebhookSender>(
        &self,
        sender: &W,
        business: &BusinessId,
        endpoint_id: &EndpointId,
        endpoint: Option<&Endpoint>,
        id: &EventId,
        now: Timestamp,
        stop_claiming_at: std::time::Instant,
        breaker: &Breaker,
    ) -> DomainResult<Outcome> {
        if std::time::Instant::now() >= stop_claiming_at {
            return Ok(Outcome::Left);
        }
        if breaker.open() {
            // Left as recorded: due for the sweep at its `next_attempt_at` (a new delivery's is
            // [`LEASE_MS`] after it was recorded). Not even read: an open breaker costs nothing.
            return Ok(Outcome::Postponed);
        }
        let store = self.store();
        let Some((delivery, _)) = store.get_delivery(business, endpoint_id, id).await? else {
            return Ok(Outcome::Done);
        };
        let to_make = delivery.status == DeliveryStatus::Pending
            && !delivery.lease_until.is_some_and(|lease| lease > now)
            && (delivery.attempt_count == 0
                || delivery.next_attempt_at.is_some_and(|at| at <= now));
        if !to_make {
            return Ok(Outcome::Done); // made, or another worker's
        }
        let Some(endpoint) = endpoint.filter(|e| !e.disabled) else {
            self.abandon(&delivery, now).await?;
            return Ok(Outcome::Failed);
        };
        let Some(claimed) = self.claim(&delivery, now).await? else {
            return Ok(Outcome::Done);
        };
        let (next, _) = self.attempt(sender, endpoint, &claimed).await?;
        let succeeded = next.status == DeliveryStatus::Succeeded;
        breaker.record(succeeded);
        Ok(if succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        })
    }

    /// Marks failed, without an attempt, a delivery whose endpoint was deleted or disabled.
    async fn abandon(&self, delivery: &Delivery, now: Timestamp) -> DomainResult<bool> {
        let mut failed = delivery.clone();
        failed.status = DeliveryStatus::Failed;
        failed.next_attempt_at = None;
        failed.lease_until = None;
        failed.updated_at = now;
        self.store().update_delivery(&failed, delivery, None).await
    }

    /// Makes one attempt of each claimed delivery, several at once, and records each.
    pub async fn attempt_all<W: WebhookSender>(
        &self,
        sender: &W,
        claimed: Vec<Claimed>,
    ) -> DeliveryReport {
        let results: Vec<DomainResult<bool>> = stream::iter(claimed)
            .map(|c| async move {
                self.attempt(sender, &c.endpoint, &c.delivery)
                    .await
                    .map(|(d, _)| d.status == DeliveryStatus::Succeeded)
            })
            .buffer_unordered(ATTEMPTS_IN_FLIGHT)
            .collect()
            .await;
        let mut report = DeliveryReport {
            deliveries: results.len(),
            ..DeliveryReport::default()
        };
        for result in results {
            match result {
                Ok(true) => report.succeeded += 1,
                Ok(false) => report.failed += 1,
                Err(error) => {
                    // The claim lapses and the sweep tries again.
                    tracing::warn!(%error, "recording a delivery attempt failed");
                    report.failed += 1;
                }
            }
        }
        report
    }

    /// Sends a claimed delivery once and records the attempt with what follows: succeeded, due
    /// again by the schedule, or failed when the schedule is spent.
    async fn attempt<W: WebhookSender>(
        &self,
        sender: &W,
        endpoint: &Endpoint,
        claimed: &Delivery,
    ) -> DomainResult<(Delivery, Attempt)> {
        let started = self.now();
        let outbound = Outbound {
            url: endpoint.url.clone(),
            message_id: claimed.id.to_string(),
            timestamp_s: (started.unix_ms / 1_000) as i64,
            body: claimed.payload.clone(),
            secret: endpoint.secret.clone(),
            headers: endpoint.headers.clone(),
        };
        let result = sender.send(&outbound).await;
        let now = self.now();
        let number = claimed.attempt_count + 1;
        let mut next = claimed.clone();
        next.attempt_count = number;
        next.lease_until = None;
        next.updated_at = now;
        if result.succeeded() {
            next.status = DeliveryStatus::Succeeded;
            next.next_attempt_at = None;
        } else {
            next.next_attempt_at = rules::next_attempt_at(now, number, rules::random_jitter());
            next.status = match next.next_attempt_at {
                Some(_) => DeliveryStatus::Pending,
                None => DeliveryStatus::Failed,
            };
        }
        let attempt = Attempt {
            number,
            attempted_at: started,
            result,
        };
        if !self
            .store()
            .update_delivery(&next, claimed, Some(&attempt))
            .await?
        {
            tracing::warn!(delivery = %claimed.id, "the delivery changed during its attempt; this attempt is not logged");
        }
        Ok((next, attempt))
    }

    /// Claims a delivery for an attempt now: `None` if another worker holds it or it changed.
    async fn claim(&self, delivery: &Delivery, now: Timestamp) -> DomainResult<Option<Delivery>> {
        if delivery.lease_until.is_some_and(|lease| lease > now) {
            return Ok(None);
        }
        let lease = Timestamp::from_unix_ms(now.unix_ms + LEASE_MS);
        let mut claimed = delivery.clone();
        claimed.lease_until = Some(lease);
        if claimed.status == DeliveryStatus::Pending {
            claimed.next_attempt_at = Some(lease);
        }
        let won = self
            .store()
            .update_delivery(&claimed, delivery, None)
            .await?;
        Ok(won.then_some(claimed))
    }

    /// The sweep's step: attempts at most `limit` deliveries due at or before `now`. A delivery
    /// whose endpoint was deleted or disabled meanwhile is marked failed without an attempt.
    pub async fn retry_deliveries<W: WebhookSender>(
        &self,
        sender: &W,
        now: Timestamp,
        limit: usize,
    ) -> DomainResult<DeliveryReport> {
        let mut claimed = Vec::new();
        let mut abandoned = 0;
        for found in self.store().due_deliveries(now.unix_ms, limit).await? {
            let store = self.store();
            let Some((delivery, _)) = store
                .get_delivery(&found.business_id, &found.endpoint_id, &found.id)
                .await?
            else {
                continue;
            };
            let due = delivery.status == DeliveryStatus::Pending
                && delivery.next_attempt_at.is_some_and(|at| at <= now);
            if !due {
                continue;
            }
            let endpoint = store
                .get_endpoint(&found.business_id, &found.endpoint_id)
                .await?;
            match endpoint {
                Some(endpoint) if !endpoint.disabled => {
                    if let Some(delivery) = self.claim(&delivery, now).await? {
                        claimed.push(Claimed { endpoint, delivery });
                    }
                }
                _ => abandoned += usize::from(self.abandon(&delivery, now).await?),
            }
        }
        let mut report = self.attempt_all(sender, claimed).await;
        report.deliveries += abandoned;
        report.failed += abandoned;
        Ok(report)
    }

    pub async fn list_deliveries(
        &self,
        tenant: &Tenant,
        endpoint_id: &EndpointId,
        query: &DeliveryQuery,
    ) -> DomainResult<Vec<Delivery>> {
        self.get_endpoint(tenant, endpoint_id).await?;
        self.store()
            .list_deliveries(&tenant.business_id, endpoint_id, query)
            .await
    }

    pub async fn get_delivery(
        &self,
        tenant: &Tenant,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> DomainResult<(Delivery, Vec<Attempt>)> {
        self.get_endpoint(tenant, endpoint_id).await?;
        self.store()
            .get_delivery(&tenant.business_id, endpoint_id, id)
            .await?
            .ok_or_else(|| DomainError::DeliveryNotFound(id.to_string()))
    }

    /// Sends a delivery again now, with the same `webhook-id`, whatever its status; answers it
    /// with every attempt. A delivery being attempted right now answers `delivery_in_flight`.
    pub async fn resend_delivery<W: WebhookSender>(
        &self,
        sender: &W,
        tenant: &Tenant,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> DomainResult<(Delivery, Vec<Attempt>)> {
        let endpoint = self.get_endpoint(tenant, endpoint_id).await?;
        let (delivery, mut attempts) = self.get_delivery(tenant, endpoint_id, id).await?;
        let Some(claimed) = self.claim(&delivery, self.now()).await? else {
            return Err(DomainError::DeliveryInFlight(id.to_string()));
        };
        let (delivery, attempt) = self.attempt(sender, &endpoint, &claimed).await?;
        attempts.push(attempt);
        Ok((delivery, attempts))
    }
}
