//! One wallet's settings (`/dashboard/customers/{id}/settings?currency=XXX`): the low-balance
//! threshold, auto top-up (on, off or none; threshold; a fixed amount or a target balance; the
//! daily caps; the saved card it charges), its state (today's top-ups, the last result, paused
//! after declines with the reason) and resuming it. Saving calls the same operations as
//! `PATCH /customers/{id}/wallets/settings` (`api/src/routes/settings.rs`): the payment method
//! is checked with the gateway for this business and customer (`topups::ownership`), then
//! `update_settings`. The gateway offers no listing of a customer's saved cards here, so the
//! card is named by its payment method id (`pm_...`) and that ownership check decides. A save
//! has no domain idempotency key: it applies once per form (`Service::once_per_form`).

use lambda_http::http::StatusCode;
use maud::html;
use shared::access::sessions::SignedIn;
use shared::kernel::{Clock, Currency, CustomerId, ValidationError};
use shared::ledger::model::CurrencyWallet;
use shared::ports::Store;
use shared::topups::model::{AutoTopUp, TopUpAmount};
use shared::topups::operations::SettingsPatch;
use shared::topups::rules::{self, AutoTopUpFields};

use super::{Cx, Failure};
use crate::forms::Fields;
use crate::layout::{self, money, time};
use crate::respond::{page_response, redirect, Answer, PageError};

fn customer_id<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<CustomerId, PageError> {
    CustomerId::parse(cx.param("customer_id")).map_err(|_| PageError::NotFound)
}

fn here(id: &CustomerId, currency: Currency) -> String {
    format!(
        "/dashboard/customers/{id}/settings?currency={}",
        currency.code()
    )
}

pub async fn show<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    let query = crate::forms::query(cx.request);
    let currency = query.get("currency").map(Currency::parse).transpose()?;
    render(cx, &signed_in, currency, None).await
}

/// `minor` as typed back into a field: major units without symbol or separators.
fn typed_amount(minor: i64, currency: Currency) -> String {
    crate::money::major(minor, currency).replace(',', "")
}

/// "active", "paused" or "disabled", as the API says it.
fn auto_status(auto: &AutoTopUp) -> &'static str {
    match (auto.enabled, &auto.paused_reason) {
        (false, _) => "disabled",
        (true, Some(_)) => "paused",
        (true, None) => "active",
    }
}

/// The cards saved at the gateway for the customer (the gateway's list, then the customer's
/// ordered payment methods), to pick from; empty when there is no gateway or it cannot say.
async fn saved_cards<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    gateway_customer_id: Option<&str>,
    ordered: &[shared::customers::model::SavedPaymentMethod],
) -> Vec<String> {
    let mut cards: Vec<String> = ordered
        .iter()
        .map(|m| m.payment_method_id.clone())
        .collect();
    if let (Ok(Some(gateway)), Some(customer)) = (cx.app.stripe(), gateway_customer_id) {
        match gateway.saved_cards(customer).await {
            Ok(listed) => cards.extend(listed),
            Err(error) => tracing::warn!(%error, "could not list the customer's saved cards"),
        }
    }
    let mut seen = std::collections::HashSet::new();
    cards.retain(|card| seen.insert(card.clone()));
    cards
}

