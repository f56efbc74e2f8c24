//! The scheduled sweep: the due work no request starts (auto top-ups due or being retried,
//! expired holds; webhook retries through [`Service::retry_deliveries_within`]), run
//!
//! - fairly: each step reads [`EXAMINED_PER_TAKEN`] times more due items than it takes, from
//!   every shard of the index (both its oldest and its most recently due items, see the store
//!   ports), and takes them business by business in turn ([`fair_share`]): a business's share
//!   of a run is capped at an equal share of the run while others have due work, so one
//!   business's backlog never holds back another's due work for more than one run;
//! - item by item: a failure of one wallet, hold or delivery is logged and counted, and the
//!   run goes on with the rest (the item is due again next run); a failing step (its index
//!   query) is counted the same way and the next step runs;
//! - within a time budget: no item is started once the budget is spent; what was started
//!   finishes (a Stripe charge or a webhook wave takes at most 10 s, which the caller's budget
//!   leaves room for before the invocation's own deadline).

use std::collections::{HashMap, VecDeque};
use std::fmt::Display;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, Timestamp};
use crate::ports::Store;
use crate::service::Service;
use crate::topups::gateway::PaymentGateway;
use crate::topups::operations::TopUpRun;

/// Due items a step reads per item it may take: the candidates among which it shares the run
/// fairly between businesses.
pub const EXAMINED_PER_TAKEN: usize = 10;

/// What a run did, and what it read to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    pub wallets_due: usize,
    pub top_ups_credited: usize,
    pub top_ups_declined: usize,
    pub top_ups_unknown: usize,
    pub holds_expired: usize,
    /// Top-up links marked expired (issue 21).
    pub top_up_links_expired: usize,
    /// Invoice charges left in flight past their lease, taken over (issue 22).
    pub invoice_charges_resumed: usize,
    pub webhook_deliveries: usize,
    /// Items (a wallet's top-up, a hold, a delivery) or steps that failed: logged, left for the
    /// next run; the rest of the run went on.
    pub failed: usize,
    /// The time budget ran out before all the due work was done.
    pub stopped_early: bool,
}

/// What one step of a run did.
#[derive(Debug, Default)]
pub struct Step {
    /// Items done (holds expired, deliveries attempted).
    pub done: usize,
    /// The items that failed, each already logged: due again next run.
    pub errors: Vec<DomainError>,
    /// The budget ran out before every item taken was started.
    pub stopped_early: bool,
}

impl Step {
    /// The step as one outcome, for a caller that is not the sweep (a test, an operator's
    /// command): what it did, or the first item's error (the other items were still tried).
    pub fn strict(self) -> DomainResult<usize> {
        match self.errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(self.done),
        }
    }
}

/// At most `limit` of `found`, taken business by business in turn (in the order each business
/// first appears, each business's items in their order): while several businesses have items,
/// none takes more than an equal share; a business's unused share goes to those with more.
pub fn fair_share<T>(
    found: Vec<T>,
    business_of: impl Fn(&T) -> &BusinessId,
    limit: usize,
) -> Vec<T> {
    let mut queues: Vec<VecDeque<T>> = Vec::new();
    let mut queue_of: HashMap<BusinessId, usize> = HashMap::new();
    for item in found {
        let at = *queue_of
            .entry(business_of(&item).clone())
            .or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
        queues[at].push_back(item);
    }
    let mut taken = Vec::new();
    while taken.len() < limit {
        let before = taken.len();
        for queue in &mut queues {
            if taken.len() == limit {
                break;
            }
            if let Some(item) = queue.pop_front() {
                taken.push(item);
            }
        }
        if taken.len() == before {
            break;
        }
    }
    taken
}

/// Due items a step reads to take at most `limit`.
pub fn examined(limit: usize) -> usize {
    limit.saturating_mul(EXAMINED_PER_TAKEN)
}

/// One item (or step) failed: logged and counted as a metric by the caller; the run goes on.
pub(crate) fn item_failed(step: &str, item: &dyn Display, error: &DomainError) {
    tracing::warn!(step, %item, code = error.code(), %error, "sweep item failed; the run goes on");
}

