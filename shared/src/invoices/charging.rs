//! Paying an invoice with the remainder charged to the customer's saved cards (issue 22).
//!
//! Auto top-up's scheme (`topups::operations`), for one invoice:
//! 1. Claim: the wallet part is applied and the charge of the remainder is claimed in one
//!    transaction with the wallets (the payment's `charge_attempt`: an id, the cards to try as
//!    they were, the card being tried, a lease). The invoice payment is written once per
//!    customer and invoice (the store's condition), so of any number of requests racing for one
//!    invoice one claims the charge; the others answer 409 `invoice_already_paid`.
//! 2. Charge the card being tried, with the gateway attempt `<attempt id>_<index>` as the
//!    metadata the gateway reconciles by and as the idempotency key.
//! 3. Record the outcome in a transaction with the wallets, only while the attempt and the card
//!    are still the payment's: a success settles the payment; a decline moves on to the next card
//!    (a new gateway attempt) or, after the last, settles it `partially_paid` (the wallet part
//!    stays applied) or `failed`.
//!
//! A worker that dies after the charge, or never learns its outcome, leaves the attempt claimed.
//! Once its lease ends the next request for the invoice (or [`Service::resume_invoice_charge`])
//! takes it over with the same ids: the gateway answers the charge already made instead of
//! making another. Every write of a payment goes with the customer's wallets, whose version
//! condition orders them.

use std::collections::BTreeMap;

use super::model::{
    CardCharge, ChargeAttempt, ChargeStatus, InvoiceCommand, InvoicePayment, PaymentAndWallet,
    PaymentStatus, RefundStatus,
};
use super::rules::apply;
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Amount, Clock, CustomerId, EntryId, InvoiceId, Timestamp};
use crate::ledger::model::CustomerWallets;
use crate::ports::Store;
use crate::service::Service;
use crate::topups::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use crate::topups::rules::LEASE_MS;

fn answer(payment: &InvoicePayment, wallets: &CustomerWallets) -> PaymentAndWallet {
    PaymentAndWallet {
        payment: payment.clone(),
        wallet: wallets.wallet_in(payment.currency),
    }
}

/// When an invoice payment needs the sweep: its charge in flight at the end of its lease, a
/// refund left pending a lease after it was claimed (`refunds`).
fn due_of(payment: &InvoicePayment) -> Option<Timestamp> {
    let charge = payment.charge_attempt.as_ref().map(|a| a.lease_until);
    let refunds = payment
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Pending)
        .map(|r| Timestamp::from_unix_ms(r.at.unix_ms + LEASE_MS));
    charge.into_iter().chain(refunds).min()
}

/// Keeps the wallet's list of invoices that need the sweep (`Wallet::invoice_charges`) in step
/// with the payment.
pub(super) fn track(wallets: &mut CustomerWallets, payment: &InvoicePayment) {
    if let Some(wallet) = wallets.wallets.get_mut(&payment.currency) {
        let invoice = payment.invoice_id.to_string();
        match due_of(payment) {
            Some(due) => {
                wallet.invoice_charges.insert(invoice, due);
            }
            None => {
                wallet.invoice_charges.remove(&invoice);
            }
        }
    }
}

/// The writes that replace a payment: the wallets, unchanged but for their version (which
/// orders every change of the customer's payments) and their list of charges in flight, and
/// the payment.
fn replace(
    current: &CustomerWallets,
    before: &InvoicePayment,
    after: InvoicePayment,
    now: Timestamp,
) -> (Vec<Write>, CustomerWallets) {
    let mut next = crate::ledger::rules::next_version(current, after.currency, now, |_| {});
    track(&mut next, &after);
    let writes = vec![
        Write::Wallets(next.clone()),
        Write::ReverseInvoicePayment {
            payment: after,
            reversed_before: before.reversed,
        },
    ];
    (writes, next)
}

