//! THE one function that credits a card top-up, [`Service::settle_card_top_up`], and the
//! smaller changes of a pending top-up (its PaymentIntent noted, a decline recorded).
//!
//! Exactly once: the credit is one transaction of the wallets (conditional on their version),
//! one ledger entry, the claim of the key `topup:<PaymentIntent id>` (in the service's own
//! namespace, conditional on being unclaimed) and the top-up written `succeeded` (conditional on
//! the version read while it was pending). Two settles at once both plan the credit; only one
//! transaction can land, and the other, read again, finds the top-up succeeded and answers it.
//! A webhook, its replay and the sweep all come here.

use crate::access::model::{Actor, Tenant};
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::{
    Amount, BusinessId, Clock, CustomerId, EntryId, IdempotencyKey, Timestamp, ValidationError,
};
use crate::ledger::model::{CustomerWallets, EntryCommand, EntryType, EventType};
use crate::ledger::rules::apply_entry;
use crate::ports::Store;
use crate::service::Service;
use crate::topups::gateway::DeclineClass;
use crate::topups::model::{AutoTopUp, PaymentMethod, TopUpAmount};

use super::model::{CardTopUp, CardTopUpStatus, GatewayPayment, PaymentState, TopUpSource};

/// The reason of a top-up's ledger entry.
pub const TOP_UP_REASON: &str = "Top-up";

/// The key a top-up's credit claims: `topup:<PaymentIntent id>` in the service's own namespace
/// (no request can claim it first).
pub fn credit_key(payment_intent_id: &str) -> IdempotencyKey {
    IdempotencyKey::internal(format!("topup:{payment_intent_id}"))
}

/// The fixed message of a decline code (`topups::gateway::DeclineClass`).
fn decline_message(code: &str) -> &'static str {
    match code {
        "authentication_required" | "payment_intent_authentication_failure" => {
            DeclineClass::AuthenticationRequired.message()
        }
        "canceled" => DeclineClass::Canceled.message(),
        "payment_method_not_owned" => DeclineClass::NotOwned.message(),
        "invalid_request" => DeclineClass::InvalidRequest.message(),
        _ => DeclineClass::Card.message(),
    }
}

/// With the customer's consent, the card becomes the wallet's auto top-up payment method (a
/// disabled setting is made with it when the wallet has none); the consent is recorded as the
/// settings' last change (`updated_by`: the top-up's id).
fn save_card(next: &mut CustomerWallets, top_up: &CardTopUp) {
    let Some(wallet) = next.wallets.get_mut(&top_up.currency) else {
        return;
    };
    let method = PaymentMethod {
        gateway_customer_id: top_up.gateway_customer_id.clone(),
        payment_method_id: top_up.payment_method_id.clone(),
    };
    match &mut wallet.settings.auto_top_up {
        Some(auto) => auto.payment_method = method,
        None => {
            wallet.settings.auto_top_up = Some(AutoTopUp {
                enabled: false,
                threshold: 0,
                amount: TopUpAmount::Fixed(top_up.amount),
                payment_method: method,
                max_per_day: 1,
                max_amount_per_day: top_up.amount,
                paused_reason: None,
            })
        }
    }
    wallet.settings.updated_by = Some(Actor {
        process: Some(format!("card top-up {} (customer's consent)", top_up.id)),
        ..Actor::default()
    });
}

impl<S: Store, C: Clock> Service<S, C> {
    /// What the top-up's source adds to its credit's transaction: a top-up paid through a link
    /// marks the link paid (`Write::TopUpLinkPaid`; none when the link is not that top-up's to
    /// mark: the money that moved is credited all the same).
    async fn source_writes(&self, top_up: &CardTopUp) -> DomainResult<Vec<Write>> {
        Ok(match &top_up.source {
            TopUpSource::Portal => Vec::new(),
            TopUpSource::Link { link_id } => self
                .top_up_link_paid(&top_up.business_id, link_id, &top_up.id, top_up.amount)
                .await?
                .into_iter()
                .collect(),
        })
    }

