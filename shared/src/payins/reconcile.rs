//! The sweep's part of card top-ups: a top-up left pending a minute after it was created (its
//! webhook never came: localstripe sends once, Stripe may be late or the endpoint down) is
//! reconciled: its PaymentIntent is read at the gateway (by id, or found by the top-up's id as
//! the attempt) and settled through the one settle function. A top-up with no PaymentIntent an
//! hour on was never charged (its start died before the charge): it ends failed.

use tokio::time::Instant;

use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, Timestamp};
use crate::ports::Store;
use crate::service::Service;
use crate::sweep::{examined, fair_share, item_failed, Step};
use crate::topups::gateway::{ChargeLookup, ChargeOutcome, DeclineClass, PaymentGateway};

use super::gateway::CardGateway;
use super::model::{CardTopUp, CardTopUpRef, CardTopUpStatus, GatewayPayment, PaymentState};
use super::operations::gateway_error;

/// A pending top-up with no PaymentIntent this long after its creation was never charged.
pub const NEVER_CHARGED_AFTER_MS: u64 = 60 * 60 * 1000;

impl<S: Store, C: Clock> Service<S, C> {
    /// The sweep's step: pending top-ups due for reconciliation at `now`, fairly across
    /// businesses, at most `limit`, starting none after `stop_at`.
    pub async fn reconcile_card_top_ups_within<G: CardGateway>(
        &self,
        gateway: &G,
        now: Timestamp,
        limit: usize,
        stop_at: Instant,
    ) -> DomainResult<Step> {
        let found = self
            .store()
            .pending_card_top_ups(now.unix_ms, examined(limit))
            .await?;
        let due = fair_share(found, |r: &CardTopUpRef| &r.business_id, limit);
        let mut step = Step::default();
        for item in due {
            if Instant::now() >= stop_at {
                step.stopped_early = true;
                break;
            }
            match self.reconcile_card_top_up(gateway, &item, now).await {
                Ok(top_up) if top_up.status != CardTopUpStatus::Pending => step.done += 1,
                Ok(_) => {}
                Err(error) => {
                    item_failed(
                        "card top-ups",
                        &format!("{}/{}", item.business_id, item.id),
                        &error,
                    );
                    step.errors.push(error);
                }
            }
        }
        Ok(step)
    }

    /// Reads what the gateway did for one pending top-up and settles it.
    pub async fn reconcile_card_top_up<G: CardGateway>(
        &self,
        gateway: &G,
        item: &CardTopUpRef,
        now: Timestamp,
    ) -> DomainResult<CardTopUp> {
        let top_up = self
            .store()
            .get_card_top_up(&item.business_id, &item.customer_id, &item.id)
            .await?
            .ok_or_else(|| DomainError::CardTopUpNotFound(item.id.clone()))?;
        if top_up.status != CardTopUpStatus::Pending {
            return Ok(top_up);
        }
        let payment = match &top_up.payment_intent_id {
            Some(pi) => gateway
                .payment_intent(pi)
                .await
                .map_err(|f| gateway_error(f, "read the top-up's PaymentIntent"))?,
            None => {
                let lookup = ChargeLookup {
                    gateway_customer_id: top_up.gateway_customer_id.clone(),
                    attempt_id: top_up.id.clone(),
                    payment_intent_id: None,
                    created_after: Some(top_up.created_at),
                };
                PaymentGateway::find(gateway, &lookup)
                    .await
                    .map_err(DomainError::GatewayUnavailable)?
                    .map(|found| GatewayPayment {
                        payment_intent_id: found.payment_intent_id,
                        amount: found.amount,
                        currency: found.currency,
                        state: match found.outcome {
                            ChargeOutcome::Succeeded { .. } => PaymentState::Succeeded,
                            ChargeOutcome::Declined { decline_code, .. } => PaymentState::Failed {
                                decline_code: Some(decline_code),
                            },
                            ChargeOutcome::Unknown { .. } => PaymentState::Pending,
                        },
                    })
            }
        };
        match payment {
            Some(payment) => {
                self.settle_card_top_up(&item.business_id, &item.customer_id, &item.id, &payment)
                    .await
            }
            None if now.unix_ms >= top_up.created_at.unix_ms + NEVER_CHARGED_AFTER_MS => {
                let class = DeclineClass::Canceled;
                self.fail_card_top_up(&top_up, None, "not_charged", class.message())
                    .await
            }
            None => Ok(top_up),
        }
    }
}
