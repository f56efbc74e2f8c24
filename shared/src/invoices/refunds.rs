//! Reversals of invoice payments (issue 22, item 4): where the money goes, and refunds to the
//! card through the gateway.
//!
//! A reversal of `amount` is split between what the wallet paid and what the card paid in
//! proportion to what is left of each to reverse (the wallet part's share rounded down:
//! `rules::split`), so it is never more than was paid by either means. `destination` says where
//! the shares go: `original_method` (the default, Alguna's rule) credits the wallet part back to
//! the wallet and refunds the card part to the card; `wallet` credits both to the wallet.
//!
//! A refund to the card is claimed first, in the reversal's transaction (a `pending` refund on
//! the payment, with its id `irf_<ulid>` as the gateway's idempotency key), then made at the
//! gateway, then recorded (`succeeded` with the gateway's id, or `failed`, which makes its amount
//! reversible again). A refund whose outcome is unknown stays `pending`; the next reversal of the
//! invoice asks the gateway again, with the same key.

use super::charging::track;
use super::model::{
    CardRefund, Destination, InvoicePayment, PaymentAndWallet, RefundStatus, ReversalCommand,
};
use super::rules::reverse;
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::{Amount, Clock, CustomerId, EntryId, InvoiceId, Timestamp};
use crate::ledger::model::CustomerWallets;
use crate::ports::Store;
use crate::service::Service;
use crate::topups::gateway::{PaymentGateway, RefundOutcome, RefundRequest};
use crate::topups::rules::LEASE_MS;

