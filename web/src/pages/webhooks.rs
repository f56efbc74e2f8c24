//! Webhook endpoints: the list, creating one (url, description, the events it takes, a rate
//! limit), one endpoint's page (edit it, disable or enable it, delete it, reveal its signing
//! secret after a POST: never in a page read with GET) with its delivery log, and one delivery
//! with its attempts and a resend (`webhook_log.rs`). The same operations as `/webhooks`
//! (`api/src/routes/webhooks.rs`). Creating takes the form's key as the endpoint's own
//! idempotency key (the domain's); editing, deleting and resending apply once per form
//! (`Service::once_per_form`).

use lambda_http::http::StatusCode;
use maud::{html, Markup};
use shared::access::sessions::SignedIn;
use shared::kernel::{Clock, EndpointId, ValidationError};
use shared::ports::Store;
use shared::webhooks::model::{Endpoint, EndpointPatch, EventType};
use shared::webhooks::rules::{self, EndpointFields};

use super::{Cx, Failure};
use crate::forms::Fields;
use crate::layout::{self, time};
use crate::respond::{page, page_response, redirect, Answer, PageError};

use super::webhook_log as log;
pub use super::webhook_log::{delivery, resend};

const HERE: &str = "/dashboard/webhooks";

fn endpoint_id<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<EndpointId, PageError> {
    EndpointId::parse(cx.param("webhook_id")).map_err(|_| PageError::NotFound)
}

fn base(id: &EndpointId) -> String {
    format!("{HERE}/{id}")
}

/// What the endpoint takes: every event when it names none.
fn events(endpoint: &Endpoint) -> String {
    if endpoint.filter_types.is_empty() {
        "every event".into()
    } else {
        let names: Vec<&str> = endpoint.filter_types.iter().map(|t| t.as_str()).collect();
        names.join(", ")
    }
}

/// The fields of an endpoint's form: url, description, the events (checkboxes), the rate
/// limit; filled from `typed` after a refusal, else from `current`.
fn endpoint_fields(current: Option<&Endpoint>, typed: Option<&Fields>) -> Markup {
    let value = |name: &str, current: String| match typed {
        Some(typed) => typed.get(name).unwrap_or("").to_owned(),
        None => current,
    };
    let url = value("url", current.map(|e| e.url.clone()).unwrap_or_default());
    let description = value(
        "description",
        current.map(|e| e.description.clone()).unwrap_or_default(),
    );
    let rate_limit = value(
        "rate_limit",
        current
            .and_then(|e| e.rate_limit)
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    let checked = |event: EventType| match typed {
        Some(typed) => typed.all("filter_types").contains(&event.as_str()),
        None => current.is_some_and(|e| e.filter_types.contains(&event)),
    };
    html! {
        label { "URL" input type="url" name="url" required value=(url) placeholder="https://example.com/webhooks"; }
        label { "Description (optional)" input type="text" name="description" maxlength="500" value=(description); }
        fieldset {
            legend { "Events (none ticked: every event)" }
            @for event in EventType::ALL {
                label.check { input type="checkbox" name="filter_types" value=(event.as_str()) checked[checked(*event)]; (event.as_str()) }
            }
        }
        label { "Rate limit (requests per second, optional)"
            input type="number" name="rate_limit" min="1" max=(rules::RATE_LIMIT_MAX) value=(rate_limit); }
    }
}

pub async fn list<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, (endpoints, _)) = cx
        .signed_in_with(|tenant| async move {
            cx.app
                .list_endpoints(&tenant, None, rules::ENDPOINTS_MAX)
                .await
        })
        .await?;
    show_list(cx, &signed_in, endpoints, None)
}

async fn render_list<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    failure: Option<Failure<'_>>,
) -> Answer {
    let (endpoints, _) = cx
        .app
        .list_endpoints(&signed_in.tenant, None, rules::ENDPOINTS_MAX)
        .await?;
    show_list(cx, signed_in, endpoints, failure)
}

