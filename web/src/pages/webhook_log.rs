//! The delivery log of a webhook endpoint: its deliveries (newest first, paged by cursor,
//! filtered by status), one delivery with the payload as signed and every attempt, and a
//! resend (the same `webhook-id`), applied once per form. The same operations as
//! `/webhooks/{id}/deliveries` (`api/src/routes/webhooks.rs`).

use std::sync::OnceLock;

use lambda_http::http::StatusCode;
use maud::{html, Markup};
use shared::access::sessions::SignedIn;
use shared::adapters::webhook_http::HttpSender;
use shared::kernel::{Clock, EndpointId, EventId};
use shared::ports::Store;
use shared::webhooks::model::{DeliveryQuery, DeliveryStatus, TargetPolicy};

use super::Cx;
use crate::forms::{query_string, Fields};
use crate::layout::{self, time};
use crate::respond::{page_response, redirect, Answer, PageError};

/// Deliveries on one page of the log.
const LOG_PAGE: u32 = 20;

/// The sender of resends, built once per process with the configured target policy (as the
/// API's resend route does).
fn sender(policy: TargetPolicy) -> &'static HttpSender {
    static SENDER: OnceLock<HttpSender> = OnceLock::new();
    SENDER.get_or_init(|| HttpSender::new(policy))
}

fn endpoint_base(id: &EndpointId) -> String {
    format!("/dashboard/webhooks/{id}")
}

fn status_text(status: DeliveryStatus) -> &'static str {
    status.as_str()
}