/// The attempt taken over (a new lease) if its lease ended by `now`.
fn take_over(payment: &InvoicePayment, now: Timestamp) -> Option<InvoicePayment> {
    let attempt = payment.charge_attempt.as_ref()?;
    if attempt.lease_until > now {
        return None;
    }
    let mut next = payment.clone();
    next.charge_attempt = Some(ChargeAttempt {
        lease_until: Timestamp::from_unix_ms(now.unix_ms + LEASE_MS),
        ..attempt.clone()
    });
    next.updated_at = now;
    Some(next)
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Pays an invoice: the wallet of its currency first (`min(available, amount due)`), then,
    /// if the command (else the customer's `auto_pay`) says so and the customer has saved cards
    /// and a gateway is configured, the remainder charged to the cards in priority order. A
    /// repeat of a payment whose charge is in flight past its lease resumes it; any other repeat
    /// is 409 `invoice_already_paid` with the original.
    pub async fn pay_invoice_with<G: PaymentGateway>(
        &self,
        gateway: Option<&G>,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: InvoiceCommand,
    ) -> DomainResult<PaymentAndWallet> {
        // The cards to try, read once before the claim (they are copied into the attempt).
        let cards = match (command.charge_remainder, gateway) {
            (Some(false), _) | (_, None) => None,
            (asked, Some(_)) => {
                let customer = self.get_customer(tenant, customer_id).await?;
                let charge = asked.unwrap_or(customer.auto_pay);
                let methods: Vec<String> = customer
                    .charge_order()
                    .into_iter()
                    .map(|m| m.payment_method_id)
                    .collect();
                match customer.gateway_customer_id {
                    Some(gateway_customer) if charge && !methods.is_empty() => {
                        Some((gateway_customer, methods))
                    }
                    _ => None,
                }
            }
        };
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        let cards = &cards;
        let can_resume = gateway.is_some();
        let (paid, attempt) = self
            .change(&tenant.business_id, None, |now| async move {
                let current = self.wallets_of(tenant, customer_id).await?;
                if let Some(original) = self
                    .invoice_payment_of(tenant, customer_id, &command.invoice_id)
                    .await?
                {
                    if let Some(next) = take_over(&original, now).filter(|_| can_resume) {
                        let attempt = next.charge_attempt.clone();
                        let (writes, wallets) = replace(&current, &original, next.clone(), now);
                        return Ok(Plan::Commit(writes, (answer(&next, &wallets), attempt)));
                    }
                    return Err(DomainError::InvoiceAlreadyPaid {
                        original: Box::new(original),
                    });
                }
                let (mut next, entry, mut payment) = apply(
                    &current,
                    &tenant.business_id,
                    command,
                    entry_id.clone(),
                    now,
                )?;
                if let (true, Some((gateway_customer, methods))) = (payment.remaining > 0, cards) {
                    payment.status = Some(PaymentStatus::Processing);
                    payment.charge_attempt = Some(ChargeAttempt {
                        id: format!(
                            "ipa_{}",
                            crate::kernel::ids::change_token(now.unix_ms).to_lowercase()
                        ),
                        amount: payment.remaining,
                        gateway_customer_id: gateway_customer.clone(),
                        payment_methods: methods.clone(),
                        index: 0,
                        started_at: now,
                        lease_until: Timestamp::from_unix_ms(now.unix_ms + LEASE_MS),
                    });
                }
                track(&mut next, &payment);
                let attempt = payment.charge_attempt.clone();
                let answer = answer(&payment, &next);
                let mut writes = vec![Write::Wallets(next)];
                writes.extend(entry.map(Write::NewEntry));
                writes.push(Write::NewInvoicePayment(payment));
                Ok(Plan::Commit(writes, (answer, attempt)))
            })
            .await?;
        match (attempt, gateway) {
            (Some(attempt), Some(gateway)) => {
                self.drive_charge(gateway, tenant, customer_id, paid, attempt)
                    .await
            }
            _ => Ok(paid),
        }
    }

    /// Resumes an invoice's charge left in flight (a worker died, or never learnt the outcome)
    /// once its lease has ended at `at` (the caller's now): with the same ids, so the gateway
    /// answers the charge already made; and asks again for its refunds left pending as long.
    /// Otherwise answers the payment as it is.
    pub async fn resume_invoice_charge<G: PaymentGateway>(
        &self,
        gateway: &G,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
        at: Timestamp,
    ) -> DomainResult<PaymentAndWallet> {
        let (paid, attempt) = self
            .change(&tenant.business_id, None, |now| async move {
                let now = now.max(at);
                let current = self.wallets_of(tenant, customer_id).await?;
                let payment = self
                    .invoice_payment_of(tenant, customer_id, invoice_id)
                    .await?
                    .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))?;
                match take_over(&payment, now) {
                    Some(next) => {
                        let attempt = next.charge_attempt.clone();
                        let (writes, wallets) = replace(&current, &payment, next.clone(), now);
                        Ok(Plan::Commit(writes, (answer(&next, &wallets), attempt)))
                    }
                    None => Ok(Plan::Answer((answer(&payment, &current), None))),
                }
            })
            .await?;
        let paid = match attempt {
            Some(attempt) => {
                self.drive_charge(gateway, tenant, customer_id, paid, attempt)
                    .await?
            }
            None => paid,
        };
        // Refunds left pending a lease after their claim (their worker died, or never learnt
        // the outcome): asked again with the same key (the adapter reconciles first).
        let stale =
            paid.payment.refunds.iter().any(|r| {
                r.status == RefundStatus::Pending && r.at.unix_ms + LEASE_MS <= at.unix_ms
            });
        if stale {
            return self
                .make_pending_refunds(gateway, tenant, customer_id, paid, None, at)
                .await;
        }
        Ok(paid)
    }

    /// Charges the attempt's cards from the one being tried until one pays, all declined, or
    /// an outcome is unknown (the attempt then stays claimed, to be resumed).
    async fn drive_charge<G: PaymentGateway>(
        &self,
        gateway: &G,
        tenant: &Tenant,
        customer_id: &CustomerId,
        mut paid: PaymentAndWallet,
        mut attempt: ChargeAttempt,
    ) -> DomainResult<PaymentAndWallet> {
        loop {
            let payment = &paid.payment;
            let gateway_attempt = attempt.gateway_attempt_id();
            let request = ChargeRequest {
                amount: Amount::new(attempt.amount)?,
                currency: payment.currency,
                gateway_customer_id: attempt.gateway_customer_id.clone(),
                payment_method_id: attempt.payment_methods[attempt.index].clone(),
                business_id: tenant.business_id.to_string(),
                customer_id: customer_id.to_string(),
                attempt_id: gateway_attempt.clone(),
                attempt_started_at: attempt.started_at,
                idempotency_key: gateway_attempt,
                description: format!("Invoice {}", payment.invoice_id),
                metadata: BTreeMap::from([
                    ("business_id".to_owned(), tenant.business_id.to_string()),
                    ("customer_id".to_owned(), customer_id.to_string()),
                    ("invoice_id".to_owned(), payment.invoice_id.to_string()),
                ]),
            };
            let outcome = gateway.charge(&request).await;
            if let ChargeOutcome::Unknown { error } = &outcome {
                tracing::warn!(attempt = %attempt.id, %error, "invoice charge outcome unknown; resumed when its lease ends");
                return Ok(paid);
            }
            let (recorded, next) = self
                .record_charge(
                    tenant,
                    customer_id,
                    &payment.invoice_id,
                    &attempt,
                    &request,
                    outcome,
                )
                .await?;
            paid = recorded;
            match next {
                Some(next) => attempt = next,
                None => return Ok(paid),
            }
        }
    }

    /// Records a definite outcome of the card being tried, while the attempt and card are still
    /// the payment's; answers the payment and the next card's attempt, if a decline leaves one.
    async fn record_charge(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
        attempt: &ChargeAttempt,
        request: &ChargeRequest,
        outcome: ChargeOutcome,
    ) -> DomainResult<(PaymentAndWallet, Option<ChargeAttempt>)> {
        let outcome = &outcome;
        self.change(&tenant.business_id, None, |now| async move {
            let current = self.wallets_of(tenant, customer_id).await?;
            let payment = self
                .invoice_payment_of(tenant, customer_id, invoice_id)
                .await?
                .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))?;
            let ours = payment
                .charge_attempt
                .as_ref()
                .is_some_and(|a| a.id == attempt.id && a.index == attempt.index);
            if !ours {
                // Recorded (or moved on) by another worker.
                return Ok(Plan::Answer((answer(&payment, &current), None)));
            }
            let mut next = payment.clone();
            let charge =
                |status, decline_code: Option<&String>, message: Option<&String>| CardCharge {
                    payment_intent_id: outcome.payment_intent_id().map(str::to_owned),
                    payment_method_id: request.payment_method_id.clone(),
                    amount: attempt.amount,
                    status,
                    decline_code: decline_code.cloned(),
                    message: message.cloned(),
                    at: now,
                };
            let mut following = None;
            match outcome {
                ChargeOutcome::Succeeded { .. } => {
                    next.charges
                        .push(charge(ChargeStatus::Succeeded, None, None));
                    next.charge_attempt = None;
                }
                ChargeOutcome::Declined {
                    decline_code,
                    message,
                    ..
                } => {
                    next.charges.push(charge(
                        ChargeStatus::Declined,
                        Some(decline_code),
                        Some(message),
                    ));
                    if attempt.index + 1 < attempt.payment_methods.len() {
                        let moved = ChargeAttempt {
                            index: attempt.index + 1,
                            lease_until: Timestamp::from_unix_ms(now.unix_ms + LEASE_MS),
                            ..attempt.clone()
                        };
                        next.charge_attempt = Some(moved.clone());
                        following = Some(moved);
                    } else {
                        next.charge_attempt = None;
                    }
                }
                ChargeOutcome::Unknown { .. } => {
                    unreachable!("only definite outcomes are recorded")
                }
            }
            if next.charge_attempt.is_none() {
                next.settle();
            }
            next.updated_at = now;
            let (writes, wallets) = replace(&current, &payment, next.clone(), now);
            Ok(Plan::Commit(writes, (answer(&next, &wallets), following)))
        })
        .await
    }
}

#[cfg(test)]
#[path = "charging_tests.rs"]
mod tests;
