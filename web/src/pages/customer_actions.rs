//! The customer page's actions: adjustments, profile edits, holds, reversals and closing. Each
//! checks the session, the CSRF token and the scope (`Cx::change`), calls the operation the API
//! route calls with the form's idempotency key, then sends the browser back to the customer's
//! page with a notice, or shows that page again with the refusal and what was typed.

use shared::access::sessions::SignedIn;
use shared::closing::model::CloseCommand;
use shared::customers::model::CustomerPatch;
use shared::customers::rules as fields;
use shared::holds::model::{CaptureCommand, HoldStatus};
use shared::invoices::model::{Destination, ReversalCommand};
use shared::kernel::text::{reason, reference_object_id};
use shared::kernel::{Amount, Clock, Currency, CustomerId, HoldId, IdempotencyKey, InvoiceId};
use shared::ledger::model::{EntryCommand, EntryType, EventType};
use shared::ports::Store;
use shared::{DomainError, ValidationError};

use super::customer::{base, customer_id, render, EVENT_TYPES};
use super::{Cx, Failure};
use crate::forms::Fields;
use crate::respond::{redirect, Answer, PageError};

fn event_type(raw: Option<&str>) -> Result<EventType, ValidationError> {
    let raw = raw.unwrap_or("merchant_adjustment");
    EVENT_TYPES
        .into_iter()
        .find(|e| e.as_str() == raw)
        .ok_or_else(|| {
            ValidationError::new("invalid_event_type", "pick an entry type from the list")
        })
}

fn idempotency_key(form: &Fields) -> Result<Option<IdempotencyKey>, ValidationError> {
    form.get("idempotency_key")
        .map(IdempotencyKey::parse)
        .transpose()
}

fn optional_text(
    form: &Fields,
    name: &str,
    parse: fn(&str) -> Result<String, ValidationError>,
) -> Result<Option<String>, ValidationError> {
    form.get(name).map(parse).transpose()
}

fn entry_command(form: &Fields) -> Result<EntryCommand, ValidationError> {
    let currency = Currency::parse(form.get("currency").unwrap_or(""))?;
    let entry_type = match form.get("entry_type") {
        Some("credit") => EntryType::Credit,
        Some("debit") => EntryType::Debit,
        _ => {
            return Err(ValidationError::new(
                "invalid_entry_type",
                "choose credit or debit",
            ))
        }
    };
    Ok(EntryCommand {
        currency,
        amount: Amount::new(crate::money::parse(
            form.get("amount").unwrap_or(""),
            currency,
        )?)?,
        entry_type,
        event_type: event_type(form.get("event_type"))?,
        reason: optional_text(form, "reason", reason)?,
        reference_object_id: optional_text(form, "reference_object_id", reference_object_id)?,
        idempotency_key: idempotency_key(form)?,
    })
}

/// A resubmitted form (a double click, a reload) whose first submission did the work: the
/// domain refuses the second (its idempotency key is taken, the hold is no longer pending, the
/// wallet is closed); the page reports the work done, as it was, once.
fn applied_before(
    error: DomainError,
    resubmitted: impl Fn(&DomainError) -> bool,
) -> Result<(), PageError> {
    if resubmitted(&error) {
        Ok(())
    } else {
        Err(error.into())
    }
}

/// The customer's page again after a refused action: its message, what was typed, the status
/// the API would answer.
async fn refused<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    id: &CustomerId,
    form: &Fields,
    error: PageError,
) -> Answer {
    let failure = Failure::of(error, form)?;
    render(cx, signed_in, id, Some(failure)).await
}

/// The outcome of a money action: back to the page with a notice, or the page with the error.
async fn after<S: Store, C: Clock, T>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    id: &CustomerId,
    form: &Fields,
    result: Result<T, PageError>,
    done: &str,
) -> Answer {
    match result {
        Ok(_) => Ok(redirect(&format!("{}?done={done}", base(id)))),
        Err(error) => refused(cx, signed_in, id, form, error).await,
    }
}

pub async fn adjust<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let result = match entry_command(&form) {
        Ok(command) => {
            let done = if command.entry_type == EntryType::Credit {
                "credited"
            } else {
                "debited"
            };
            cx.acting(
                &signed_in,
                cx.app.create_entry(&signed_in.tenant, &id, command),
            )
            .await
            .map(|_| done)
            .or_else(|e| {
                applied_before(e, |e| matches!(e, DomainError::IdempotencyKeyReused { .. }))
                    .map(|_| done)
            })
        }
        Err(invalid) => Err(invalid.into()),
    };
    let done = *result.as_ref().unwrap_or(&"");
    after(cx, &signed_in, &id, &form, result, done).await
}

