//! API keys: the list (name, prefix, created, last used, expiry or revocation), creating one
//! (its secret shown once, on the answer to the form, never through a redirect), rotating one
//! with a grace period (the new secret shown once the same way) and revoking one. The same
//! operations as `/api-keys` (`api/src/routes/keys.rs`), with the session's key as the caller:
//! a key made here never outlives the key the session was opened with. None of these changes
//! has a domain idempotency key, so each form applies once through its form key
//! (`Service::once_per_form`); a resubmitted create or rotate is sent to the list and shows no
//! secret again.

use lambda_http::http::StatusCode;
use maud::{html, Markup};
use shared::access::model::{ApiKey, Scope};
use shared::access::sessions::SignedIn;
use shared::kernel::{Clock, KeyId, Timestamp, ValidationError};
use shared::ports::Store;

use super::{Cx, Failure};
use crate::forms::Fields;
use crate::layout::{self, time};
use crate::respond::{page, page_response, redirect, Answer, PageError};

const HERE: &str = "/dashboard/api-keys";
/// Longest expiry a form may ask, in days (ten years).
const EXPIRY_DAYS_MAX: u64 = 3_650;

/// `active`, `expired` or `revoked` at `now`, as the API says it.
fn status(key: &ApiKey, now: Timestamp) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key.valid_at(now) {
        "active"
    } else {
        "expired"
    }
}

fn key_id<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<KeyId, PageError> {
    KeyId::parse(cx.param("key_id")).map_err(|_| PageError::NotFound)
}

pub async fn list<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, keys) = cx
        .signed_in_with(|tenant| async move { cx.app.list_keys(&tenant).await })
        .await?;
    show(cx, &signed_in, keys, None)
}