async fn render<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    signed_in: &SignedIn,
    currency: Option<Currency>,
    failure: Option<Failure<'_>>,
) -> Answer {
    let id = customer_id(cx)?;
    let tenant = &signed_in.tenant;
    let customer = cx.app.get_customer(tenant, &id).await?;
    let found = cx.app.list_wallets(tenant, &id).await?;
    let wallets = &found.wallets;
    let currency = match currency {
        Some(currency) => currency,
        None => *wallets.wallets.keys().next().ok_or(PageError::NotFound)?,
    };
    if !wallets.wallets.contains_key(&currency) {
        return Err(PageError::NotFound);
    }
    let CurrencyWallet { wallet, .. } = wallets.wallet_in(currency);
    let settings = &wallet.settings;
    let auto = settings.auto_top_up.as_ref();
    let state = &wallet.top_up;
    let today = rules::day_of(cx.app.now()) == state.day;
    let query = crate::forms::query(cx.request);
    let typed = failure.as_ref().map(|f| f.typed);
    // A field's value: what was typed after a refusal, else the setting now.
    let value = |name: &str, now: Option<String>| match typed {
        Some(typed) => typed.get(name).unwrap_or("").to_owned(),
        None => now.unwrap_or_default(),
    };
    let amount_of = |minor: i64| Some(typed_amount(minor, currency));
    let mode = value(
        "auto_top_up",
        Some(
            auto.map_or("none", |a| if a.enabled { "on" } else { "off" })
                .into(),
        ),
    );
    let by = value(
        "top_up_by",
        Some(match auto.map(|a| a.amount) {
            Some(TopUpAmount::TargetBalance(_)) => "target".into(),
            _ => "amount".into(),
        }),
    );
    let top_up_value = value(
        "top_up_value",
        auto.and_then(|a| match a.amount {
            TopUpAmount::Fixed(v) | TopUpAmount::TargetBalance(v) => amount_of(v),
        }),
    );
    let cards = saved_cards(
        cx,
        auto.map(|a| a.payment_method.gateway_customer_id.as_str())
            .or(customer.gateway_customer_id.as_deref()),
        &customer.payment_methods,
    )
    .await;
    let customer_page = format!("/dashboard/customers/{id}");
    let body = html! {
        p { a href=(customer_page) { "← " (customer.name) } }
        h1 { "Settings of the " (currency.code()) " wallet" }
        p { (customer.name) " · " (customer.email) }
        @if wallets.wallets.len() > 1 {
            nav aria-label="Currencies" { ul.row {
                @for other in wallets.wallets.keys() {
                    li { @if *other == currency { strong { (other.code()) } } @else { a href=(here(&id, *other)) { (other.code()) } } }
                }
            } }
        }
        (layout::done_notice(query.get("done")))
        @if let Some(failure) = &failure { p.alert role="alert" #failure { (failure.message) } }
        dl.facts {
            dt { "Available balance" } dd { (money(wallet.available_balance(), currency)) }
            dt { "Low balance" } dd { @if wallet.low { "yes: at or below the threshold" } @else { "no" } }
            dt { "Auto top-up" } dd {
                @match auto {
                    None => "not set up",
                    Some(a) => {
                        (auto_status(a))
                        @if let Some(reason) = &a.paused_reason { ": " (reason) }
                    }
                }
            }
            @if today { dt { "Top-ups today" } dd { (state.count_today) " (" (money(state.amount_today, currency)) ")" } }
            @if state.consecutive_failures > 0 { dt { "Declines in a row" } dd { (state.consecutive_failures) } }
            @if let Some(at) = state.retry_at { dt { "Next try" } dd { (time(at)) } }
            @if let Some(last) = &state.last {
                dt { "Last top-up" } dd {
                    (money(last.amount, currency)) " at " (time(last.at)) ": "
                    @match &last.message { Some(message) => { "declined (" (message) ")" }, None => "succeeded" }
                }
            }
            @if let Some(actor) = &settings.updated_by {
                dt { "Changed by" } dd { (actor.key_id.as_ref().map(|k| k.to_string()).unwrap_or_else(|| "-".into()))
                    @if let Some(session) = &actor.session_id { " (dashboard " (session) ")" } }
            }
        }
        @if let Some(a) = auto.filter(|a| a.paused_reason.is_some()) {
            form method="post" action={"/dashboard/customers/" (id) "/settings"} {
                (layout::change_fields(signed_in))
                input type="hidden" name="currency" value=(currency.code());
                input type="hidden" name="resume" value="true";
                button type="submit" { "Resume auto top-up (charges " (a.payment_method.payment_method_id) " again)" }
            }
        }
        form.stack method="post" action={"/dashboard/customers/" (id) "/settings"} {
            (layout::change_fields(signed_in))
            input type="hidden" name="currency" value=(currency.code());
            fieldset {
                legend { "Low-balance alert" }
                label { "Threshold in " (currency.code()) " (empty: no alert)"
                    input type="text" inputmode="decimal" name="low_balance_threshold"
                        value=(value("low_balance_threshold", settings.low_balance_threshold.and_then(amount_of))); }
                p.muted { small { "At or below it, the wallet.balance_low webhook is sent." } }
            }
            fieldset {
                legend { "Auto top-up" }
                @for (option, text) in [("none", "None"), ("on", "On"), ("off", "Set up but off")] {
                    label.check { input type="radio" name="auto_top_up" value=(option) checked[mode == option]; (text) }
                }
                label { "Top up when the available balance is at or below (" (currency.code()) ")"
                    input type="text" inputmode="decimal" name="top_up_threshold" value=(value("top_up_threshold", auto.and_then(|a| amount_of(a.threshold)))); }
                label.check { input type="radio" name="top_up_by" value="amount" checked[by == "amount"]; "Add a fixed amount" }
                label.check { input type="radio" name="top_up_by" value="target" checked[by == "target"]; "Bring the balance to a target" }
                label { "Amount or target (" (currency.code()) ")"
                    input type="text" inputmode="decimal" name="top_up_value" value=(top_up_value); }
                label { "Top-ups per day at most"
                    input type="number" name="max_per_day" min="1" max=(rules::MAX_PER_DAY_LIMIT)
                        value=(value("max_per_day", auto.map(|a| a.max_per_day.to_string()))); }
                label { "Amount per day at most (" (currency.code()) ", optional)"
                    input type="text" inputmode="decimal" name="max_amount_per_day"
                        value=(value("max_amount_per_day", auto.and_then(|a| amount_of(a.max_amount_per_day)))); }
                label { "Saved card (payment method id, pm_...)"
                    input type="text" name="payment_method_id" autocomplete="off" spellcheck="false"
                        list="saved-cards" aria-describedby="saved-cards-help"
                        value=(value("payment_method_id", auto.map(|a| a.payment_method.payment_method_id.clone()))); }
                datalist #saved-cards { @for card in &cards { option value=(card) {} } }
                p #saved-cards-help .muted { small {
                    @if cards.is_empty() { "No saved card found at the gateway for this customer." }
                    @else { "Saved at the gateway: " @for (i, card) in cards.iter().enumerate() { @if i > 0 { ", " } code { (card) } } }
                } }
                label { "Gateway customer id (optional: found or made at the gateway when empty)"
                    input type="text" name="gateway_customer_id" autocomplete="off" spellcheck="false"
                        value=(value("gateway_customer_id", auto.map(|a| a.payment_method.gateway_customer_id.clone()))); }
                p.muted { small { "The card must be saved at the gateway for this customer of this business." } }
            }
            button type="submit" { "Save settings" }
        }
    };
    let markup = layout::page("Wallet settings", signed_in, body);
    Ok(page_response(
        failure.map_or(StatusCode::OK, |f| f.status),
        markup,
    ))
}