pub async fn update_profile<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let patch = || -> Result<CustomerPatch, ValidationError> {
        let mut metadata = shared::customers::model::Metadata::new();
        for line in form.get("metadata").unwrap_or("").lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                ValidationError::new(
                    "invalid_metadata",
                    "write metadata as key=value, one per line",
                )
            })?;
            metadata.insert(
                key.trim().to_owned(),
                serde_json::Value::String(value.trim().to_owned()),
            );
        }
        Ok(CustomerPatch {
            name: Some(fields::name(form.get("name").unwrap_or(""))?),
            phone_number: Some(
                form.get("phone_number")
                    .map(fields::phone_number)
                    .transpose()?,
            ),
            metadata: Some(fields::metadata(metadata)?),
            ..CustomerPatch::default()
        })
    };
    let result = match patch() {
        Ok(patch) => cx
            .acting(
                &signed_in,
                cx.app.update_customer(&signed_in.tenant, &id, patch),
            )
            .await
            .map_err(PageError::from),
        Err(invalid) => Err(invalid.into()),
    };
    after(cx, &signed_in, &id, &form, result, "saved").await
}

fn hold_id<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<HoldId, PageError> {
    HoldId::parse(cx.param("hold_id")).map_err(|_| PageError::NotFound)
}

pub async fn capture_hold<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let (id, hold) = (customer_id(cx)?, hold_id(cx)?);
    let tenant = &signed_in.tenant;
    let result = async {
        let found = cx.app.get_hold(tenant, &id, &hold).await?;
        let amount = form
            .get("amount")
            .map(|typed| crate::money::parse(typed, found.currency).and_then(Amount::new))
            .transpose()?;
        let command = CaptureCommand {
            amount,
            reason: None,
        };
        let captured = cx
            .acting(&signed_in, cx.app.capture_hold(tenant, &id, &hold, command))
            .await;
        captured.map(|_| ()).or_else(|e| {
            applied_before(e, |e| matches!(e, DomainError::HoldNotPending { hold } if hold.status == HoldStatus::Captured))
        })
    }
    .await;
    after(cx, &signed_in, &id, &form, result, "captured").await
}

pub async fn release_hold<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let (id, hold) = (customer_id(cx)?, hold_id(cx)?);
    let result = cx
        .acting(
            &signed_in,
            cx.app.release_hold(&signed_in.tenant, &id, &hold),
        )
        .await
        .map(|_| ())
        .or_else(|e| {
            applied_before(e, |e| matches!(e, DomainError::HoldNotPending { hold } if hold.status == HoldStatus::Released))
        });
    after(cx, &signed_in, &id, &form, result, "released").await
}

pub async fn reverse_invoice_payment<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let tenant = &signed_in.tenant;
    let result = async {
        let invoice = InvoiceId::parse(cx.param("invoice_id")).map_err(|_| PageError::NotFound)?;
        let found = cx.app.get_invoice_payment(tenant, &id, &invoice).await?;
        let command = ReversalCommand {
            amount: Amount::new(crate::money::parse(
                form.get("amount").unwrap_or(""),
                found.payment.currency,
            )?)?,
            reason: optional_text(&form, "reason", reason)?,
            idempotency_key: idempotency_key(&form)?,
        };
        let destination = match form.get("destination") {
            None | Some("original_method") => Destination::OriginalMethod,
            Some("wallet") => Destination::Wallet,
            Some(_) => {
                return Err(ValidationError::new(
                    "invalid_destination",
                    "choose where the money goes: the wallet or back where it came from",
                )
                .into())
            }
        };
        let gateway = cx.app.stripe().map_err(|e| {
            DomainError::GatewayUnavailable(format!("payment gateway configuration: {e}"))
        })?;
        let reversed = cx
            .acting(
                &signed_in,
                cx.app.reverse_invoice_payment_with(
                    gateway,
                    tenant,
                    &id,
                    &invoice,
                    command,
                    destination,
                ),
            )
            .await;
        reversed.map(|_| ()).or_else(|e| {
            applied_before(e, |e| matches!(e, DomainError::IdempotencyKeyReused { .. }))
        })
    }
    .await;
    after(cx, &signed_in, &id, &form, result, "reversed").await
}

pub async fn close<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let result = async {
        let reason = reason(form.get("reason").unwrap_or(""))?;
        if reason.trim().is_empty() {
            return Err(
                ValidationError::new("invalid_reason", "say why the wallet is closed").into(),
            );
        }
        let command = CloseCommand {
            currency: Currency::parse(form.get("currency").unwrap_or(""))?,
            reason,
            reference_object_id: None,
        };
        let closed = cx
            .acting(
                &signed_in,
                cx.app.close_wallet(&signed_in.tenant, &id, command),
            )
            .await;
        closed
            .map(|_| ())
            .or_else(|e| applied_before(e, |e| matches!(e, DomainError::WalletClosed { .. })))
    }
    .await;
    after(cx, &signed_in, &id, &form, result, "closed").await
}