    /// Settles a card top-up with what the gateway says of its PaymentIntent: succeeded credits
    /// the wallet once (see the module); failed marks it failed; still processing changes
    /// nothing (but notes the PaymentIntent). Safe to run twice or at once: a top-up no longer
    /// pending is answered as it is. A payment that does not match the top-up (another
    /// PaymentIntent, amount or currency) is refused and logged, never credited.
    pub async fn settle_card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        top_up_id: &str,
        payment: &GatewayPayment,
    ) -> DomainResult<CardTopUp> {
        let tenant = &Tenant {
            business_id: business_id.clone(),
        };
        let key = &credit_key(&payment.payment_intent_id);
        let entry_id = &EntryId::generate_at(self.now().unix_ms);
        let settled = self
            .change(business_id, None, |now| async move {
                let top_up = self
                    .pending_or_settled(tenant, customer_id, top_up_id)
                    .await?;
                if top_up.status != CardTopUpStatus::Pending {
                    return Ok(Plan::Answer(top_up));
                }
                check_payment(&top_up, payment)?;
                let pi = payment.payment_intent_id.clone();
                match &payment.state {
                    PaymentState::Pending if top_up.payment_intent_id.is_some() => {
                        Ok(Plan::Answer(top_up))
                    }
                    PaymentState::Pending => {
                        let next = top_up.changed(now, |t| t.payment_intent_id = Some(pi));
                        Ok(Plan::Commit(vec![Write::CardTopUp(next.clone())], next))
                    }
                    PaymentState::Failed { decline_code } => {
                        let code = decline_code.as_deref().unwrap_or("card_declined");
                        let next = failed(&top_up, Some(pi), code, decline_message(code), now);
                        Ok(Plan::Commit(vec![Write::CardTopUp(next.clone())], next))
                    }
                    PaymentState::Succeeded => {
                        let current = self.wallets_of(tenant, customer_id).await?;
                        let pi = payment.payment_intent_id.as_str();
                        let source = self.source_writes(&top_up).await?;
                        Ok(credit(
                            &current,
                            &top_up,
                            pi,
                            key,
                            entry_id.clone(),
                            source,
                            now,
                        ))
                    }
                }
            })
            .await;
        match settled {
            // Credited at once by another settle: its transaction carried the top-up too.
            Err(DomainError::IdempotencyKeyReused { key: taken, .. }) if taken == key.as_str() => {
                self.pending_or_settled(tenant, customer_id, top_up_id)
                    .await
            }
            other => other,
        }
    }

    async fn pending_or_settled(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        top_up_id: &str,
    ) -> DomainResult<CardTopUp> {
        self.store()
            .get_card_top_up(&tenant.business_id, customer_id, top_up_id)
            .await?
            .ok_or_else(|| DomainError::CardTopUpNotFound(top_up_id.to_owned()))
    }

    /// Notes the PaymentIntent a charge made on a pending top-up (nothing credited).
    pub(super) async fn note_payment_intent(
        &self,
        top_up: &CardTopUp,
        payment_intent_id: &str,
    ) -> DomainResult<CardTopUp> {
        let tenant = &Tenant {
            business_id: top_up.business_id.clone(),
        };
        self.change(&top_up.business_id, None, |now| async move {
            let stored = self
                .pending_or_settled(tenant, &top_up.customer_id, &top_up.id)
                .await?;
            if stored.status != CardTopUpStatus::Pending || stored.payment_intent_id.is_some() {
                return Ok(Plan::Answer(stored));
            }
            let next = stored.changed(now, |t| {
                t.payment_intent_id = Some(payment_intent_id.to_owned())
            });
            Ok(Plan::Commit(vec![Write::CardTopUp(next.clone())], next))
        })
        .await
    }

    /// Records a decline (or a top-up never charged) on a pending top-up: nothing credited.
    pub(super) async fn fail_card_top_up(
        &self,
        top_up: &CardTopUp,
        payment_intent_id: Option<String>,
        decline_code: &str,
        message: &str,
    ) -> DomainResult<CardTopUp> {
        let tenant = &Tenant {
            business_id: top_up.business_id.clone(),
        };
        let pi = &payment_intent_id;
        self.change(&top_up.business_id, None, |now| async move {
            let stored = self
                .pending_or_settled(tenant, &top_up.customer_id, &top_up.id)
                .await?;
            if stored.status != CardTopUpStatus::Pending {
                return Ok(Plan::Answer(stored));
            }
            let next = failed(&stored, pi.clone(), decline_code, message, now);
            Ok(Plan::Commit(vec![Write::CardTopUp(next.clone())], next))
        })
        .await
    }
}

