//! `/customers/{id}/wallets/invoice-payments`: pay, get, reverse.

use serde::{Deserialize, Serialize};
use shared::invoices::model::{InvoiceCommand, InvoicePayment, PaymentAndWallet, ReversalCommand};
use shared::kernel::{
    Amount, BusinessId, Clock, Currency, CustomerId, EntryId, InvoiceId, Timestamp,
};
use shared::ports::Store;
use shared::ValidationError;

use super::ledger::{optional_key, optional_reason, WalletView};
use crate::http::request::{body, customer_id, invoice_id};
use crate::http::{json, Answer, Call};

/// An invoice payment record as the API shows it (also the `invoice_payment` of a 409).
#[derive(Debug, Serialize)]
pub struct InvoicePaymentRecordView<'a> {
    invoice_id: &'a InvoiceId,
    customer_id: &'a CustomerId,
    business_id: &'a BusinessId,
    currency: Currency,
    amount_due: i64,
    applied: i64,
    remaining: i64,
    reversed: i64,
    ledger_entry_id: Option<&'a EntryId>,
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Option<&'a shared::access::model::Actor>,
    updated_by: Option<&'a shared::access::model::Actor>,
}

impl<'a> InvoicePaymentRecordView<'a> {
    pub fn of(payment: &'a InvoicePayment) -> InvoicePaymentRecordView<'a> {
        InvoicePaymentRecordView {
            invoice_id: &payment.invoice_id,
            customer_id: &payment.customer_id,
            business_id: &payment.business_id,
            currency: payment.currency,
            amount_due: payment.amount_due,
            applied: payment.applied,
            remaining: payment.remaining,
            reversed: payment.reversed,
            ledger_entry_id: payment.ledger_entry_id.as_ref(),
            created_at: payment.created_at,
            updated_at: payment.updated_at,
            created_by: payment.created_by.as_ref(),
            updated_by: payment.updated_by.as_ref(),
        }
    }
}

/// An invoice payment and the wallet of its currency, as the invoice routes answer.
#[derive(Debug, Serialize)]
struct InvoicePaymentView<'a> {
    #[serde(flatten)]
    payment: InvoicePaymentRecordView<'a>,
    wallet: WalletView<'a>,
}

impl<'a> InvoicePaymentView<'a> {
    fn of(answer: &'a PaymentAndWallet) -> InvoicePaymentView<'a> {
        InvoicePaymentView {
            payment: InvoicePaymentRecordView::of(&answer.payment),
            wallet: WalletView::of(&answer.wallet),
        }
    }
}

#[derive(Deserialize)]
struct InvoicePaymentBody {
    invoice_id: String,
    currency: String,
    amount_due: i64,
}

impl InvoicePaymentBody {
    fn parse(self) -> Result<InvoiceCommand, ValidationError> {
        Ok(InvoiceCommand {
            invoice_id: InvoiceId::parse(&self.invoice_id)?,
            currency: Currency::parse(&self.currency)?,
            amount_due: Amount::new(self.amount_due).map_err(|e| ValidationError {
                message: e.message.replacen("amount", "amount_due", 1),
                ..e
            })?,
        })
    }
}

#[derive(Deserialize)]
struct ReversalBody {
    amount: i64,
    reason: Option<String>,
    idempotency_key: Option<String>,
}

impl ReversalBody {
    fn parse(self) -> Result<ReversalCommand, ValidationError> {
        Ok(ReversalCommand {
            amount: Amount::new(self.amount)?,
            reason: optional_reason(self.reason.as_deref())?,
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
        })
    }
}

pub async fn pay<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<InvoicePaymentBody>(request)?.parse()?;
    let paid = app
        .pay_invoice(tenant, &customer_id(request)?, command)
        .await?;
    json(&InvoicePaymentView::of(&paid))
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let customer_id = customer_id(request)?;
    let found = app
        .get_invoice_payment(tenant, &customer_id, &invoice_id(request)?)
        .await?;
    json(&InvoicePaymentView::of(&found))
}

pub async fn reverse<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<ReversalBody>(request)?.parse()?;
    let customer_id = customer_id(request)?;
    let reversed = app
        .reverse_invoice_payment(tenant, &customer_id, &invoice_id(request)?, command)
        .await?;
    json(&InvoicePaymentView::of(&reversed))
}
