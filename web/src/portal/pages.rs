//! The portal's own pages: opening the session (token to cookie), the wallets, adding funds by
//! card, and a top-up's progress.

use lambda_http::http::StatusCode;
use maud::html;
use shared::holds::model::{HoldQuery, HoldStatus};
use shared::kernel::paging::PageRequest;
use shared::kernel::{Clock, Currency};
use shared::ports::Store;

use super::backend::{
    is_top_up_id, new_top_up_id, PortalBackend, PortalClaims, StartTopUp, TopUpSource, TopUpStatus,
    TopUpView,
};
use super::view::{self, card_form, card_scripts, CardForm};
use super::{
    attempt, portal_cookie, scope, token_shaped, Pcx, PortalAnswer, PortalError,
    CARD_FORMS_PER_HOUR, TOP_UPS_PER_CUSTOMER_HOUR,
};
use crate::layout::{money, time};
use crate::respond::{page, page_response, redirect, redirect_with, PageError};

const LEDGER_ENTRIES: i64 = 20;

/// `GET /portal/session?token=`: the token moves into the cookie, the browser to `/portal`.
pub async fn open<S: Store, C: Clock, B: PortalBackend>(cx: &Pcx<'_, S, C, B>) -> PortalAnswer {
    let query = crate::forms::query(cx.request);
    let token = query
        .get("token")
        .filter(|t| token_shaped(t))
        .ok_or(PortalError::SessionInvalid)?;
    let claims = cx.backend.open_portal(token).await?;
    let now = cx.app.now().unix_ms;
    let max_age_s = claims.expires_at.unix_ms.saturating_sub(now) / 1_000;
    if max_age_s == 0 {
        return Err(PortalError::SessionInvalid);
    }
    Ok(redirect_with(
        "/portal",
        &[("set-cookie", portal_cookie(cx.request, token, max_age_s))],
    ))
}

/// Each scope a customer's top-up attempts count in.
fn customer_scope(claims: &PortalClaims, kind: &str) -> String {
    scope(
        kind,
        &format!("{}:{}", claims.business_id, claims.customer_id),
    )
}

