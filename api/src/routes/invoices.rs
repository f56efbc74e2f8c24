//! `/customers/{id}/wallets/invoice-payments`: pay, get, reverse.

use serde::{Deserialize, Serialize};
use shared::invoices::model::{InvoiceCommand, PaymentAndWallet, ReversalCommand};
use shared::kernel::{Amount, Clock, Currency, InvoiceId};
use shared::ports::Store;
use shared::ValidationError;

use super::ledger::{optional_key, optional_reason};
use crate::http::request::{body, customer_id, invoice_id};
use crate::http::{json, Answer, Call};
use crate::views::{InvoicePaymentRecordView, WalletView};

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