fn show_list<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    endpoints: Vec<Endpoint>,
    failure: Option<Failure<'_>>,
) -> Answer {
    let query = crate::forms::query(cx.request);
    let body = html! {
        h1 { "Webhooks" }
        (layout::done_notice(query.get("done")))
        @if endpoints.is_empty() {
            p.muted { "No endpoints yet." }
        } @else {
            div.scroll {
                table {
                    caption.skip { "Webhook endpoints, oldest first" }
                    thead { tr {
                        th scope="col" { "URL" } th scope="col" { "Description" }
                        th.hide-narrow scope="col" { "Events" } th scope="col" { "Status" }
                    } }
                    tbody {
                        @for endpoint in &endpoints {
                            tr {
                                td { a href=(base(&endpoint.id)) { (endpoint.url) } }
                                td { (endpoint.description) }
                                td.hide-narrow { (events(endpoint)) }
                                td { @if endpoint.disabled { "disabled" } @else { "enabled" } }
                            }
                        }
                    }
                }
            }
        }
        h2 #new { "New endpoint" }
        @if let Some(failure) = &failure { p.alert role="alert" #failure { (failure.message) } }
        form.stack method="post" action=(HERE) {
            (layout::change_fields(signed_in))
            (endpoint_fields(None, failure.as_ref().map(|f| f.typed)))
            button type="submit" { "Create endpoint" }
        }
    };
    let markup = layout::page("Webhooks", signed_in, body);
    Ok(page_response(
        failure.map_or(StatusCode::OK, |f| f.status),
        markup,
    ))
}

/// A typed rate limit: blank is none.
fn rate_limit(form: &Fields) -> Result<Option<i64>, ValidationError> {
    form.get("rate_limit")
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                ValidationError::new(
                    "invalid_rate_limit",
                    "the rate limit must be a whole number of requests per second",
                )
            })
        })
        .transpose()
}

fn filter_types(form: &Fields) -> Vec<String> {
    form.all("filter_types")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

pub async fn create<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let tenant = &signed_in.tenant;
    let result = async {
        shared::access::forms::form_key(form.get("idempotency_key"))?;
        let fields = EndpointFields {
            url: form.get("url").unwrap_or("").to_owned(),
            description: form.get("description").map(str::to_owned),
            disabled: None,
            filter_types: Some(filter_types(&form)),
            headers: None,
            metadata: None,
            rate_limit: rate_limit(&form)?,
            idempotency_key: form.get("idempotency_key").map(str::to_owned),
        };
        let new = rules::new_endpoint(fields, cx.app.config().webhook_targets)?;
        Ok::<_, PageError>(
            cx.acting(&signed_in, cx.app.create_endpoint(tenant, new))
                .await?,
        )
    }
    .await;
    match result {
        Ok(endpoint) => Ok(redirect(&format!("{}?done=created", base(&endpoint.id)))),
        Err(error) => render_list(cx, &signed_in, Some(Failure::of(error, &form)?)).await,
    }
}

pub async fn show<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    render(cx, &signed_in, None).await
}

