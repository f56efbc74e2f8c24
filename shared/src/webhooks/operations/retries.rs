//! Retries found due by the sweep, the delivery log, and resends.

use futures_util::stream::{self, StreamExt};

use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, EndpointId, EventId, Timestamp};
use crate::ports::Store;
use crate::service::Service;
use crate::sweep::{self, Step};
use crate::webhooks::model::*;

use super::ATTEMPTS_IN_FLIGHT;

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

impl<S: Store, C: Clock> Service<S, C> {
    /// Makes one attempt of each claimed delivery, several at once, and records each; within
    /// its endpoint's rate limit: a delivery whose slot does not come before `until` is not
    /// attempted and stays due when its claim lapses.
    pub async fn attempt_all<W: WebhookSender>(
        &self,
        sender: &W,
        claimed: Vec<Claimed>,
        until: std::time::Instant,
    ) -> DeliveryReport {
        let results: Vec<DomainResult<Option<bool>>> = stream::iter(claimed)
            .map(|c| async move {
                if !self.wait_for_slot(&c.endpoint, until).await? {
                    return Ok(None);
                }
                self.attempt(sender, &c.endpoint, &c.delivery)
                    .await
                    .map(|(d, _)| Some(d.status == DeliveryStatus::Succeeded))
            })
            .buffer_unordered(ATTEMPTS_IN_FLIGHT)
            .collect()
            .await;
        let mut report = DeliveryReport::default();
        for result in results {
            match result {
                Ok(None) => {} // left for later: its slot did not come
                Ok(Some(succeeded)) => {
                    report.deliveries += 1;
                    if succeeded {
                        report.succeeded += 1;
                    } else {
                        report.failed += 1;
                    }
                }
                Err(error) => {
                    // The claim lapses and the sweep tries again.
                    tracing::warn!(%error, "recording a delivery attempt failed");
                    report.deliveries += 1;
                    report.failed += 1;
                }
            }
        }
        report
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
            let attempted = self.attempt_all(sender, claimed, stop_at.into_std()).await;
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
            _ => Ok(if self.abandon(&delivery, now).await? {
                Due::Abandoned
            } else {
                Due::Skipped
            }),
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
