//! A top-up link's page, `/pay/{token}`: the business, the amount (or the range to pick from),
//! the card form; a used, expired or cancelled link shows its own page and charges nothing. The
//! link is claimed for the top-up before anything is charged, so two tabs pay once. The page has
//! no session: its form carries a double-submit token (`cw_pay`, SameSite=Strict) instead.

use lambda_http::http::StatusCode;
use maud::html;
use shared::kernel::Clock;
use shared::ports::Store;

use super::backend::{
    new_top_up_id, LinkStatus, LinkView, PortalBackend, PortalClaims, StartTopUp, TopUpSource,
    TopUpStatus,
};
use super::pages::{card_fields, own_top_up, top_up_body};
use super::view::{self, card_form, card_scripts, CardForm};
use super::{
    attempt, check_token, pay_cookie, scope, token_shaped, Pcx, PortalAnswer, PortalError,
    CARD_FORMS_PER_HOUR, PAY_COOKIE, TOP_UPS_PER_CUSTOMER_HOUR, TOP_UPS_PER_LINK_HOUR,
};
use crate::layout::{money, time};
use crate::respond::{page_response, redirect, PageError};

/// Why a link cannot be paid, as its page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Used,
    Expired,
    Cancelled,
}

impl Ended {
    /// The domain's error codes for a link that can no longer be paid.
    fn of_code(code: &str) -> Option<Ended> {
        match code {
            "top_up_link_used" => Some(Ended::Used),
            "top_up_link_expired" => Some(Ended::Expired),
            "top_up_link_cancelled" => Some(Ended::Cancelled),
            _ => None,
        }
    }

