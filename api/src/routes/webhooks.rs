//! `/webhooks`: Dodo's `client.webhooks` (endpoints, secret, headers) and the delivery log.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::adapters::webhook_http::HttpSender;
use shared::kernel::{Clock, EndpointId, EventId, Timestamp};
use shared::ports::Store;
use shared::webhooks::model::{
    Attempt, Delivery, DeliveryQuery, DeliveryStatus, Endpoint, EndpointPatch, EventType,
    TargetPolicy,
};
use shared::webhooks::rules::{self, EndpointFields};
use shared::DomainError;

use crate::http::request::{body, path_parameter, query};
use crate::http::{json, Answer, ApiError, Call, Request};

/// Largest page of endpoints or deliveries.
const LIMIT_MAX: i64 = 100;
const LIMIT_DEFAULT: i64 = 10;

/// The sender of resends, built once per process with the configured target policy.
fn sender(policy: TargetPolicy) -> &'static HttpSender {
    static SENDER: OnceLock<HttpSender> = OnceLock::new();
    SENDER.get_or_init(|| HttpSender::new(policy))
}

/// An endpoint as the API shows it (Dodo's `WebhookDetails`); never its secret.
#[derive(Debug, Serialize)]
pub struct WebhookView<'a> {
    id: &'a EndpointId,
    url: &'a str,
    description: &'a str,
    metadata: &'a BTreeMap<String, String>,
    disabled: bool,
    filter_types: Vec<&'static str>,
    rate_limit: Option<u32>,
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Option<&'a shared::access::model::Actor>,
    updated_by: Option<&'a shared::access::model::Actor>,
}

impl<'a> WebhookView<'a> {
    pub fn of(endpoint: &'a Endpoint) -> WebhookView<'a> {
        WebhookView {
            id: &endpoint.id,
            url: &endpoint.url,
            description: &endpoint.description,
            metadata: &endpoint.metadata,
            disabled: endpoint.disabled,
            filter_types: endpoint.filter_types.iter().map(|t| t.as_str()).collect(),
            rate_limit: endpoint.rate_limit,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
            created_by: endpoint.created_by.as_ref(),
            updated_by: endpoint.updated_by.as_ref(),
        }
    }
}

/// A cursor page (the SDK's `CursorPagePagination`): it asks again with `iterator` until `done`.
#[derive(Debug, Serialize)]
struct CursorPage<T> {
    data: Vec<T>,
    iterator: Option<String>,
    done: bool,
}

#[derive(Debug, Serialize)]
struct AttemptView<'a> {
    attempt: u32,
    attempted_at: Timestamp,
    status_code: Option<u16>,
    duration_ms: u64,
    error: Option<&'a str>,
    response: &'a str,
}

impl<'a> AttemptView<'a> {
    fn of(attempt: &'a Attempt) -> AttemptView<'a> {
        AttemptView {
            attempt: attempt.number,
            attempted_at: attempt.attempted_at,
            status_code: attempt.result.status_code,
            duration_ms: attempt.result.duration_ms,
            error: attempt.result.error.as_deref(),
            response: &attempt.result.response,
        }
    }
}

#[derive(Debug, Serialize)]
struct DeliveryView<'a> {
    id: &'a EventId,
    webhook_id: &'a EndpointId,
    event_type: &'static str,
    status: DeliveryStatus,
    attempt_count: u32,
    next_attempt_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The event exactly as signed and sent.
    payload: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<AttemptView<'a>>>,
}

impl<'a> DeliveryView<'a> {
    fn of(delivery: &'a Delivery, attempts: Option<&'a [Attempt]>) -> DeliveryView<'a> {
        DeliveryView {
            id: &delivery.id,
            webhook_id: &delivery.endpoint_id,
            event_type: delivery.event_type.as_str(),
            status: delivery.status,
            attempt_count: delivery.attempt_count,
            next_attempt_at: delivery.next_attempt_at,
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
            payload: serde_json::from_str(&delivery.payload).unwrap_or(serde_json::Value::Null),
            attempts: attempts.map(|all| all.iter().map(AttemptView::of).collect()),
        }
    }
}

#[derive(Deserialize)]
struct CreateBody {
    url: String,
    description: Option<String>,
    disabled: Option<bool>,
    filter_types: Option<Vec<String>>,
    headers: Option<BTreeMap<String, String>>,
    idempotency_key: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    rate_limit: Option<i64>,
}

#[derive(Deserialize, Default)]
struct PatchBody {
    url: Option<String>,
    description: Option<String>,
    disabled: Option<bool>,
    filter_types: Option<Vec<String>>,
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    rate_limit: Option<Option<i64>>,
}

#[derive(Deserialize)]
struct HeadersBody {
    headers: BTreeMap<String, String>,
}

fn webhook_id(request: &Request) -> Result<EndpointId, ApiError> {
    let raw = path_parameter(request, "webhook_id");
    EndpointId::parse(&raw).map_err(|_| DomainError::WebhookNotFound(raw).into())
}

fn delivery_id(request: &Request) -> Result<EventId, ApiError> {
    let raw = path_parameter(request, "delivery_id");
    EventId::parse(&raw).map_err(|_| DomainError::DeliveryNotFound(raw).into())
}

fn limit(request: &Request) -> Result<u32, ApiError> {
    let Some(raw) = query(request, "limit") else {
        return Ok(LIMIT_DEFAULT as u32);
    };
    match raw.parse::<i64>() {
        Ok(n) if (1..=LIMIT_MAX).contains(&n) => Ok(n as u32),
        _ => Err(ApiError::invalid(
            "invalid_query",
            format!("`limit` must be an integer from 1 to {LIMIT_MAX}; got `{raw}`"),
        )),
    }
}

