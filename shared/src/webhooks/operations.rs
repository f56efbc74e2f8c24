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
use crate::sweep::{self, Step};

use super::model::*;
use super::rules::{self, ENDPOINTS_MAX, LEASE_MS};

/// Deliveries attempted at once by one dispatcher batch or sweep.
pub const ATTEMPTS_IN_FLIGHT: usize = 32;
/// Tries of a read-modify-write of an endpoint before answering `concurrent_update`.
const ENDPOINT_WRITE_TRIES: usize = 5;

/// What became of a delivery the sweep found due.
enum Due {
    Claimed(Box<Claimed>),
    /// Its endpoint is gone or disabled: marked failed.
    Abandoned,
    /// Not due any more, or another worker holds it.
    Skipped,
}

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

    /// Records one delivery per event and interested endpoint, each claimed by this worker for
    /// its first attempt (and due for the sweep when the claim lapses, should this worker die).
    /// A delivery already recorded (the stream record read again) is left to its owner. The
    /// endpoints of each business are read once; the deliveries are written several at once.
    pub async fn record_deliveries(
        &self,
        events: &[(Event, String)],
    ) -> DomainResult<Vec<Claimed>> {
        let mut endpoints: HashMap<BusinessId, Vec<Endpoint>> = HashMap::new();
        for (event, _) in events {
            if !endpoints.contains_key(&event.business_id) {
                let found = self.store().list_endpoints(&event.business_id).await?;
                endpoints.insert(event.business_id.clone(), found);
            }
        }
        let now = self.now();
        let lease = Timestamp::from_unix_ms(now.unix_ms + LEASE_MS);
        let candidates: Vec<Claimed> = events
            .iter()
            .flat_map(|(event, payload)| {
                endpoints[&event.business_id]
                    .iter()
                    .filter(|endpoint| endpoint.wants(event.event_type))
                    .map(|endpoint| Claimed {
                        endpoint: endpoint.clone(),
                        delivery: Delivery {
                            id: event.id.clone(),
                            endpoint_id: endpoint.id.clone(),
                            business_id: event.business_id.clone(),
                            event_type: event.event_type,
                            payload: payload.clone(),
                            status: DeliveryStatus::Pending,
                            attempt_count: 0,
                            next_attempt_at: Some(lease),
                            lease_until: Some(lease),
                            created_at: now,
                            updated_at: now,
                        },
                    })
            })
            .collect();
        let inserted: Vec<DomainResult<Option<Claimed>>> = stream::iter(candidates)
            .map(|candidate| async move {
                let new = self.store().insert_delivery(&candidate.delivery).await?;
                Ok(new.then_some(candidate))
            })
            .buffer_unordered(ATTEMPTS_IN_FLIGHT)
            .collect()
            .await;
        // Deliveries recorded before a failure stay recorded: the sweep attempts them when
        // their claim lapses, and reading the records again skips them.
        inserted.into_iter().filter_map(Result::transpose).collect()
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

    /// Attempts at most `limit` deliveries due at or before `now` (see
    /// [`Self::retry_deliveries_within`], here with no time budget); answers the first
    /// delivery's error, if one failed (the others were still tried).
    pub async fn retry_deliveries<W: WebhookSender>(
        &self,
        sender: &W,
        now: Timestamp,
        limit: usize,
    ) -> DomainResult<DeliveryReport> {
        let no_budget = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
        let (report, step) = self
            .retry_deliveries_within(sender, now, limit, no_budget)
            .await?;
        step.strict()?;
        Ok(report)
    }

    /// The sweep's step: attempts at most `limit` deliveries due at or before `now`, taken
    /// fairly across businesses among the due deliveries the index shows (see
    /// [`crate::sweep`]), in waves of [`ATTEMPTS_IN_FLIGHT`]: no wave is claimed after
    /// `stop_at`, so what is left stays unclaimed, due at once for the next run. A delivery
    /// whose endpoint was deleted or disabled meanwhile is marked failed without an attempt. A
    /// delivery that cannot be read or claimed is logged and counted ([`Step::errors`]), and
    /// the step goes on. Fails only if the index cannot be read.
    pub async fn retry_deliveries_within<W: WebhookSender>(
        &self,
        sender: &W,
        now: Timestamp,
        limit: usize,
        stop_at: tokio::time::Instant,
    ) -> DomainResult<(DeliveryReport, Step)> {
        let found = self
            .store()
            .due_deliveries(now.unix_ms, sweep::examined(limit))
            .await?;
        let due = sweep::fair_share(found, |d| &d.business_id, limit);
        let (mut report, mut step) = (DeliveryReport::default(), Step::default());
        for wave in due.chunks(ATTEMPTS_IN_FLIGHT) {
            if tokio::time::Instant::now() >= stop_at {
                step.stopped_early = true;
                break;
            }
            // A lease from the time of the claim, not of the run's start.
            let claim_at = self.now().max(now);
            let mut claimed = Vec::new();
            for found in wave {
                match self.claim_due(found, now, claim_at).await {
                    Ok(Due::Claimed(c)) => claimed.push(*c),
                    Ok(Due::Abandoned) => {
                        report.deliveries += 1;
                        report.failed += 1;
                    }
                    Ok(Due::Skipped) => {}
                    Err(error) => {
                        let item =
                            format!("{}/{}/{}", found.business_id, found.endpoint_id, found.id);
                        sweep::item_failed("webhook-retries", &item, &error);
                        step.errors.push(error);
                    }
                }
            }
            let attempted = self.attempt_all(sender, claimed).await;
            report.deliveries += attempted.deliveries;
            report.succeeded += attempted.succeeded;
            report.failed += attempted.failed;
        }
        step.done = report.deliveries;
        Ok((report, step))
    }

    /// Claims one delivery the index found due at `now` (with a lease from `claim_at`), or
    /// marks it failed if its endpoint is gone or disabled.
    async fn claim_due(
        &self,
        found: &DeliveryRef,
        now: Timestamp,
        claim_at: Timestamp,
    ) -> DomainResult<Due> {
        let store = self.store();
        let Some((delivery, _)) = store
            .get_delivery(&found.business_id, &found.endpoint_id, &found.id)
            .await?
        else {
            return Ok(Due::Skipped);
        };
        let due = delivery.status == DeliveryStatus::Pending
            && delivery.next_attempt_at.is_some_and(|at| at <= now);
        if !due {
            return Ok(Due::Skipped);
        }
        let endpoint = store
            .get_endpoint(&found.business_id, &found.endpoint_id)
            .await?;
        match endpoint {
            Some(endpoint) if !endpoint.disabled => {
                Ok(match self.claim(&delivery, claim_at).await? {
                    Some(delivery) => Due::Claimed(Box::new(Claimed { endpoint, delivery })),
                    None => Due::Skipped,
                })
            }
            _ => {
                let mut failed = delivery.clone();
                failed.status = DeliveryStatus::Failed;
                failed.next_attempt_at = None;
                failed.lease_until = None;
                failed.updated_at = now;
                Ok(if store.update_delivery(&failed, &delivery, None).await? {
                    Due::Abandoned
                } else {
                    Due::Skipped
                })
            }
        }
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
