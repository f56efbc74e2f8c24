//! Invoice payment operations.

use super::model::{InvoiceCommand, InvoicePayment, PaymentAndWallet, ReversalCommand};
use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, CustomerId, InvoiceId};
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
    pub(super) async fn invoice_payment_of(
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
    /// customer and invoice; charges nothing (no gateway: `charging` has the whole payment).
    pub async fn pay_invoice(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: InvoiceCommand,
    ) -> DomainResult<PaymentAndWallet> {
        let none: Option<&crate::adapters::stripe::StripeGateway> = None;
        self.pay_invoice_with(none, tenant, customer_id, command)
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
            .invoice_payment_of(tenant, customer_id, invoice_id)
            .await?
            .ok_or_else(|| DomainError::InvoicePaymentNotFound(invoice_id.to_string()))?;
        Ok(answer(&payment, &wallets))
    }

    /// Reverses part of an invoice payment (`refunds`); without a gateway a refund to the card
    /// stays pending.
    pub async fn reverse_invoice_payment(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
        command: ReversalCommand,
    ) -> DomainResult<PaymentAndWallet> {
        let none: Option<&crate::adapters::stripe::StripeGateway> = None;
        let destination = super::model::Destination::default();
        self.reverse_invoice_payment_with(
            none,
            tenant,
            customer_id,
            invoice_id,
            command,
            destination,
        )
        .await
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