fn answer(payment: &InvoicePayment, wallets: &CustomerWallets) -> PaymentAndWallet {
    PaymentAndWallet {
        payment: payment.clone(),
        wallet: wallets.wallet_in(payment.currency),
    }
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Reverses part of an invoice payment: the wallet's share credited in one transaction with
    /// the payment (and the request's idempotency key, when there is a credit), then the card's
    /// share refunded at the gateway.
    pub async fn reverse_invoice_payment_with<G: PaymentGateway>(
        &self,
        gateway: Option<&G>,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
        command: ReversalCommand,
        destination: Destination,
    ) -> DomainResult<PaymentAndWallet> {
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        let refund_id = &format!(
            "irf_{}",
            crate::kernel::ids::change_token(self.now().unix_ms).to_lowercase()
        );
        let key = command.idempotency_key.as_ref();
        let reversed = self
            .change(&tenant.business_id, key, |now| async move {
                let current = self.wallets_of(tenant, customer_id).await?;
                let payment = self
                    .invoice_payment_of(tenant, customer_id, invoice_id)
                    .await?;
                // A repeat of a reversal that refunded to the card (its key is on the refund; a
                // reversal that credited nothing to the wallet claims no key): answered as the
                // payment stands, nothing applied again. Read under the wallets' version, so
                // two racing repeats see each other.
                if let (Some(key), Some(payment)) = (key, &payment) {
                    if payment
                        .refunds
                        .iter()
                        .any(|r| r.idempotency_key.as_ref() == Some(key))
                    {
                        return Ok(Plan::Answer(answer(payment, &current)));
                    }
                }
                let ruled = payment
                    .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))
                    .and_then(|payment| {
                        let (mut next, entry, next_payment) = reverse(
                            &current,
                            &payment,
                            command,
                            destination,
                            entry_id.clone(),
                            refund_id.clone(),
                            now,
                        )?;
                        track(&mut next, &next_payment);
                        Ok((next, entry, next_payment, payment.reversed))
                    });
                Ok(Plan::from_rules(
                    ruled,
                    |(next, entry, next_payment, reversed_before)| {
                        let answer = answer(&next_payment, &next);
                        let claim = key.zip(entry.as_ref()).map(|(key, entry)| Write::ClaimKey {
                            key: key.clone(),
                            original: Original::Entry(entry.clone()),
                        });
                        let mut writes = vec![Write::Wallets(next)];
                        writes.extend(entry.map(Write::NewEntry));
                        writes.push(Write::ReverseInvoicePayment {
                            payment: next_payment,
                            reversed_before,
                        });
                        writes.extend(claim);
                        (writes, answer)
                    },
                ))
            })
            .await?;
        match gateway {
            Some(gateway) => {
                let now = self.now();
                self.make_pending_refunds(
                    gateway,
                    tenant,
                    customer_id,
                    reversed,
                    Some(refund_id),
                    now,
                )
                .await
            }
            None => Ok(reversed),
        }
    }

    /// Makes at the gateway the payment's pending refunds this worker holds, and records each
    /// outcome: `own` (the refund the caller's reversal just claimed), and those left pending a
    /// lease (60 s) after their claim at `at`, each taken over first (its claim time moved to
    /// now, in a transaction, while it is still pending as read), so two workers never ask the
    /// gateway for one refund at once (one whose worker stalls past its lease aside; the
    /// adapter's reconciliation and Stripe's idempotency key cover that).
    pub(super) async fn make_pending_refunds<G: PaymentGateway>(
        &self,
        gateway: &G,
        tenant: &Tenant,
        customer_id: &CustomerId,
        mut paid: PaymentAndWallet,
        own: Option<&str>,
        at: Timestamp,
    ) -> DomainResult<PaymentAndWallet> {
        let pending: Vec<_> = paid
            .payment
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Pending)
            .cloned()
            .collect();
        for refund in pending {
            if own != Some(refund.id.as_str()) {
                if refund.at.unix_ms + LEASE_MS > at.unix_ms {
                    continue; // another worker's, within its lease
                }
                let (taken, now_paid) = self
                    .take_over_refund(tenant, customer_id, &paid.payment.invoice_id, &refund, at)
                    .await?;
                paid = now_paid;
                if !taken {
                    continue;
                }
            }
            let request = RefundRequest {
                payment_intent_id: refund.payment_intent_id.clone(),
                amount: Amount::new(refund.amount)?,
                idempotency_key: refund.id.clone(),
                metadata: [
                    ("invoice_id".to_owned(), paid.payment.invoice_id.to_string()),
                    ("invoice_refund".to_owned(), refund.id.clone()),
                ]
                .into(),
            };
            let (status, gateway_id) = match gateway.refund(&request).await {
                RefundOutcome::Succeeded { refund_id } => {
                    (RefundStatus::Succeeded, Some(refund_id))
                }
                RefundOutcome::Refused { reason } => {
                    tracing::warn!(refund = %refund.id, %reason, "the gateway refused a refund to the card: its amount is reversible again");
                    (RefundStatus::Failed, None)
                }
                RefundOutcome::Unknown { error } => {
                    tracing::warn!(refund = %refund.id, %error, "refund outcome unknown: stays pending, asked again once its lease ends");
                    continue;
                }
            };
            let invoice_id = &paid.payment.invoice_id.clone();
            let (refund, gateway_id) = (&refund, &gateway_id);
            paid = self
                .change(&tenant.business_id, None, |now| async move {
                    let current = self.wallets_of(tenant, customer_id).await?;
                    let payment = self
                        .invoice_payment_of(tenant, customer_id, invoice_id)
                        .await?
                        .ok_or_else(|| {
                            DomainError::InvoicePaymentNotFound(invoice_id.to_string())
                        })?;
                    let Some(at) = payment
                        .refunds
                        .iter()
                        .position(|r| r.id == refund.id && r.status == RefundStatus::Pending)
                    else {
                        return Ok(Plan::Answer(answer(&payment, &current)));
                    };
                    let mut next = payment.clone();
                    next.refunds[at].status = status;
                    next.refunds[at].refund_id = gateway_id.clone();
                    if status == RefundStatus::Failed {
                        next.card_reversed -= refund.amount;
                    }
                    next.updated_at = now;
                    let mut wallets =
                        crate::ledger::rules::next_version(&current, next.currency, now, |_| {});
                    track(&mut wallets, &next);
                    let answer = answer(&next, &wallets);
                    let writes = vec![
                        Write::Wallets(wallets),
                        Write::ReverseInvoicePayment {
                            payment: next,
                            reversed_before: payment.reversed,
                        },
                    ];
                    Ok(Plan::Commit(writes, answer))
                })
                .await?;
        }
        Ok(paid)
    }

    /// Takes over a refund left pending: its claim time moved to `at` (a new lease), only while
    /// it is still pending with the claim time read. Answers whether it was taken, and the
    /// payment now.
    async fn take_over_refund(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
        refund: &CardRefund,
        at: Timestamp,
    ) -> DomainResult<(bool, PaymentAndWallet)> {
        self.change(&tenant.business_id, None, |now| async move {
            let now = now.max(at);
            let current = self.wallets_of(tenant, customer_id).await?;
            let payment = self
                .invoice_payment_of(tenant, customer_id, invoice_id)
                .await?
                .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))?;
            let Some(index) = payment.refunds.iter().position(|r| {
                r.id == refund.id && r.status == RefundStatus::Pending && r.at == refund.at
            }) else {
                return Ok(Plan::Answer((false, answer(&payment, &current))));
            };
            let mut next = payment.clone();
            next.refunds[index].at = now;
            next.updated_at = now;
            let mut wallets =
                crate::ledger::rules::next_version(&current, next.currency, now, |_| {});
            track(&mut wallets, &next);
            let answer = answer(&next, &wallets);
            let writes = vec![
                Write::Wallets(wallets),
                Write::ReverseInvoicePayment {
                    payment: next,
                    reversed_before: payment.reversed,
                },
            ];
            Ok(Plan::Commit(writes, (true, answer)))
        })
        .await
    }
}
