//! A customer's money paid in by card, as the business sees it (issue 21): the card top-ups with
//! their status (pending, succeeded, failed and why), and the forms that open the customer's
//! portal (the magic link shown once, or mailed to the customer). The same operations as
//! `POST /customers/{id}/customer-portal/session`; a resubmitted form makes no second link.

use maud::{html, Markup};
use shared::access::sessions::SignedIn;
use shared::kernel::paging::PageRequest;
use shared::kernel::text::reason;
use shared::kernel::{Clock, Currency, CustomerId, Timestamp, TopUpLinkId, ValidationError};
use shared::payins::links::{TopUpLink, TopUpLinkCommand, TopUpLinkQuery, TopUpLinkStatus};
use shared::payins::links_rules::{expires_in, link_amount as link_amount_rule};
use shared::payins::model::{CardTopUp, CardTopUpStatus, TopUpSource};
use shared::ports::Store;

use super::customer::{base, customer_id};
use super::{Cx, Failure};
use crate::forms::Fields;
use crate::layout::{self, money, time};
use crate::respond::{page, page_response, redirect, Answer, PageError};

/// The newest top-ups shown.
const TOP_UPS_SHOWN: u32 = 50;

fn here(id: &CustomerId) -> String {
    format!("{}/top-ups", base(id))
}

pub async fn show<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    let id = customer_id(cx)?;
    render(cx, &signed_in, &id, None).await
}

async fn render<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    id: &CustomerId,
    failure: Option<Failure<'_>>,
) -> Answer {
    let tenant = &signed_in.tenant;
    let customer = cx.app.get_customer(tenant, id).await?;
    let page_request = PageRequest {
        number: 0,
        size: TOP_UPS_SHOWN,
    };
    let top_ups = cx.app.list_card_top_ups(tenant, id, page_request).await?;
    let query = TopUpLinkQuery { page: page_request };
    let origin = api::http::request::origin(cx.request);
    let links: Vec<(TopUpLink, Option<String>)> = cx
        .app
        .list_top_up_links(tenant, id, query)
        .await?
        .into_iter()
        .map(|link| {
            let url = cx.app.top_up_link_url(&link, origin.as_deref());
            (link, url)
        })
        .collect();
    let currencies: Vec<Currency> = cx
        .app
        .list_wallets(tenant, id)
        .await?
        .wallets
        .wallets
        .keys()
        .copied()
        .collect();
    let now = cx.app.now();
    let done = crate::forms::query(cx.request);
    let typed = failure.as_ref().map(|f| f.typed);
    let value = |name: &str| typed.and_then(|t| t.get(name)).unwrap_or("").to_owned();
    let body = html! {
        p { a href=(base(id)) { "← " (customer.name) } }
        h1 { "Top-ups and portal" }
        (layout::done_notice(done.get("done")))
        section aria-labelledby="portal-title" {
            h2 #portal-title { "Customer portal" }
            p { "A magic link to the customer's own portal: balances, activity, and Add funds by card. "
                "It is valid for the business's portal session lifetime and can be ended at any time." }
            @if let Some(failure) = &failure { (layout::form_error(Some(&failure.message))) }
            form method="post" action=(format!("{}/portal-sessions", base(id))) hx-boost="false" {
                (layout::change_fields(signed_in))
                label { "Return URL (optional: the portal's back button)"
                    input type="url" name="return_url" value=(value("return_url")) placeholder="https://example.com/account";
                }
                label.check {
                    input type="checkbox" name="send_email" value="true" checked[value("send_email") == "true"];
                    " Email the link to " (customer.email)
                }
                button type="submit" { "Create a portal link" }
            }
            form method="post" action=(format!("{}/portal-sessions/revoke", base(id))) hx-boost="false" {
                (layout::change_fields(signed_in))
                button.secondary type="submit" data-confirm="End every portal link of this customer?" { "End all portal links" }
            }
        }
        (links_section(signed_in, id, &links, &currencies, now, &value))
        section aria-labelledby="top-ups-title" {
            h2 #top-ups-title { "Card top-ups" }
            (top_ups_table(&top_ups))
        }
    };
    let markup = layout::page("Top-ups and portal", signed_in, body);
    match failure {
        Some(failure) => Ok(page_response(failure.status, markup)),
        None => page(markup),
    }
}