/// Typed major units that may be zero (a threshold): "0" and "0.00" are 0.
fn amount_or_zero(typed: &str, currency: Currency) -> Result<i64, ValidationError> {
    let zero = !typed.is_empty()
        && typed.chars().all(|c| c == '0' || c == '.')
        && typed.matches('.').count() <= 1;
    if zero {
        return Ok(0);
    }
    crate::money::parse(typed, currency)
}

fn whole(form: &Fields, name: &str) -> Result<Option<i64>, ValidationError> {
    form.get(name)
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                ValidationError::new(
                    "invalid_auto_top_up",
                    format!("{name} must be a whole number"),
                )
            })
        })
        .transpose()
}

/// The settings patch of the form, as the API's body would say it.
fn patch_of(
    form: &Fields,
    currency: Currency,
    current: Option<&AutoTopUp>,
) -> Result<SettingsPatch, ValidationError> {
    let amount = |name: &str| {
        form.get(name)
            .map(|typed| amount_or_zero(typed, currency))
            .transpose()
    };
    if form.get("resume").is_some() {
        // Enabling the setting again clears the pause (as the API's PATCH with it).
        let mut resumed = current.cloned().ok_or_else(|| {
            ValidationError::new("invalid_auto_top_up", "there is no auto top-up to resume")
        })?;
        resumed.enabled = true;
        resumed.paused_reason = None;
        return Ok(SettingsPatch {
            low_balance_threshold: None,
            auto_top_up: Some(Some(resumed)),
        });
    }
    let low_balance_threshold = Some(
        amount("low_balance_threshold")?
            .map(rules::threshold)
            .transpose()?,
    );
    let enabled = match form.get("auto_top_up").unwrap_or("none") {
        "none" => {
            return Ok(SettingsPatch {
                low_balance_threshold,
                auto_top_up: Some(None),
            })
        }
        "on" => true,
        "off" => false,
        _ => {
            return Err(ValidationError::new(
                "invalid_auto_top_up",
                "choose none, on or off",
            ))
        }
    };
    let value = amount("top_up_value")?;
    let (fixed, target) = match form.get("top_up_by") {
        Some("target") => (None, value),
        _ => (value, None),
    };
    let auto = rules::auto_top_up(AutoTopUpFields {
        enabled: Some(enabled),
        threshold: amount("top_up_threshold")?,
        amount: fixed,
        target_balance: target,
        gateway_customer_id: form.get("gateway_customer_id").map(str::to_owned),
        payment_method_id: form.get("payment_method_id").map(str::to_owned),
        max_per_day: whole(form, "max_per_day")?,
        max_amount_per_day: amount("max_amount_per_day")?,
    })?;
    Ok(SettingsPatch {
        low_balance_threshold,
        auto_top_up: Some(Some(auto)),
    })
}

