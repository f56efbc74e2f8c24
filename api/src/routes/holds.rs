//! `/customers/{id}/wallets/holds`: create, list, get, capture, release.

use serde::Deserialize;
use shared::holds::model::{CaptureCommand, HoldCommand, HoldQuery, HoldStatus};
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::{Amount, Clock, Currency, Timestamp};
use shared::ports::Store;
use shared::ValidationError;

use super::ledger::{optional_key, optional_reason, optional_reference};
use crate::http::request::{body, currency, customer_id, hold_id, optional_body, page, query};
use crate::http::{json, Answer, ApiError, Call, Page, Request};
use crate::views::HoldView;

#[derive(Deserialize)]
struct HoldBody {
    amount: i64,
    currency: String,
    reason: Option<String>,
    reference_object_id: Option<String>,
    idempotency_key: Option<String>,
    /// RFC 3339; default and maximum in `shared::holds::rules`.
    expires_at: Option<String>,
}

impl HoldBody {
    fn parse(self) -> Result<HoldCommand, ValidationError> {
        Ok(HoldCommand {
            currency: Currency::parse(&self.currency)?,
            amount: Amount::new(self.amount)?,
            reason: optional_reason(self.reason.as_deref())?,
            reference_object_id: optional_reference(self.reference_object_id.as_deref())?,
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
            expires_at: self
                .expires_at
                .as_deref()
                .map(|raw| {
                    parse_instant("expires_at", raw, Round::Down).map(Timestamp::from_unix_ms)
                })
                .transpose()?,
        })
    }
}

/// Capture body; an empty body captures the whole hold.
#[derive(Deserialize, Default)]
struct CaptureBody {
    amount: Option<i64>,
    reason: Option<String>,
}

impl CaptureBody {
    fn parse(self) -> Result<CaptureCommand, ValidationError> {
        Ok(CaptureCommand {
            amount: self.amount.map(Amount::new).transpose()?,
            reason: optional_reason(self.reason.as_deref())?,
        })
    }
}

fn status_filter(request: &Request) -> Result<Option<HoldStatus>, ApiError> {
    query(request, "status")
        .map(|raw| {
            serde_json::from_value::<HoldStatus>(serde_json::Value::String(raw.clone())).map_err(
                |_| {
                    ApiError::invalid(
                        "invalid_query",
                        format!("`status` must be one of pending, captured, released, expired; got `{raw}`"),
                    )
                },
            )
        })
        .transpose()
}

pub async fn create<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<HoldBody>(request)?.parse()?;
    let hold = app
        .create_hold(tenant, &customer_id(request)?, command)
        .await?;
    json(&HoldView::of(&hold))
}

pub async fn list<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let page = page(request)?;
    let query = HoldQuery {
        status: status_filter(request)?,
        currency: currency(request)?,
        page,
    };
    let holds = app
        .list_holds(tenant, &customer_id(request)?, query)
        .await?;
    json(&Page::of(&holds, HoldView::of))
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let hold = app
        .get_hold(tenant, &customer_id(request)?, &hold_id(request)?)
        .await?;
    json(&HoldView::of(&hold))
}

pub async fn capture<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = optional_body::<CaptureBody>(request)?.parse()?;
    let hold = app
        .capture_hold(tenant, &customer_id(request)?, &hold_id(request)?, command)
        .await?;
    json(&HoldView::of(&hold))
}

pub async fn release<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let hold = app
        .release_hold(tenant, &customer_id(request)?, &hold_id(request)?)
        .await?;
    json(&HoldView::of(&hold))
}