fn row(signed_in: &SignedIn, key: &ApiKey, now: Timestamp) -> Markup {
    let state = status(key, now);
    let usable = state == "active";
    let base = format!("{HERE}/{}", key.id);
    html! {
        tr {
            td {
                (key.name)
                @if key.id == signed_in.key.id { " " small.muted { "(this session's key)" } }
            }
            td { code { (key.prefix) "…" } }
            td { (key.scope.as_str()) }
            td.hide-narrow { (time(key.created_at)) }
            td.hide-narrow { @match key.last_used_at { Some(at) => (time(at)), None => "never" } }
            td {
                (state)
                @if let Some(at) = key.revoked_at { br; small { "revoked " (time(at)) } }
                @else if let Some(at) = key.expires_at { br; small { @if usable { "expires " } @else { "expired " } (time(at)) } }
            }
            td {
                @if usable {
                    details {
                        summary { "Rotate or revoke" }
                        form.stack method="post" action={(base) "/rotate"} hx-boost="false" {
                            (layout::change_fields(signed_in))
                            fieldset {
                                legend { "Grace period of the old key" }
                                label { "Length" input type="number" name="grace" min="0" value="24" required; }
                                label { "Unit"
                                    select name="grace_unit" {
                                        option value="hours" selected { "hours" }
                                        option value="seconds" { "seconds" }
                                    }
                                }
                            }
                            button type="submit" { "Rotate " (key.name) }
                        }
                        form.stack method="post" action={(base) "/revoke"} {
                            (layout::change_fields(signed_in))
                            button.danger type="submit"
                                data-confirm={"Revoke " (key.name) " now? Every request and session using it stops working."} {
                                "Revoke " (key.name)
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    failure: Option<Failure<'_>>,
) -> Answer {
    let keys = cx.app.list_keys(&signed_in.tenant).await?;
    show(cx, signed_in, keys, failure)
}

fn show<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    keys: Vec<ApiKey>,
    failure: Option<Failure<'_>>,
) -> Answer {
    let now = cx.app.now();
    let query = crate::forms::query(cx.request);
    let typed = |name: &str| {
        failure
            .as_ref()
            .and_then(|f| f.typed.get(name))
            .unwrap_or("")
            .to_owned()
    };
    let body = html! {
        h1 { "API keys" }
        (layout::done_notice(query.get("done")))
        @if let Some(failure) = &failure { p.alert role="alert" #failure { (failure.message) } }
        p { "A key opens the API and this dashboard for the business. Its secret is shown once, when it is made." }
        div.scroll {
            table {
                caption.skip { "API keys, oldest first" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Prefix" }
                    th.hide-narrow scope="col" { "Created" } th.hide-narrow scope="col" { "Last used" }
                    th scope="col" { "Scope" } th scope="col" { "Status" } th scope="col" { span.skip { "Actions" } }
                } }
                tbody { @for key in &keys { (row(signed_in, key, now)) } }
            }
        }
        h2 #new { "New key" }
        form.stack method="post" action=(HERE) hx-boost="false" {
            (layout::change_fields(signed_in))
            label { "Name" input type="text" name="name" required maxlength="100" value=(typed("name")); }
            label { "Expires after (days, optional)"
                input type="number" name="expires_in_days" min="1" max=(EXPIRY_DAYS_MAX) value=(typed("expires_in_days")); }
            label { "Scope"
                select name="scope" {
                    option value="full" { "full: reads and changes" }
                    option value="read_only" selected[typed("scope") == "read_only"] { "read_only: reads only" }
                }
            }
            button type="submit" { "Create key" }
        }
    };
    let markup = layout::page("API keys", signed_in, body);
    Ok(page_response(
        failure.map_or(StatusCode::OK, |f| f.status),
        markup,
    ))
}

/// The list again after a refused form: its message, what was typed, the API's status.
async fn refused<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    form: &Fields,
    error: PageError,
) -> Answer {
    let failure = Failure::of(error, form)?;
    render(cx, signed_in, Some(failure)).await
}

/// The page that shows a new secret, this once (the answer is never cached).
fn secret_page(
    signed_in: &SignedIn,
    title: &str,
    key: &ApiKey,
    secret: &str,
    old: Option<&ApiKey>,
) -> Answer {
    let body = html! {
        h1 { (title) }
        p.notice role="status" { "Copy the secret now: it is shown only this once and cannot be shown again." }
        dl.facts {
            dt { "Name" } dd { (key.name) }
            dt { "Id" } dd { code { (key.id) } }
            @if let Some(at) = key.expires_at { dt { "Expires" } dd { (time(at)) } }
        }
        label { "Secret"
            input #secret type="text" readonly value=(secret) autocomplete="off" spellcheck="false";
        }
        @if let Some(old) = old {
            p { "The old key (" code { (old.prefix) "…" } ") "
                @match old.expires_at {
                    Some(at) => { "keeps working until " (time(at)) "." }
                    None => { "keeps working." }
                }
            }
        }
        p { a href=(HERE) { "← Back to the keys" } }
    };
    page(layout::page(title, signed_in, body))
}

/// `expires_in_days` of the form as an instant after `now`.
fn expiry(form: &Fields, now: Timestamp) -> Result<Option<Timestamp>, ValidationError> {
    let Some(raw) = form.get("expires_in_days") else {
        return Ok(None);
    };
    match raw.parse::<u64>() {
        Ok(days) if (1..=EXPIRY_DAYS_MAX).contains(&days) => Ok(Some(Timestamp::from_unix_ms(
            now.unix_ms + days * 86_400_000,
        ))),
        _ => Err(ValidationError::new(
            "invalid_expires_at",
            format!("expires after must be a whole number of days from 1 to {EXPIRY_DAYS_MAX}"),
        )),
    }
}

/// The grace period of a rotation, in seconds, from a length and its unit.
fn grace_seconds(form: &Fields) -> Result<Option<u64>, ValidationError> {
    let Some(raw) = form.get("grace") else {
        return Ok(None);
    };
    let invalid = || {
        ValidationError::new(
            "invalid_grace_period",
            "the grace period must be a whole number, 0 or more",
        )
    };
    let length: u64 = raw.parse().map_err(|_| invalid())?;
    let scale = match form.get("grace_unit").unwrap_or("seconds") {
        "seconds" => 1,
        "hours" => 3_600,
        _ => return Err(invalid()),
    };
    length.checked_mul(scale).map(Some).ok_or_else(invalid)
}

pub async fn create<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let tenant = &signed_in.tenant;
    let mut made: Option<(ApiKey, String)> = None;
    let parsed = expiry(&form, cx.app.now()).and_then(|expires_at| {
        Ok((
            expires_at,
            Scope::parse(form.get("scope").unwrap_or("full"))?,
        ))
    });
    let result = match parsed {
        Ok((expires_at, scope)) => {
            let (slot, caller) = (&mut made, &signed_in.key);
            let name = form.get("name");
            let work = move || async move {
                let created = cx
                    .app
                    .create_key(tenant, Some(caller), name, expires_at, scope)
                    .await?;
                *slot = Some(created);
                Ok(format!("{HERE}?done=created"))
            };
            let once = cx
                .app
                .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
            cx.acting(&signed_in, once).await.map_err(PageError::from)
        }
        Err(invalid) => Err(invalid.into()),
    };
    match (result, made) {
        (Ok(_), Some((key, secret))) => secret_page(&signed_in, "New API key", &key, &secret, None),
        // The same form again: made before, its secret already shown.
        (Ok(location), None) => Ok(redirect(&location)),
        (Err(error), _) => refused(cx, &signed_in, &form, error).await,
    }
}

pub async fn rotate<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = key_id(cx)?;
    let tenant = &signed_in.tenant;
    let mut made: Option<((ApiKey, String), ApiKey)> = None;
    let result = match grace_seconds(&form) {
        Ok(grace) => {
            let (slot, id, caller) = (&mut made, &id, &signed_in.key);
            let work = move || async move {
                let rotated = cx.app.rotate_key(tenant, Some(caller), id, grace).await?;
                *slot = Some(rotated);
                Ok(format!("{HERE}?done=rotated"))
            };
            let once = cx
                .app
                .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
            cx.acting(&signed_in, once).await.map_err(PageError::from)
        }
        Err(invalid) => Err(invalid.into()),
    };
    match (result, made) {
        (Ok(_), Some(((key, secret), old))) => {
            secret_page(&signed_in, "Rotated API key", &key, &secret, Some(&old))
        }
        (Ok(location), None) => Ok(redirect(&location)),
        (Err(error), _) => refused(cx, &signed_in, &form, error).await,
    }
}

pub async fn revoke<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = key_id(cx)?;
    let tenant = &signed_in.tenant;
    let work = || async {
        cx.app.revoke_key(tenant, &id).await?;
        Ok(format!("{HERE}?done=revoked"))
    };
    let once = cx
        .app
        .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
    match cx.acting(&signed_in, once).await {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => refused(cx, &signed_in, &form, error.into()).await,
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