/// `GET /portal`: balances per currency, the ledger (reasons and amounts), pending holds, the
/// latest top-ups, Add funds per currency.
pub async fn home<S: Store, C: Clock, B: PortalBackend>(cx: &Pcx<'_, S, C, B>) -> PortalAnswer {
    let (claims, _) = cx.claims().await?;
    let tenant = claims.tenant();
    let id = &claims.customer_id;
    let ledger_request = PageRequest::parse(Some(0), Some(LEDGER_ENTRIES))?;
    let holds = HoldQuery {
        status: Some(HoldStatus::Pending),
        currency: None,
        page: PageRequest::parse(Some(0), Some(50))?,
    };
    let (customer, wallets, ledger, holds, top_ups) = tokio::try_join!(
        async { Ok::<_, PortalError>(cx.app.get_customer(&tenant, id).await?) },
        async { Ok::<_, PortalError>(cx.app.list_wallets(&tenant, id).await?) },
        async {
            Ok::<_, PortalError>(
                cx.app
                    .list_entries(&tenant, id, None, ledger_request)
                    .await?,
            )
        },
        async { Ok::<_, PortalError>(cx.app.list_holds(&tenant, id, holds).await?) },
        async { Ok::<_, PortalError>(cx.backend.list_card_top_ups(&tenant, id).await?) },
    )?;
    let body = html! {
        h1 { "Hello, " (customer.name) }
        section aria-labelledby="wallets" {
            h2 #wallets { "Your wallets" }
            div.cards {
                @for (currency, wallet) in &wallets.wallets.wallets {
                    div.card {
                        h3 { (currency.code()) }
                        div.big { (money(wallet.balance, *currency)) }
                        dl.facts {
                            dt { "Pending" } dd { (money(wallet.pending_charges, *currency)) }
                            dt { "Available" } dd { (money(wallet.balance - wallet.pending_charges, *currency)) }
                        }
                        @if wallet.status.as_str() == "active" {
                            p { a.button href={"/portal/wallets/" (currency.code()) "/add-funds"} { "Add funds (" (currency.code()) ")" } }
                        }
                    }
                }
            }
        }
        @if !top_ups.is_empty() {
            section aria-labelledby="top-ups" {
                h2 #top-ups { "Your top-ups" }
                ul { @for top_up in &top_ups {
                    li { a href={"/portal/top-ups/" (top_up.id)} { (money(top_up.amount, top_up.currency)) } " · " (status_text(top_up.status)) " · " (time(top_up.created_at)) }
                } }
            }
        }
        section aria-labelledby="ledger" {
            h2 #ledger { "Activity" }
            @if ledger.is_empty() { p.muted { "Nothing yet." } } @else {
                div.scroll tabindex="0" role="region" aria-label="Activity entries" { table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Reason" } th.num scope="col" { "Amount" } th.num scope="col" { "Balance after" } } }
                    tbody { @for entry in &ledger { tr {
                        td { (time(entry.created_at)) }
                        td { (entry.reason.as_deref().unwrap_or(if entry.is_credit { "Credit" } else { "Debit" })) }
                        td.num { @if !entry.is_credit { "−" } (money(entry.amount, entry.currency)) }
                        td.num { (money(entry.after_balance, entry.currency)) }
                    } } }
                } }
            }
        }
        section aria-labelledby="holds" {
            h2 #holds { "Pending charges" }
            @if holds.is_empty() { p.muted { "None." } } @else {
                ul { @for hold in &holds {
                    li { (money(hold.amount, hold.currency)) @if let Some(reason) = &hold.reason { " · " (reason) } " · until " (time(hold.expires_at)) }
                } }
            }
        }
    };
    page(view::page(
        "Your wallets",
        claims.return_url.as_deref(),
        body,
        &[],
    ))
    .map_err(PortalError::Page)
}

fn status_text(status: TopUpStatus) -> &'static str {
    match status {
        TopUpStatus::Pending => "processing",
        TopUpStatus::Succeeded => "added",
        TopUpStatus::Failed => "declined",
    }
}

/// The wallet's currency of the path, if this customer has that wallet (else 404).
async fn wallet_currency<S: Store, C: Clock, B: PortalBackend>(
    cx: &Pcx<'_, S, C, B>,
    claims: &PortalClaims,
) -> Result<(Currency, i64), PortalError> {
    let currency = Currency::parse(cx.param("currency"))
        .map_err(|_| PortalError::Page(PageError::NotFound))?;
    let wallets = cx
        .app
        .list_wallets(&claims.tenant(), &claims.customer_id)
        .await?;
    let wallet = wallets
        .wallets
        .wallets
        .get(&currency)
        .ok_or(PortalError::Page(PageError::NotFound))?;
    Ok((currency, wallet.balance))
}

/// `GET /portal/wallets/{currency}/add-funds`: the amount, the card, saving it.
pub async fn add_funds<S: Store, C: Clock, B: PortalBackend>(
    cx: &Pcx<'_, S, C, B>,
) -> PortalAnswer {
    let (claims, csrf) = cx.claims().await?;
    render_add_funds(cx, &claims, &csrf, None).await
}

/// A refused top-up shown on its form again: the status the API would answer, the message,
/// the amount as typed.
struct Refused<'a> {
    status: StatusCode,
    message: String,
    amount: &'a str,
}

