//! Wallet settings (low-balance alert, auto top-up) and the state of a wallet's auto top-up.
//! Both live in the wallet itself, so a change and the balance it is judged against are read
//! and written together, under the wallet set's version.

use serde::{Deserialize, Serialize};

use crate::kernel::Timestamp;

/// A wallet's settings; the default is none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WalletSettings {
    /// `wallet.balance_low` when the available balance falls to or below this (minor units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_balance_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_top_up: Option<AutoTopUp>,
    /// Who changed the settings last (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<crate::access::model::Actor>,
}

impl WalletSettings {
    pub fn is_empty(&self) -> bool {
        *self == WalletSettings::default()
    }
}

/// The saved payment method a top-up charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// The gateway customer the payment method is attached to; its metadata names the wallet's
    /// business and customer (`topups::ownership`). Empty only in a settings patch that has it
    /// created.
    pub gateway_customer_id: String,
    pub payment_method_id: String,
}

/// How much a top-up adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopUpAmount {
    /// Always this much.
    Fixed(i64),
    /// Enough to bring the available balance to this.
    TargetBalance(i64),
}

/// Auto top-up: when the available balance is at or below `threshold`, charge the payment
/// method, within the daily caps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoTopUp {
    pub enabled: bool,
    pub threshold: i64,
    pub amount: TopUpAmount,
    pub payment_method: PaymentMethod,
    /// Top-ups per UTC day at most.
    pub max_per_day: u32,
    /// Minor units topped up per UTC day at most.
    pub max_amount_per_day: i64,
    /// Set when top-ups paused themselves (3 declines in a row); cleared by enabling again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
}

impl AutoTopUp {
    pub fn active(&self) -> bool {
        self.enabled && self.paused_reason.is_none()
    }
}

/// A charge being made for one need: its id is the gateway's idempotency key and the credit's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpAttempt {
    /// `tpa_<ulid>`.
    pub id: String,
    pub amount: i64,
    pub started_at: Timestamp,
    /// What it charges (kept with it: a takeover reconciles even if the settings changed).
    pub payment_method: PaymentMethod,
    /// The worker holding it; after this another may take it over (same id: never a second
    /// charge).
    pub lease_until: Timestamp,
}

/// How the last top-up that ended went, for its event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredTopUpResult")]
pub struct TopUpResult {
    pub attempt_id: String,
    pub amount: i64,
    pub payment_intent_id: Option<String>,
    /// For a failure: the decline code, and its class's fixed message
    /// (`topups::gateway::DeclineClass`; for `credit_refused`, the wallet's refusal).
    pub decline_code: Option<String>,
    pub message: Option<String>,
    pub at: Timestamp,
}

/// A [`TopUpResult`] as stored. Results recorded before declines had fixed messages carry the
/// gateway's own words: they are read as [`LEGACY_DECLINE_MESSAGE`], so that no tenant sees them
/// (settings, events).
#[derive(Deserialize)]
struct StoredTopUpResult {
    attempt_id: String,
    amount: i64,
    payment_intent_id: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    at: Timestamp,
}

/// What a decline recorded with the gateway's own words reads as.
pub const LEGACY_DECLINE_MESSAGE: &str = "the payment gateway declined the top-up";

impl From<StoredTopUpResult> for TopUpResult {
    fn from(stored: StoredTopUpResult) -> TopUpResult {
        let ours = |message: &str| {
            stored.decline_code.as_deref() == Some("credit_refused")
                || super::gateway::DeclineClass::ALL
                    .iter()
                    .any(|class| class.message() == message)
        };
        let message = stored.message.map(|message| {
            if ours(&message) {
                message
            } else {
                LEGACY_DECLINE_MESSAGE.to_owned()
            }
        });
        TopUpResult {
            attempt_id: stored.attempt_id,
            amount: stored.amount,
            payment_intent_id: stored.payment_intent_id,
            decline_code: stored.decline_code,
            message,
            at: stored.at,
        }
    }
}

/// What a wallet's auto top-up is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TopUpState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<TopUpAttempt>,
    /// After a decline: no new attempt before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
    #[serde(default)]
    pub consecutive_failures: u32,
    /// `YYYY-MM-DD` (UTC) the counts below are of.
    #[serde(default)]
    pub day: String,
    #[serde(default)]
    pub count_today: u32,
    #[serde(default)]
    pub amount_today: i64,
    /// Top-ups that succeeded and failed, ever: each rise is one event.
    #[serde(default)]
    pub succeeded: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<TopUpResult>,
}

impl TopUpState {
    pub fn is_idle(&self) -> bool {
        *self == TopUpState::default()
    }
}