impl<S: Store, C: Clock> Service<S, C> {
    /// The sweep's steps but webhook retries: due top-ups (sparse index), then expired holds,
    /// starting no item after `budget` has passed; what is left waits for the next run. Never
    /// fails as a whole: failed items and steps are counted in [`SweepReport::failed`].
    pub async fn sweep_top_ups_and_holds<G: PaymentGateway>(
        &self,
        gateway: Option<&G>,
        now: Timestamp,
        limit: usize,
        budget: Duration,
    ) -> DomainResult<SweepReport> {
        let stop_at = Instant::now() + budget;
        let mut report = SweepReport::default();
        if let Some(gateway) = gateway {
            match self.top_ups_within(gateway, now, limit, stop_at).await {
                Ok((step, counts)) => {
                    report = counts;
                    report.failed += step.errors.len();
                    report.stopped_early |= step.stopped_early;
                }
                Err(error) => {
                    item_failed("top-ups", &"finding due top-ups", &error);
                    report.failed += 1;
                }
            }
        }
        if Instant::now() >= stop_at {
            report.stopped_early = true;
            return Ok(report);
        }
        match self.expire_holds_within(now, limit, stop_at).await {
            Ok(step) => {
                report.holds_expired = step.done;
                report.failed += step.errors.len();
                report.stopped_early |= step.stopped_early;
            }
            Err(error) => {
                item_failed("hold-expiry", &"finding expired holds", &error);
                report.failed += 1;
            }
        }
        if Instant::now() >= stop_at {
            report.stopped_early = true;
            return Ok(report);
        }
        match self.expire_top_up_links_within(now, limit, stop_at).await {
            Ok(step) => {
                report.top_up_links_expired = step.done;
                report.failed += step.errors.len();
                report.stopped_early |= step.stopped_early;
            }
            Err(error) => {
                item_failed("top-up-link-expiry", &"finding expired links", &error);
                report.failed += 1;
            }
        }
        Ok(report)
    }

    /// The top-up step: each due wallet set's currencies in turn, fairly across businesses.
    async fn top_ups_within<G: PaymentGateway>(
        &self,
        gateway: &G,
        now: Timestamp,
        limit: usize,
        stop_at: Instant,
    ) -> DomainResult<(Step, SweepReport)> {
        let found = self
            .store()
            .due_top_ups(now.unix_ms, examined(limit))
            .await?;
        let due = fair_share(found, |(business_id, _)| business_id, limit);
        let (mut step, mut report) = (Step::default(), SweepReport::default());
        report.wallets_due = due.len();
        for (business_id, customer_id) in due {
            if Instant::now() >= stop_at {
                step.stopped_early = true;
                break;
            }
            let item = format!("{business_id}/{customer_id}");
            let wallets = match self.store().get_wallets(&business_id, &customer_id).await {
                Ok(Some(wallets)) => wallets,
                Ok(None) => continue,
                Err(error) => {
                    item_failed("top-ups", &item, &error);
                    step.errors.push(error);
                    continue;
                }
            };
            for (currency, wallet) in &wallets.wallets {
                // Invoice charges left in flight past their lease (`invoices::charging`).
                let tenant = crate::access::model::Tenant {
                    business_id: business_id.clone(),
                };
                for (invoice, _) in wallet.invoice_charges.iter().filter(|(_, l)| **l <= now) {
                    let resumed = match crate::kernel::InvoiceId::parse(invoice) {
                        Ok(invoice_id) => {
                            let resume = self.resume_invoice_charge(
                                gateway,
                                &tenant,
                                &customer_id,
                                &invoice_id,
                                now,
                            );
                            crate::access::actor::or_process("invoice-auto-pay", resume).await
                        }
                        Err(invalid) => Err(invalid.into()),
                    };
                    match resumed {
                        Ok(_) => report.invoice_charges_resumed += 1,
                        Err(error) => {
                            item_failed("invoice charges", &format!("{item} {invoice}"), &error);
                            step.errors.push(error);
                        }
                    }
                }
                match self
                    .run_top_up(gateway, &business_id, &customer_id, *currency, now)
                    .await
                {
                    Ok(TopUpRun::Nothing) => {}
                    Ok(TopUpRun::Credited { .. }) => report.top_ups_credited += 1,
                    Ok(TopUpRun::Declined { .. }) => report.top_ups_declined += 1,
                    Ok(TopUpRun::Unknown { .. }) => report.top_ups_unknown += 1,
                    Err(error) => {
                        item_failed("top-ups", &format!("{item} {currency}"), &error);
                        step.errors.push(error);
                    }
                }
            }
        }
        Ok((step, report))
    }
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