pub async fn update<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let (signed_in, form) = cx.change().await?;
    let id = customer_id(cx)?;
    let tenant = &signed_in.tenant;
    let currency = form.get("currency").map(Currency::parse).transpose()?;
    let result = async {
        let currency = currency.ok_or_else(|| {
            ValidationError::new("invalid_currency", "the form names no currency")
        })?;
        let found = cx.app.list_wallets(tenant, &id).await?;
        let current = found
            .wallets
            .wallets
            .get(&currency)
            .ok_or(PageError::NotFound)?
            .settings
            .auto_top_up
            .clone();
        let patch = patch_of(&form, currency, current.as_ref())?;
        let id = &id;
        let work = move || async move {
            // As the API: the payment method must be this business's customer's at the
            // gateway (or is saved to a gateway customer made for it).
            let patch = if matches!(patch.auto_top_up, Some(Some(_))) {
                let gateway = cx.app.stripe().map_err(|e| {
                    shared::DomainError::GatewayUnavailable(format!(
                        "payment gateway configuration: {e}"
                    ))
                })?;
                cx.app
                    .check_payment_method(gateway, tenant, id, patch)
                    .await?
            } else {
                patch
            };
            cx.app.update_settings(tenant, id, currency, &patch).await?;
            Ok(format!("{}&done=saved", here(id, currency)))
        };
        let once = cx
            .app
            .once_per_form(&tenant.business_id, form.get("idempotency_key"), work);
        Ok::<_, PageError>(cx.acting(&signed_in, once).await?)
    }
    .await;
    match result {
        Ok(location) => Ok(redirect(&location)),
        Err(error) => {
            let failure = Failure::of(error, &form)?;
            render(cx, &signed_in, currency, Some(failure)).await
        }
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
