//! `/customers/{id}/wallets/invoice-payments`: pay, get, reverse.

use serde::{Deserialize, Serialize};
use shared::invoices::model::{Destination, InvoiceCommand, PaymentAndWallet, ReversalCommand};
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
    charge_remainder: Option<bool>,
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
            charge_remainder: self.charge_remainder,
        })
    }
}

#[derive(Deserialize)]
struct ReversalBody {
    amount: i64,
    destination: Option<String>,
    reason: Option<String>,
    idempotency_key: Option<String>,
}

impl ReversalBody {
    fn parse(self) -> Result<(ReversalCommand, Destination), ValidationError> {
        let destination = match self.destination.as_deref() {
            None | Some("original_method") => Destination::OriginalMethod,
            Some("wallet") => Destination::Wallet,
            Some(other) => {
                return Err(ValidationError::new(
                    "invalid_destination",
                    format!("destination must be `wallet` or `original_method`; got `{other}`"),
                ))
            }
        };
        let command = ReversalCommand {
            amount: Amount::new(self.amount)?,
            reason: optional_reason(self.reason.as_deref())?,
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
        };
        Ok((command, destination))
    }
}

/// The configured payment gateway, if any (charges of the remainder, refunds to the card).
fn gateway<S: Store, C: Clock>(
    app: &shared::Service<S, C>,
) -> Result<Option<&shared::adapters::stripe::StripeGateway>, shared::DomainError> {
    app.stripe().map_err(|e| {
        shared::DomainError::GatewayUnavailable(format!("payment gateway configuration: {e}"))
    })
}

pub async fn pay<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<InvoicePaymentBody>(request)?.parse()?;
    let paid = app
        .pay_invoice_with(gateway(app)?, tenant, &customer_id(request)?, command)
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
    let (command, destination) = body::<ReversalBody>(request)?.parse()?;
    let customer_id = customer_id(request)?;
    let reversed = app
        .reverse_invoice_payment_with(
            gateway(app)?,
            tenant,
            &customer_id,
            &invoice_id(request)?,
            command,
            destination,
        )
        .await?;
    json(&InvoicePaymentView::of(&reversed))
}
