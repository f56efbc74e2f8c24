//! `/customers/{id}/wallets/settings`: low-balance threshold and auto top-up, per currency.

use serde::{Deserialize, Serialize};
use shared::kernel::{Clock, Currency, CustomerId, Timestamp};
use shared::ledger::model::CurrencyWallet;
use shared::ports::Store;
use shared::topups::model::{AutoTopUp, TopUpAmount, TopUpResult};
use shared::topups::operations::SettingsPatch;
use shared::topups::rules::{self, AutoTopUpFields};

use crate::http::request::{body, customer_id};
use crate::http::{json, Answer, ApiError, Call};

#[derive(Debug, Serialize)]
struct PaymentMethodView<'a> {
    gateway_customer_id: &'a str,
    payment_method_id: &'a str,
}

#[derive(Debug, Serialize)]
struct AutoTopUpView<'a> {
    enabled: bool,
    /// `active`, `paused` (after 3 declines in a row: see `paused_reason`) or `disabled`.
    status: &'static str,
    paused_reason: Option<&'a str>,
    threshold: i64,
    amount: Option<i64>,
    target_balance: Option<i64>,
    payment_method: PaymentMethodView<'a>,
    max_per_day: u32,
    max_amount_per_day: i64,
}

impl<'a> AutoTopUpView<'a> {
    fn of(setting: &'a AutoTopUp) -> AutoTopUpView<'a> {
        let (amount, target_balance) = match setting.amount {
            TopUpAmount::Fixed(amount) => (Some(amount), None),
            TopUpAmount::TargetBalance(target) => (None, Some(target)),
        };
        AutoTopUpView {
            enabled: setting.enabled,
            status: match (setting.enabled, &setting.paused_reason) {
                (false, _) => "disabled",
                (true, Some(_)) => "paused",
                (true, None) => "active",
            },
            paused_reason: setting.paused_reason.as_deref(),
            threshold: setting.threshold,
            amount,
            target_balance,
            payment_method: PaymentMethodView {
                gateway_customer_id: &setting.payment_method.gateway_customer_id,
                payment_method_id: &setting.payment_method.payment_method_id,
            },
            max_per_day: setting.max_per_day,
            max_amount_per_day: setting.max_amount_per_day,
        }
    }
}

#[derive(Debug, Serialize)]
struct TopUpStateView<'a> {
    /// The attempt being charged now, if any.
    attempt_id: Option<&'a str>,
    retry_at: Option<Timestamp>,
    consecutive_failures: u32,
    /// Today (UTC): top-ups made and their sum.
    count_today: u32,
    amount_today: i64,
    last: Option<&'a TopUpResult>,
}

/// One wallet's settings as the API shows them.
#[derive(Debug, Serialize)]
pub struct SettingsView<'a> {
    customer_id: &'a CustomerId,
    currency: Currency,
    available_balance: i64,
    low_balance_threshold: Option<i64>,
    /// The available balance is at or below the threshold (`wallet.balance_low` was sent).
    low_balance: bool,
    auto_top_up: Option<AutoTopUpView<'a>>,
    top_up: TopUpStateView<'a>,
    /// Who changed the settings last (extension).
    updated_by: Option<&'a shared::access::model::Actor>,
}

impl<'a> SettingsView<'a> {
    fn of(wallet: &'a CurrencyWallet) -> SettingsView<'a> {
        let state = &wallet.wallet;
        let today = rules::day_of(Timestamp::now()) == state.top_up.day;
        SettingsView {
            customer_id: &wallet.customer_id,
            currency: wallet.currency,
            available_balance: state.available_balance(),
            low_balance_threshold: state.settings.low_balance_threshold,
            low_balance: state.low,
            auto_top_up: state.settings.auto_top_up.as_ref().map(AutoTopUpView::of),
            updated_by: state.settings.updated_by.as_ref(),
            top_up: TopUpStateView {
                attempt_id: state.top_up.attempt.as_ref().map(|a| a.id.as_str()),
                retry_at: state.top_up.retry_at,
                consecutive_failures: state.top_up.consecutive_failures,
                count_today: if today { state.top_up.count_today } else { 0 },
                amount_today: if today { state.top_up.amount_today } else { 0 },
                last: state.top_up.last.as_ref(),
            },
        }
    }
}

#[derive(Deserialize)]
struct PaymentMethodBody {
    gateway_customer_id: Option<String>,
    payment_method_id: Option<String>,
}

#[derive(Deserialize)]
struct AutoTopUpBody {
    enabled: Option<bool>,
    threshold: Option<i64>,
    amount: Option<i64>,
    target_balance: Option<i64>,
    payment_method: Option<PaymentMethodBody>,
    max_per_day: Option<i64>,
    max_amount_per_day: Option<i64>,
}

#[derive(Deserialize)]
struct SettingsBody {
    currency: String,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    low_balance_threshold: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::request::nullable")]
    auto_top_up: Option<Option<AutoTopUpBody>>,
}

impl SettingsBody {
    fn parse(self) -> Result<(Currency, SettingsPatch), ApiError> {
        let currency = Currency::parse(&self.currency)?;
        let low_balance_threshold = self
            .low_balance_threshold
            .map(|t| t.map(rules::threshold).transpose())
            .transpose()?;
        let auto_top_up = self
            .auto_top_up
            .map(|auto| {
                auto.map(|raw| {
                    let method = raw.payment_method.unwrap_or(PaymentMethodBody {
                        gateway_customer_id: None,
                        payment_method_id: None,
                    });
                    rules::auto_top_up(AutoTopUpFields {
                        enabled: raw.enabled,
                        threshold: raw.threshold,
                        amount: raw.amount,
                        target_balance: raw.target_balance,
                        gateway_customer_id: method.gateway_customer_id,
                        payment_method_id: method.payment_method_id,
                        max_per_day: raw.max_per_day,
                        max_amount_per_day: raw.max_amount_per_day,
                    })
                })
                .transpose()
            })
            .transpose()?;
        Ok((
            currency,
            SettingsPatch {
                low_balance_threshold,
                auto_top_up,
            },
        ))
    }
}

#[derive(Serialize)]
struct SettingsList<'a> {
    items: Vec<SettingsView<'a>>,
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let listed = app.list_wallets(tenant, &customer_id(request)?).await?;
    let wallets: Vec<CurrencyWallet> = listed
        .wallets
        .wallets
        .keys()
        .map(|currency| listed.wallets.wallet_in(*currency))
        .collect();
    json(&SettingsList {
        items: wallets.iter().map(SettingsView::of).collect(),
    })
}

pub async fn update<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let (currency, patch) = body::<SettingsBody>(request)?.parse()?;
    let customer = customer_id(request)?;
    // The payment method must be this business's customer's at the gateway (or is saved to a
    // gateway customer made for it): `topups::ownership`.
    let patch = if matches!(patch.auto_top_up, Some(Some(_))) {
        let gateway = app.stripe().map_err(|e| {
            shared::DomainError::GatewayUnavailable(format!("payment gateway configuration: {e}"))
        })?;
        app.check_payment_method(gateway, tenant, &customer, patch)
            .await?
    } else {
        patch
    };
    let wallet = app
        .update_settings(tenant, &customer, currency, &patch)
        .await?;
    json(&SettingsView::of(&wallet))
}
