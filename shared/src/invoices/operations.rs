//! Invoice payment operations.

use super::model::{InvoiceCommand, InvoicePayment, PaymentAndWallet, ReversalCommand};
use super::rules::{apply, reverse};
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::{Clock, CustomerId, EntryId, InvoiceId};
use crate::ledger::model::CustomerWallets;
use crate::ports::Store;
use crate::service::Service;

fn answer(payment: &InvoicePayment, wallets: &CustomerWallets) -> PaymentAndWallet {
    PaymentAndWallet {
        payment: payment.clone(),
        wallet: wallets.wallet_in(payment.currency),
    }
}

impl<S: Store, C: Clock> Service<S, C> {
    async fn invoice_payment(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> DomainResult<Option<InvoicePayment>> {
        self.store()
            .get_invoice_payment(&tenant.business_id, customer_id, invoice_id)
            .await
    }

    /// Pays `min(available, amount due)` of an invoice from the wallet of its currency, once per
    /// customer and invoice.
    pub async fn pay_invoice(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: InvoiceCommand,
    ) -> DomainResult<PaymentAndWallet> {
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        self.change(&tenant.business_id, None, |now| async move {
            let current = self.wallets_of(tenant, customer_id).await?;
            if let Some(original) = self
                .invoice_payment(tenant, customer_id, &command.invoice_id)
                .await?
            {
                return Err(DomainError::InvoiceAlreadyPaid {
                    original: Box::new(original),
                });
            }
            let (next, entry, payment) = apply(
                &current,
                &tenant.business_id,
                command,
                entry_id.clone(),
                now,
            )?;
            let answer = answer(&payment, &next);
            let mut writes = vec![Write::Wallets(next)];
            writes.extend(entry.map(Write::NewEntry));
            writes.push(Write::NewInvoicePayment(payment));
            Ok(Plan::Commit(writes, answer))
        })
        .await
    }

    /// What the wallet paid of one invoice, and the wallet now.
    pub async fn get_invoice_payment(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> DomainResult<PaymentAndWallet> {
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let payment = self
            .invoice_payment(tenant, customer_id, invoice_id)
            .await?
            .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))?;
        Ok(answer(&payment, &wallets))
    }

    /// Credits back part of an invoice's wallet payment (a refund of a wallet-paid invoice).
    pub async fn reverse_invoice_payment(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
        command: ReversalCommand,
    ) -> DomainResult<PaymentAndWallet> {
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        let key = command.idempotency_key.as_ref();
        self.change(&tenant.business_id, key, |now| async move {
            let current = self.wallets_of(tenant, customer_id).await?;
            let payment = self
                .invoice_payment(tenant, customer_id, invoice_id)
                .await?;
            let ruled = payment
                .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))
                .and_then(|payment| {
                    let (applied, next_payment) =
                        reverse(&current, &payment, command, entry_id.clone(), now)?;
                    Ok((applied, next_payment, payment.reversed))
                });
            Ok(Plan::from_rules(
                ruled,
                |(applied, next_payment, reversed_before)| {
                    let answer = answer(&next_payment, &applied.next);
                    let claim = key.map(|key| Write::ClaimKey {
                        key: key.clone(),
                        original: Original::Entry(applied.entry.clone()),
                    });
                    let mut writes = vec![
                        Write::Wallets(applied.next),
                        Write::NewEntry(applied.entry),
                        Write::ReverseInvoicePayment {
                            payment: next_payment,
                            reversed_before,
                        },
                    ];
                    writes.extend(claim);
                    (writes, answer)
                },
            ))
        })
        .await
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