fn top_ups_table(top_ups: &[CardTopUp]) -> Markup {
    if top_ups.is_empty() {
        return html! { p { "No card top-ups yet." } };
    }
    html! {
        div.scroll role="region" aria-label="Card top-ups list" tabindex="0" {
            table {
                thead { tr {
                    th scope="col" { "Created" } th scope="col" { "Amount" } th scope="col" { "Status" }
                    th scope="col" { "From" } th scope="col" { "PaymentIntent" } th scope="col" { "Id" }
                } }
                tbody {
                    @for top_up in top_ups {
                        tr {
                            td { (time(top_up.created_at)) }
                            td.num { (money(top_up.amount, top_up.currency)) }
                            td { (status(top_up)) }
                            td { @match &top_up.source {
                                TopUpSource::Portal => "portal",
                                TopUpSource::Link { link_id } => { "link " code { (link_id) } }
                            } }
                            td { @if let Some(pi) = &top_up.payment_intent_id { code { (pi) } } }
                            td { code { (top_up.id) } }
                        }
                    }
                }
            }
        }
    }
}

fn status(top_up: &CardTopUp) -> Markup {
    match top_up.status {
        CardTopUpStatus::Pending => html! { span.tag { "pending" } },
        CardTopUpStatus::Succeeded => html! { span.tag.ok { "succeeded" } },
        CardTopUpStatus::Failed => html! {
            span.tag.bad { "failed" }
            @if let Some(message) = &top_up.message { " " (message) }
            @if let Some(code) = &top_up.decline_code { " (" code { (code) } ")" }
        },
    }
}

/// `POST .../portal-sessions`: a portal link, shown once (or mailed); a resubmission goes back to
/// the page and makes none.
pub async fn create_portal_session<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let tenant = &signed_in.tenant;
    let return_url = form.get("return_url").map(str::to_owned);
    let send_email = form.get("send_email") == Some("true");
    let mut made = None;
    let slot = &mut made;
    let (id_ref, return_url) = (&id, return_url);
    let work = move || async move {
        let link = cx
            .app
            .create_portal_session(cx.app.mailer(), tenant, id_ref, return_url, send_email)
            .await?;
        *slot = Some(link);
        Ok(format!("{}?done=created", here(id_ref)))
    };
    let once = cx
        .app
        .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
    // Without PUBLIC_BASE_URL the link starts with the address this page was served at.
    let made_at = match api::http::request::origin(cx.request) {
        Some(origin) => shared::portal::origin::serving(origin, cx.acting(&signed_in, once)).await,
        None => cx.acting(&signed_in, once).await,
    };
    match made_at.map_err(PageError::from) {
        // The same form again: the link was shown once, it is not shown again.
        Ok(location) => match made {
            Some(link) => link_page(&signed_in, &id, &link, send_email),
            None => Ok(redirect(&location)),
        },
        Err(error) => refused(cx, &signed_in, &id, &form, error).await,
    }
}

fn link_page(
    signed_in: &SignedIn,
    id: &CustomerId,
    link: &shared::portal::PortalLink,
    emailed: bool,
) -> Answer {
    let body = html! {
        h1 { "Portal link" }
        p.notice role="status" {
            @if emailed { "Emailed to the customer. " }
            "Copy the link now: it is shown only this once. Anyone holding it opens this customer's portal until it expires."
        }
        dl.facts { dt { "Expires" } dd { (time(link.expires_at)) } }
        label { "Link"
            input #portal-link type="text" readonly value=(link.link) autocomplete="off" spellcheck="false";
        }
        p { a href=(here(id)) { "← Back to top-ups and portal" } }
    };
    page(layout::page("Portal link", signed_in, body))
}

/// `POST .../portal-sessions/revoke`: ends every portal link and session of the customer.
pub async fn revoke_portal_sessions<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let tenant = &signed_in.tenant;
    let id_ref = &id;
    let work = move || async move {
        cx.app.revoke_portal_sessions(tenant, id_ref).await?;
        Ok(format!("{}?done=ended", here(id_ref)))
    };
    let once = cx
        .app
        .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
    match cx.acting(&signed_in, once).await.map_err(PageError::from) {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => refused(cx, &signed_in, &id, &form, error).await,
    }
}