/// The add-funds form (a new SetupIntent and a new top-up id each time it is rendered).
async fn render_add_funds<S: Store, C: Clock, B: PortalBackend>(
    cx: &Pcx<'_, S, C, B>,
    claims: &PortalClaims,
    csrf: &str,
    refused: Option<Refused<'_>>,
) -> PortalAnswer {
    let (currency, balance) = wallet_currency(cx, claims).await?;
    let tenant = claims.tenant();
    let limits = cx.backend.top_up_limits(&tenant, currency).await?;
    attempt(
        cx.backend,
        &[(customer_scope(claims, "card-form"), CARD_FORMS_PER_HOUR)],
    )
    .await?;
    let setup = cx
        .backend
        .prepare_card_top_up(&tenant, &claims.customer_id)
        .await?;
    let stripe = &*super::stripe::STRIPE_JS;
    let top_up_id = new_top_up_id(cx.app.now());
    let action = format!("/portal/wallets/{}/top-ups", currency.code());
    let typed = refused.as_ref().map_or("", |r| r.amount);
    let amount = html! {
        label { "Amount (" (money(limits.min_amount, currency)) " to " (money(limits.max_amount, currency)) ")"
            input type="text" inputmode="decimal" name="amount" required autocomplete="off" value=(typed); }
    };
    let body = html! {
        p { a href="/portal" { "← Your wallets" } }
        h1 { "Add funds to your " (currency.code()) " wallet" }
        @if let Some(refused) = &refused { p.alert role="alert" #refused { (refused.message.replace('`', "")) } }
        p { "Balance now: " (money(balance, currency)) ". The balance can reach at most " (money(limits.max_balance, currency)) " this way." }
        (card_form(CardForm {
            action: &action,
            csrf,
            top_up_id: &top_up_id,
            setup: &setup,
            stripe,
            amount,
            offer_save: true,
            button: "Add funds",
        }))
    };
    let markup = view::page(
        "Add funds",
        claims.return_url.as_deref(),
        body,
        &card_scripts(stripe),
    );
    let status = refused.map_or(StatusCode::OK, |r| r.status);
    Ok(page_response(status, markup))
}

/// The top-up id and SetupIntent of a card form (a forged or broken form: 400).
pub(super) fn card_fields(fields: &crate::forms::Fields) -> Result<(String, String), PortalError> {
    let id = fields
        .get("top_up_id")
        .filter(|id| is_top_up_id(id))
        .ok_or_else(|| {
            shared::ValidationError::new(
                "invalid_top_up_id",
                "the form has no valid top-up id: reload the page",
            )
        })?;
    let setup = fields
        .get("setup_intent_id")
        .filter(|s| s.starts_with("seti_") && crate::portal::token_shaped(s))
        .ok_or_else(|| {
            shared::ValidationError::new(
                "card_not_confirmed",
                "the card was not confirmed: enter it again",
            )
        })?;
    Ok((id.to_owned(), setup.to_owned()))
}

/// `POST /portal/wallets/{currency}/top-ups`: starts the top-up (its id is the form's
/// idempotency key: a second submission finds the first), then shows its progress. A refused
/// one (the limits, an amount mistyped, too many attempts) shows the form again with why.
pub async fn start_top_up<S: Store, C: Clock, B: PortalBackend>(
    cx: &Pcx<'_, S, C, B>,
) -> PortalAnswer {
    let (claims, fields) = cx.change().await?;
    let (currency, _) = wallet_currency(cx, &claims).await?;
    match start(cx, &claims, currency, &fields).await {
        Ok(top_up) => Ok(redirect(&format!("/portal/top-ups/{}", top_up.id))),
        Err(PortalError::Page(error @ PageError::Domain(_))) => {
            let (status, _, message) = error.explain();
            if !status.is_client_error() || status == StatusCode::NOT_FOUND {
                return Err(PortalError::Page(error));
            }
            let (_, csrf) = cx.claims().await?;
            let amount = fields.get("amount").unwrap_or("");
            let refused = Refused {
                status,
                message,
                amount,
            };
            render_add_funds(cx, &claims, &csrf, Some(refused)).await
        }
        Err(other) => Err(other),
    }
}

async fn start<S: Store, C: Clock, B: PortalBackend>(
    cx: &Pcx<'_, S, C, B>,
    claims: &PortalClaims,
    currency: Currency,
    fields: &crate::forms::Fields,
) -> Result<TopUpView, PortalError> {
    let (id, setup_intent_id) = card_fields(fields)?;
    let amount = crate::money::parse(fields.get("amount").unwrap_or(""), currency)?;
    attempt(
        cx.backend,
        &[(customer_scope(claims, "top-up"), TOP_UPS_PER_CUSTOMER_HOUR)],
    )
    .await?;
    let tenant = claims.tenant();
    let limits = cx.backend.top_up_limits(&tenant, currency).await?;
    let start = StartTopUp {
        id,
        currency,
        amount,
        setup_intent_id,
        source: TopUpSource::Portal,
        save_card: fields.get("save_card") == Some("on"),
        limits,
    };
    Ok(cx
        .backend
        .start_card_top_up(&tenant, &claims.customer_id, start)
        .await?)
}

/// `GET /portal/top-ups/{top_up_id}`: pending refreshes until the credit lands; succeeded shows
/// the new balance; failed the decline. Another customer's id: 404.
pub async fn top_up<S: Store, C: Clock, B: PortalBackend>(cx: &Pcx<'_, S, C, B>) -> PortalAnswer {
    let (claims, _) = cx.claims().await?;
    let id = cx.param("top_up_id");
    let top_up = own_top_up(cx.backend, &claims, id).await?;
    let balance = match top_up.status {
        TopUpStatus::Succeeded => {
            let wallets = cx
                .app
                .list_wallets(&claims.tenant(), &claims.customer_id)
                .await?;
            wallets
                .wallets
                .wallets
                .get(&top_up.currency)
                .map(|w| w.balance)
        }
        _ => None,
    };
    let here = format!("/portal/top-ups/{}", top_up.id);
    let body = top_up_body(&top_up, balance, &here, "/portal");
    let scripts = [crate::assets::PORTAL_JS.path()];
    Ok(page_response(
        StatusCode::OK,
        view::page("Your top-up", claims.return_url.as_deref(), body, &scripts),
    ))
}

/// The customer's top-up `id`, or 404 (a malformed id, another customer's, none).
pub(super) async fn own_top_up<B: PortalBackend>(
    backend: &B,
    claims_or_link: &PortalClaims,
    id: &str,
) -> Result<TopUpView, PortalError> {
    let not_found = || PortalError::Page(PageError::NotFound);
    if !is_top_up_id(id) {
        return Err(not_found());
    }
    let tenant = claims_or_link.tenant();
    match backend
        .get_card_top_up(&tenant, &claims_or_link.customer_id, id)
        .await
    {
        Ok(top_up) if top_up.customer_id == claims_or_link.customer_id => Ok(top_up),
        Ok(_) => Err(not_found()),
        Err(e) if e.code().ends_with("not_found") => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// A top-up's progress. Pending: the portal's script reloads the page every 2 seconds (no
/// `<meta>` refresh: it would fail the accessibility check); without it, a link does.
pub(super) fn top_up_body(
    top_up: &TopUpView,
    balance: Option<i64>,
    here: &str,
    back: &str,
) -> maud::Markup {
    html! {
        h1 { "Top-up of " (money(top_up.amount, top_up.currency)) }
        @match top_up.status {
            TopUpStatus::Pending => {
                p role="status" #top-up-status data-refresh-after="2" { "Processing your payment… This page updates by itself." }
                p { a href=(here) { "Check again" } }
            },
            TopUpStatus::Succeeded => {
                p role="status" #top-up-status { "Added to your wallet." }
                @if let Some(balance) = balance {
                    p { "Your " (top_up.currency.code()) " balance is now " strong #new-balance { (money(balance, top_up.currency)) } "." }
                }
            },
            TopUpStatus::Failed => p.alert role="alert" #top-up-status {
                "The payment was declined: " (top_up.message.as_deref().unwrap_or("the card was declined")) ". Nothing was charged."
            },
        }
        @if !back.is_empty() { p { a href=(back) { "Back to your wallets" } } }
    }
}