/// The payment must be the top-up's: its PaymentIntent (when one was noted), its amount and its
/// currency.
fn check_payment(top_up: &CardTopUp, payment: &GatewayPayment) -> DomainResult<()> {
    let same_intent = top_up
        .payment_intent_id
        .as_ref()
        .is_none_or(|pi| *pi == payment.payment_intent_id);
    let same_money = payment.amount == top_up.amount
        && payment
            .currency
            .eq_ignore_ascii_case(top_up.currency.code());
    if same_intent && same_money {
        return Ok(());
    }
    tracing::error!(
        top_up = %top_up.id,
        payment_intent_id = %payment.payment_intent_id,
        amount = payment.amount,
        currency = %payment.currency,
        "a payment that does not match its card top-up: not settled"
    );
    Err(ValidationError::new(
        "payment_mismatch",
        "the payment does not match the card top-up it names",
    )
    .into())
}

fn failed(
    top_up: &CardTopUp,
    payment_intent_id: Option<String>,
    code: &str,
    message: &str,
    now: Timestamp,
) -> CardTopUp {
    top_up.changed(now, |t| {
        t.status = CardTopUpStatus::Failed;
        t.payment_intent_id = payment_intent_id.or(t.payment_intent_id.take());
        t.decline_code = Some(code.to_owned());
        t.message = Some(message.to_owned());
    })
}

/// The credit's change: the wallets, the entry, the key's claim, the top-up succeeded, and what
/// its source adds. A wallet that refuses the credit (closed, or full) ends the top-up failed,
/// loudly: the money was taken and needs a refund at the gateway.
fn credit(
    current: &CustomerWallets,
    top_up: &CardTopUp,
    payment_intent_id: &str,
    key: &IdempotencyKey,
    entry_id: EntryId,
    source: Vec<Write>,
    now: Timestamp,
) -> Plan<CardTopUp> {
    let payment_intent_id = payment_intent_id.to_owned();
    let amount = match Amount::new(top_up.amount) {
        Ok(amount) => amount,
        Err(invalid) => return Plan::Refused(invalid.into()),
    };
    let command = EntryCommand {
        currency: top_up.currency,
        amount,
        entry_type: EntryType::Credit,
        event_type: EventType::MerchantAdjustment,
        reason: Some(TOP_UP_REASON.to_owned()),
        reference_object_id: Some(payment_intent_id.clone()),
        // The entry shows the key's text.
        idempotency_key: IdempotencyKey::parse(key.as_str()).ok(),
    };
    let applied = match apply_entry(current, &top_up.business_id, &command, entry_id, now) {
        Ok(applied) => applied,
        Err(refused) => {
            tracing::error!(top_up = %top_up.id, %payment_intent_id, error = %refused, "card top-up charged but not credited: refund it at the gateway");
            let next = failed(
                top_up,
                Some(payment_intent_id),
                "credit_refused",
                &refused.to_string(),
                now,
            );
            return Plan::Commit(vec![Write::CardTopUp(next.clone())], next);
        }
    };
    let mut next_wallets = applied.next;
    if top_up.save_card {
        save_card(&mut next_wallets, top_up);
    }
    let done = top_up.changed(now, |t| {
        t.status = CardTopUpStatus::Succeeded;
        t.payment_intent_id = Some(payment_intent_id);
        t.entry_id = Some(applied.entry.id.clone());
    });
    let mut writes = vec![
        Write::Wallets(next_wallets),
        Write::NewEntry(applied.entry.clone()),
        Write::ClaimKey {
            key: key.clone(),
            original: Original::Entry(applied.entry),
        },
        Write::CardTopUp(done.clone()),
    ];
    writes.extend(source);
    Plan::Commit(writes, done)
}

#[cfg(test)]
#[path = "settle_tests.rs"]
mod tests;