async fn render<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    failure: Option<Failure<'_>>,
) -> Answer {
    let id = endpoint_id(cx)?;
    let endpoint = cx.app.get_endpoint(&signed_in.tenant, &id).await?;
    let query = crate::forms::query(cx.request);
    let log = log::deliveries(cx, signed_in, &id, &query).await?;
    let here = base(&id);
    let body = html! {
        p { a href=(HERE) { "← Webhooks" } }
        h1 { "Endpoint " code { (endpoint.id) } }
        (layout::done_notice(query.get("done")))
        @if let Some(failure) = &failure { p.alert role="alert" #failure { (failure.message) } }
        dl.facts {
            dt { "URL" } dd { (endpoint.url) }
            dt { "Description" } dd { (endpoint.description) }
            dt { "Events" } dd { (events(&endpoint)) }
            dt { "Rate limit" } dd { @match endpoint.rate_limit { Some(n) => { (n) " per second" }, None => "none" } }
            dt { "Status" } dd { @if endpoint.disabled { "disabled: nothing is sent to it" } @else { "enabled" } }
            dt { "Created" } dd { (time(endpoint.created_at)) }
            dt { "Updated" } dd { (time(endpoint.updated_at)) }
        }
        div.row {
            form method="post" action=(here) {
                (layout::change_fields(signed_in))
                @if endpoint.disabled {
                    input type="hidden" name="toggle" value="enable";
                    button.secondary type="submit" { "Enable" }
                } @else {
                    input type="hidden" name="toggle" value="disable";
                    button.secondary type="submit" { "Disable" }
                }
            }
            form method="post" action={(here) "/secret"} hx-boost="false" {
                (layout::change_fields(signed_in))
                button.secondary type="submit" data-confirm="Show the signing secret on screen?" { "Reveal the signing secret" }
            }
            form method="post" action={(here) "/delete"} {
                (layout::change_fields(signed_in))
                button.danger type="submit" data-confirm="Delete this endpoint? Nothing more is sent to it." { "Delete" }
            }
        }
        details open[failure.is_some()] {
            summary { "Edit" }
            form.stack method="post" action=(here) {
                (layout::change_fields(signed_in))
                (endpoint_fields(Some(&endpoint), failure.as_ref().map(|f| f.typed)))
                @let disabled = match failure.as_ref() {
                    Some(f) => f.typed.get("disabled").is_some(),
                    None => endpoint.disabled,
                };
                label.check { input type="checkbox" name="disabled" value="true" checked[disabled]; "Disabled (send nothing)" }
                button type="submit" { "Save" }
            }
        }
        (log)
    };
    let markup = layout::page("Webhook endpoint", signed_in, body);
    Ok(page_response(
        failure.map_or(StatusCode::OK, |f| f.status),
        markup,
    ))
}

/// The patch of the edit form, or of the enable/disable button (`toggle`).
fn patch(
    form: &Fields,
    policy: shared::webhooks::model::TargetPolicy,
) -> Result<(EndpointPatch, &'static str), ValidationError> {
    match form.get("toggle") {
        Some("disable") => {
            return Ok((
                EndpointPatch {
                    disabled: Some(true),
                    ..EndpointPatch::default()
                },
                "disabled",
            ))
        }
        Some("enable") => {
            return Ok((
                EndpointPatch {
                    disabled: Some(false),
                    ..EndpointPatch::default()
                },
                "enabled",
            ))
        }
        Some(_) => return Err(ValidationError::new("invalid_form", "unknown action")),
        None => {}
    }
    let patch = EndpointPatch {
        url: Some(rules::url(form.get("url").unwrap_or(""), policy)?),
        description: Some(rules::description(
            form.get("description").map(str::to_owned),
        )?),
        disabled: Some(form.get("disabled").is_some()),
        filter_types: Some(rules::event_types(&filter_types(form))?),
        metadata: None,
        rate_limit: Some(rules::rate_limit(rate_limit(form)?)?),
        headers: None,
    };
    Ok((patch, "saved"))
}

pub async fn update<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = endpoint_id(cx)?;
    let tenant = &signed_in.tenant;
    let result = match patch(&form, cx.app.config().webhook_targets) {
        Ok((patch, done)) => {
            let (id, patch) = (&id, &patch);
            let work = move || async move {
                cx.app.update_endpoint(tenant, id, patch).await?;
                Ok(format!("{}?done={done}", base(id)))
            };
            let once = cx
                .app
                .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
            cx.acting(&signed_in, once).await.map_err(PageError::from)
        }
        Err(invalid) => Err(invalid.into()),
    };
    match result {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => render(cx, &signed_in, Some(Failure::of(error, &form)?)).await,
    }
}

pub async fn delete<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = endpoint_id(cx)?;
    let tenant = &signed_in.tenant;
    let work = || async {
        cx.app.delete_endpoint(tenant, &id).await?;
        Ok(format!("{HERE}?done=deleted"))
    };
    let once = cx
        .app
        .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
    match cx.acting(&signed_in, once).await {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => render(cx, &signed_in, Some(Failure::of(error.into(), &form)?)).await,
    }
}

/// The signing secret, on the answer to a POST only (a page read with GET never holds it; the
/// answer is not cached).
pub async fn reveal_secret<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, _) = cx.change().await?;
    let id = endpoint_id(cx)?;
    let endpoint = cx.app.get_endpoint(&signed_in.tenant, &id).await?;
    let body = html! {
        p { a href=(base(&id)) { "← Back to the endpoint" } }
        h1 { "Signing secret" }
        p { "Endpoint " (endpoint.url) }
        p.notice role="status" { "Keep it secret: it proves that a request came from this service." }
        label { "Secret" input #secret type="text" readonly value=(endpoint.secret) autocomplete="off" spellcheck="false"; }
    };
    page(layout::page("Signing secret", &signed_in, body))
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