/// The links section: a form that makes one, and the customer's links with their status, URL
/// and a cancel button while active.
fn links_section(
    signed_in: &SignedIn,
    id: &CustomerId,
    links: &[(TopUpLink, Option<String>)],
    currencies: &[Currency],
    now: Timestamp,
    value: &dyn Fn(&str) -> String,
) -> Markup {
    html! {
        section aria-labelledby="links-title" {
            h2 #links-title { "Top-up links" }
            p { "A link the customer pays by card, without signing in: single-use by default, valid up to 30 days." }
            form.stack method="post" action=(format!("{}/top-up-links", base(id))) hx-boost="false" {
                (layout::change_fields(signed_in))
                label { "Currency"
                    select name="currency" {
                        @for currency in currencies {
                            option value=(currency.code()) selected[value("currency") == currency.code()] { (currency.code()) }
                        }
                    }
                }
                label { "Amount (e.g. 25.00)" input type="text" inputmode="decimal" name="amount" required value=(value("amount")); }
                label { "Reason (shown to the customer)" input type="text" name="reason" value=(value("reason")); }
                label { "Valid for (days, 1 to 30)" input type="number" name="expires_in_days" min="1" max="30" value=(if value("expires_in_days").is_empty() { "7".to_owned() } else { value("expires_in_days") }); }
                label.check { input type="checkbox" name="multi_use" value="true" checked[value("multi_use") == "true"]; " Can be paid more than once" }
                button type="submit" { "Create a top-up link" }
            }
            @if links.is_empty() {
                p { "No top-up links yet." }
            } @else {
                div.scroll role="region" aria-label="Top-up links list" tabindex="0" {
                    table {
                        thead { tr {
                            th scope="col" { "Created" } th scope="col" { "Amount" } th scope="col" { "Status" }
                            th scope="col" { "Expires" } th scope="col" { "Link" } th scope="col" { "Action" }
                        } }
                        tbody {
                            @for (link, url) in links {
                                tr {
                                    td { (time(link.created_at)) }
                                    td.num { (link_amount(link)) }
                                    td { span.tag { (link_status(link, now)) } }
                                    td { (time(link.expires_at)) }
                                    td { @match url {
                                        Some(url) => input type="text" readonly value=(url) aria-label={"URL of " (link.id)} autocomplete="off" spellcheck="false";,
                                        None => code { (link.id) },
                                    } }
                                    td { @if link_status(link, now) == "active" {
                                        form.inline method="post" action=(format!("{}/top-up-links/{}/cancel", base(id), link.id)) hx-boost="false" {
                                            (layout::change_fields(signed_in))
                                            button.secondary type="submit" data-confirm="Cancel this link? The customer can no longer pay it." { "Cancel" }
                                        }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `active`, `paid`, `cancelled` or `expired` (an active link past its expiry is shown expired
/// before the sweep marks it).
fn link_status(link: &TopUpLink, now: Timestamp) -> &'static str {
    match link.status {
        TopUpLinkStatus::Active if link.expires_at <= now => "expired",
        status => status.as_str(),
    }
}

fn link_amount(link: &TopUpLink) -> Markup {
    match (link.amount, link.min_amount, link.max_amount) {
        (Some(amount), _, _) => money(amount, link.currency),
        (None, Some(min), Some(max)) => {
            html! { (money(min, link.currency)) " to " (money(max, link.currency)) }
        }
        _ => html! { "-" },
    }
}

/// The link form's command (amounts in major units).
fn link_command(form: &Fields) -> Result<TopUpLinkCommand, ValidationError> {
    let currency = Currency::parse(form.get("currency").unwrap_or(""))?;
    let amount = crate::money::parse(form.get("amount").unwrap_or(""), currency)?;
    let days = match form.get("expires_in_days") {
        None => None,
        Some(raw) => Some(raw.trim().parse::<i64>().map_err(|_| {
            ValidationError::new(
                "invalid_expires_in",
                "give the days the link stays valid, 1 to 30",
            )
        })?),
    };
    Ok(TopUpLinkCommand {
        currency,
        amount: link_amount_rule(Some(amount), None, None)?,
        reason: form.get("reason").map(reason).transpose()?,
        expires_in_s: expires_in(days.map(|d| d.saturating_mul(86_400)))?,
        single_use: form.get("multi_use") != Some("true"),
        idempotency_key: None,
    })
}

/// `POST .../top-up-links`: one link per form (a resubmission makes none).
pub async fn create_link<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let tenant = &signed_in.tenant;
    let result = match link_command(&form) {
        Ok(command) => {
            let id_ref = &id;
            let work = move || async move {
                cx.app.create_top_up_link(tenant, id_ref, command).await?;
                Ok(format!("{}?done=created", here(id_ref)))
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
        Err(error) => refused(cx, &signed_in, &id, &form, error).await,
    }
}

/// `POST .../top-up-links/{link_id}/cancel`.
pub async fn cancel_link<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let link_id = TopUpLinkId::parse(cx.param("link_id")).map_err(|_| PageError::NotFound)?;
    let tenant = &signed_in.tenant;
    let cancel = cx.app.cancel_top_up_link(tenant, &id, &link_id);
    match cx.acting(&signed_in, cancel).await {
        Ok(_) => Ok(redirect(&format!("{}?done=cancelled", here(&id)))),
        Err(error) => refused(cx, &signed_in, &id, &form, error.into()).await,
    }
}

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

#[cfg(test)]
#[path = "payins_tests.rs"]
mod tests;