/// The endpoint page's log section: `?status=` filters it, `?after=` (a delivery id the page
/// gave) pages it.
pub async fn deliveries<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    id: &EndpointId,
    query: &Fields,
) -> Result<Markup, PageError> {
    let status = match query.get("status") {
        None => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            shared::ValidationError::new(
                "invalid_query",
                "status must be one of pending, succeeded, failed",
            )
        })?),
    };
    let after = query
        .get("after")
        .map(|raw| EventId::parse(raw).map_err(|_| PageError::NotFound))
        .transpose()?;
    let paged = after.is_some();
    let mut found = cx
        .app
        .list_deliveries(
            &signed_in.tenant,
            id,
            &DeliveryQuery {
                status,
                event_type: None,
                after,
                limit: LOG_PAGE + 1,
            },
        )
        .await?;
    let more = found.len() > LOG_PAGE as usize;
    found.truncate(LOG_PAGE as usize);
    let here = endpoint_base(id);
    let status_code = status.map(status_text).unwrap_or("");
    Ok(html! {
        section aria-labelledby="log" {
            h2 #log { "Deliveries" }
            form.row method="get" action=(here) {
                label { "Status"
                    select name="status" {
                        option value="" selected[status.is_none()] { "all" }
                        @for s in [DeliveryStatus::Pending, DeliveryStatus::Succeeded, DeliveryStatus::Failed] {
                            option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                        }
                    }
                }
                button.secondary type="submit" { "Show" }
            }
            @if found.is_empty() {
                p.muted { "No deliveries" @if paged { " on this page" } "." }
            } @else {
                div.scroll {
                    table {
                        caption.skip { "Deliveries, newest first" }
                        thead { tr {
                            th scope="col" { "Event" } th scope="col" { "Type" } th scope="col" { "Status" }
                            th scope="col" { "Attempts" } th.hide-narrow scope="col" { "Created" }
                        } }
                        tbody {
                            @for d in &found {
                                tr {
                                    td { a href={(here) "/deliveries/" (d.id)} { code { (d.id) } } }
                                    td { (d.event_type.as_str()) }
                                    td { (status_text(d.status)) }
                                    td { (d.attempt_count) }
                                    td.hide-narrow { (time(d.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Delivery pages" {
                @if paged {
                    a href={(here) "?" (query_string(&[("status", status_code)])) "#log"} { "← Newest" }
                }
                @if more {
                    @if let Some(last) = found.last() {
                        a href={(here) "?" (query_string(&[("status", status_code), ("after", &last.id.to_string())])) "#log"} { "Older →" }
                    }
                }
            }
        }
    })
}

fn ids<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<(EndpointId, EventId), PageError> {
    let endpoint = EndpointId::parse(cx.param("webhook_id")).map_err(|_| PageError::NotFound)?;
    let delivery = EventId::parse(cx.param("delivery_id")).map_err(|_| PageError::NotFound)?;
    Ok((endpoint, delivery))
}

pub async fn delivery<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    render(cx, &signed_in, None).await
}

async fn render<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    failure: Option<(StatusCode, String)>,
) -> Answer {
    let (endpoint_id, id) = ids(cx)?;
    let (delivery, attempts) = cx
        .app
        .get_delivery(&signed_in.tenant, &endpoint_id, &id)
        .await?;
    let payload = serde_json::from_str::<serde_json::Value>(&delivery.payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| delivery.payload.clone());
    let back = endpoint_base(&endpoint_id);
    let query = crate::forms::query(cx.request);
    let body = html! {
        p { a href={(back) "#log"} { "← Back to the endpoint" } }
        h1 { "Delivery " code { (delivery.id) } }
        (layout::done_notice(query.get("done")))
        @if let Some((_, message)) = &failure { p.alert role="alert" #failure { (message) } }
        dl.facts {
            dt { "Event" } dd { (delivery.event_type.as_str()) }
            dt { "Status" } dd { (status_text(delivery.status)) }
            dt { "Attempts" } dd { (delivery.attempt_count) }
            @if let Some(at) = delivery.next_attempt_at { dt { "Next attempt" } dd { (time(at)) } }
            dt { "Created" } dd { (time(delivery.created_at)) }
            dt { "Updated" } dd { (time(delivery.updated_at)) }
        }
        form method="post" action={(back) "/deliveries/" (delivery.id) "/resend"} {
            (layout::change_fields(signed_in))
            button.secondary type="submit" { "Resend now" }
        }
        h2 { "Attempts" }
        @if attempts.is_empty() {
            p.muted { "No attempt yet." }
        } @else {
            div.scroll {
                table {
                    caption.skip { "Attempts, first first" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "At" } th scope="col" { "Answer" }
                        th scope="col" { "Time" } th scope="col" { "Error or body" }
                    } }
                    tbody {
                        @for attempt in &attempts {
                            tr {
                                td { (attempt.number) }
                                td { (time(attempt.attempted_at)) }
                                td { @match attempt.result.status_code { Some(code) => (code), None => "none" } }
                                td { (attempt.result.duration_ms) " ms" }
                                td {
                                    @if let Some(error) = &attempt.result.error { (error) br; }
                                    @if !attempt.result.response.is_empty() { code { (attempt.result.response) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Payload as signed" }
        pre.scroll { code { (payload) } }
    };
    let markup = layout::page("Webhook delivery", signed_in, body);
    Ok(page_response(
        failure.map_or(StatusCode::OK, |(status, _)| status),
        markup,
    ))
}

pub async fn resend<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let (endpoint_id, id) = ids(cx)?;
    let tenant = &signed_in.tenant;
    let sender = sender(cx.app.config().webhook_targets);
    let (endpoint_ref, id_ref) = (&endpoint_id, &id);
    let work = move || async move {
        cx.app
            .resend_delivery(sender, tenant, endpoint_ref, id_ref)
            .await?;
        Ok(format!(
            "{}/deliveries/{id_ref}?done=resent",
            endpoint_base(endpoint_ref)
        ))
    };
    let once = cx
        .app
        .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
    match cx.acting(&signed_in, once).await {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => {
            let error = PageError::from(error);
            if matches!(error, PageError::SignIn { .. } | PageError::Forbidden(_)) {
                return Err(error);
            }
            let (status, _, message) = error.explain();
            render(cx, &signed_in, Some((status, message))).await
        }
    }
}