    fn page(self) -> PortalAnswer {
        let (title, text) = match self {
            Ended::Used => ("This link was already paid", "This payment link has already been used. Nothing more was charged."),
            Ended::Expired => ("This link has expired", "This payment link has expired. Ask the business for a new one; nothing was charged."),
            Ended::Cancelled => ("This link was cancelled", "The business cancelled this payment link. Nothing was charged."),
        };
        let body = html! { h1 { (title) } p role="alert" #link-ended { (text) } };
        Ok(page_response(
            StatusCode::GONE,
            view::page(title, None, body, &[]),
        ))
    }
}

/// The link of the path's token (404 for a token that names none), and whether it has ended.
async fn link<S: Store, C: Clock, B: PortalBackend>(
    cx: &Pcx<'_, S, C, B>,
) -> Result<(LinkView, Option<Ended>), PortalError> {
    let token = cx.param("token");
    if !token_shaped(token) {
        return Err(PortalError::Page(PageError::NotFound));
    }
    let link = match cx.backend.top_up_link_by_token(token).await {
        Ok(link) => link,
        Err(e) if e.code().ends_with("not_found") || e.code() == "portal_session_invalid" => {
            return Err(PortalError::Page(PageError::NotFound))
        }
        Err(e) => return Err(e.into()),
    };
    let ended = match link.status {
        LinkStatus::Paid => Some(Ended::Used),
        LinkStatus::Cancelled => Some(Ended::Cancelled),
        LinkStatus::Expired => Some(Ended::Expired),
        LinkStatus::Active if link.expires_at <= cx.app.now() => Some(Ended::Expired),
        LinkStatus::Active => None,
    };
    Ok((link, ended))
}

fn link_scope(link: &LinkView, kind: &str) -> String {
    scope(kind, &format!("link:{}", link.id))
}

fn customer_scope(link: &LinkView, kind: &str) -> String {
    scope(kind, &format!("{}:{}", link.business_id, link.customer_id))
}

/// The link's customer, as a portal session would name them (to read their top-up).
fn owner(link: &LinkView) -> PortalClaims {
    PortalClaims {
        business_id: link.business_id.clone(),
        customer_id: link.customer_id.clone(),
        return_url: None,
        expires_at: link.expires_at,
    }
}

/// `GET /pay/{token}` (and `?top_up=` after paying: that top-up's progress).
pub async fn show<S: Store, C: Clock, B: PortalBackend>(cx: &Pcx<'_, S, C, B>) -> PortalAnswer {
    let (link, ended) = link(cx).await?;
    let query = crate::forms::query(cx.request);
    let here = cx.request.uri().path().to_owned();
    if let Some(id) = query.get("top_up") {
        // Only a top-up that paid this link (the link's holder sees no other of the customer's).
        let top_up = own_top_up(cx.backend, &owner(&link), id).await?;
        if top_up.link_id.as_deref() != Some(link.id.as_str()) {
            return Err(PortalError::Page(PageError::NotFound));
        }
        let body = top_up_body(&top_up, None, &format!("{here}?top_up={}", top_up.id), "");
        let scripts = [crate::assets::PORTAL_JS.path()];
        return Ok(page_response(
            StatusCode::OK,
            view::page("Your payment", None, body, &scripts),
        ));
    }
    if let Some(ended) = ended {
        return ended.page();
    }
    attempt(
        cx.backend,
        &[(link_scope(&link, "card-form"), CARD_FORMS_PER_HOUR)],
    )
    .await?;
    let setup = cx
        .backend
        .prepare_card_top_up(&link.tenant(), &link.customer_id)
        .await?;
    let stripe = &*super::stripe::STRIPE_JS;
    let token = shared::access::rules::random_hex(32);
    let top_up_id = new_top_up_id(cx.app.now());
    let currency = link.currency;
    let amount = match (link.amount, link.min_amount, link.max_amount) {
        (Some(amount), _, _) => {
            html! { p { "Amount: " strong #link-amount { (money(amount, currency)) } } }
        }
        (None, min, max) => html! {
            label { "Amount ("
                @if let Some(min) = min { "at least " (money(min, currency)) }
                @if let (Some(_), Some(_)) = (min, max) { ", " }
                @if let Some(max) = max { "at most " (money(max, currency)) }
                ")"
                input type="text" inputmode="decimal" name="amount" required autocomplete="off"; }
        },
    };
    let body = html! {
        h1 { "Pay into your " (currency.code()) " wallet" }
        dl.facts {
            @if let Some(name) = &link.business_name { dt { "To" } dd #link-business { (name) } }
            @if let Some(reason) = &link.reason { dt { "For" } dd { (reason) } }
            dt { "Valid until" } dd { (time(link.expires_at)) }
        }
        (card_form(CardForm {
            action: &here,
            csrf: &token,
            top_up_id: &top_up_id,
            setup: &setup,
            stripe,
            amount,
            offer_save: false,
            button: "Pay",
        }))
    };
    let mut response = page_response(
        StatusCode::OK,
        view::page("Pay", None, body, &card_scripts(stripe)),
    );
    response.headers_mut().append(
        "set-cookie",
        pay_cookie(cx.request, &token)
            .parse()
            .expect("cookie header"),
    );
    Ok(response)
}

/// `POST /pay/{token}`: claims the link for this top-up, then starts it; a decline gives the
/// claim back.
pub async fn submit<S: Store, C: Clock, B: PortalBackend>(cx: &Pcx<'_, S, C, B>) -> PortalAnswer {
    let fields = crate::forms::form(cx.request)?;
    match crate::session::cookie(cx.request, PAY_COOKIE) {
        Some(kept) if !kept.is_empty() => check_token(&fields, kept)?,
        _ => return Err(super::forbidden()),
    }
    let (link, ended) = link(cx).await?;
    if let Some(ended) = ended {
        return ended.page();
    }
    let (id, setup_intent_id) = card_fields(&fields)?;
    let amount = match link.amount {
        Some(amount) => amount,
        None => crate::money::parse(fields.get("amount").unwrap_or(""), link.currency)?,
    };
    attempt(
        cx.backend,
        &[
            (link_scope(&link, "top-up"), TOP_UPS_PER_LINK_HOUR),
            (customer_scope(&link, "top-up"), TOP_UPS_PER_CUSTOMER_HOUR),
        ],
    )
    .await?;
    if let Err(e) = cx.backend.claim_top_up_link(&link, &id, amount).await {
        return match Ended::of_code(e.code()) {
            Some(ended) => ended.page(),
            None => Err(e.into()),
        };
    }
    let tenant = link.tenant();
    let started = async {
        let limits = cx.backend.top_up_limits(&tenant, link.currency).await?;
        let start = StartTopUp {
            id: id.clone(),
            currency: link.currency,
            amount,
            setup_intent_id,
            source: TopUpSource::Link {
                link_id: link.id.clone(),
            },
            save_card: false,
            limits,
        };
        cx.backend
            .start_card_top_up(&tenant, &link.customer_id, start)
            .await
    }
    .await;
    // Declined, or refused before anything was charged (the limits): the link may be paid
    // again. Any other failure keeps the claim until its lease ends (a charge may have landed).
    let release = match &started {
        Ok(top_up) => top_up.status == TopUpStatus::Failed,
        Err(e) => matches!(e, shared::DomainError::Invalid(_)),
    };
    if release {
        cx.backend.release_top_up_link(&link, &id).await?;
    }
    started?;
    Ok(redirect(&format!(
        "{}?top_up={id}",
        cx.request.uri().path()
    )))
}