fn no_content() -> Answer {
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("static response"))
}

pub async fn create<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let raw = body::<CreateBody>(request)?;
    let fields = EndpointFields {
        url: raw.url,
        description: raw.description,
        disabled: raw.disabled,
        filter_types: raw.filter_types,
        headers: raw.headers,
        metadata: raw.metadata,
        rate_limit: raw.rate_limit,
        idempotency_key: raw.idempotency_key,
    };
    let new = rules::new_endpoint(fields, app.config().webhook_targets)?;
    let endpoint = app.create_endpoint(tenant, new).await?;
    json(&WebhookView::of(&endpoint))
}

pub async fn list<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let after = query(request, "iterator")
        .map(|raw| {
            EndpointId::parse(&raw).map_err(|_| {
                ApiError::invalid(
                    "invalid_query",
                    format!("`iterator` `{raw}` was not returned by this list"),
                )
            })
        })
        .transpose()?;
    let (endpoints, more) = app
        .list_endpoints(tenant, after.as_ref(), limit(request)? as usize)
        .await?;
    let iterator = more
        .then(|| endpoints.last().map(|e| e.id.to_string()))
        .flatten();
    json(&CursorPage {
        data: endpoints.iter().map(WebhookView::of).collect(),
        done: iterator.is_none(),
        iterator,
    })
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let endpoint = call
        .app
        .get_endpoint(call.tenant, &webhook_id(call.request)?)
        .await?;
    json(&WebhookView::of(&endpoint))
}

pub async fn update<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let id = webhook_id(request)?;
    let raw = body::<PatchBody>(request)?;
    let policy = app.config().webhook_targets;
    let patch = EndpointPatch {
        url: raw.url.map(|url| rules::url(&url, policy)).transpose()?,
        description: raw
            .description
            .map(|d| rules::description(Some(d)))
            .transpose()?,
        disabled: raw.disabled,
        filter_types: raw
            .filter_types
            .map(|t| rules::event_types(&t))
            .transpose()?,
        metadata: raw.metadata.map(rules::metadata).transpose()?,
        rate_limit: raw.rate_limit.map(rules::rate_limit).transpose()?,
        headers: None,
    };
    let endpoint = app.update_endpoint(tenant, &id, &patch).await?;
    json(&WebhookView::of(&endpoint))
}

pub async fn delete<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    call.app
        .delete_endpoint(call.tenant, &webhook_id(call.request)?)
        .await?;
    no_content()
}

pub async fn secret<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let endpoint = call
        .app
        .get_endpoint(call.tenant, &webhook_id(call.request)?)
        .await?;
    json(&serde_json::json!({ "secret": endpoint.secret }))
}

pub async fn get_headers<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let endpoint = call
        .app
        .get_endpoint(call.tenant, &webhook_id(call.request)?)
        .await?;
    // Dodo: "Sensitive headers that have been redacted are returned in the sensitive field."
    let (headers, sensitive) = endpoint.shown_headers();
    json(&serde_json::json!({ "headers": headers, "sensitive": sensitive }))
}

pub async fn update_headers<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let id = webhook_id(request)?;
    let added = rules::headers(body::<HeadersBody>(request)?.headers)?;
    let patch = EndpointPatch {
        headers: Some(added),
        ..EndpointPatch::default()
    };
    app.update_endpoint(tenant, &id, &patch).await?;
    no_content()
}

pub async fn list_deliveries<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let id = webhook_id(request)?;
    let status = query(request, "status")
        .map(|raw| {
            DeliveryStatus::parse(&raw).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_query",
                    format!("`status` must be one of pending, succeeded, failed; got `{raw}`"),
                )
            })
        })
        .transpose()?;
    let event_type = query(request, "event_type")
        .map(|raw| {
            EventType::parse(&raw).ok_or_else(|| {
                ApiError::invalid("unknown_event_type", format!("unknown event type `{raw}`"))
            })
        })
        .transpose()?;
    let after = query(request, "iterator")
        .map(|raw| {
            EventId::parse(&raw).map_err(|_| {
                ApiError::invalid(
                    "invalid_query",
                    format!("`iterator` `{raw}` was not returned by this list"),
                )
            })
        })
        .transpose()?;
    let limit = limit(request)?;
    let query = DeliveryQuery {
        status,
        event_type,
        after,
        limit: limit + 1,
    };
    let mut deliveries = app.list_deliveries(tenant, &id, &query).await?;
    let more = deliveries.len() > limit as usize;
    deliveries.truncate(limit as usize);
    let iterator = more
        .then(|| deliveries.last().map(|d| d.id.to_string()))
        .flatten();
    json(&CursorPage {
        data: deliveries
            .iter()
            .map(|d| DeliveryView::of(d, None))
            .collect(),
        done: iterator.is_none(),
        iterator,
    })
}

pub async fn get_delivery<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let (delivery, attempts) = app
        .get_delivery(tenant, &webhook_id(request)?, &delivery_id(request)?)
        .await?;
    json(&DeliveryView::of(&delivery, Some(&attempts)))
}

pub async fn resend<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let sender = sender(app.config().webhook_targets);
    let (delivery, attempts) = app
        .resend_delivery(
            sender,
            tenant,
            &webhook_id(request)?,
            &delivery_id(request)?,
        )
        .await?;
    json(&DeliveryView::of(&delivery, Some(&attempts)))
}
