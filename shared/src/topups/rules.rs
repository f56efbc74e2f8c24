//! Pure rules of settings, low-balance alerts and auto top-up: what a valid setting is, when a
//! wallet is low, when a top-up is due, how much it adds, and how each outcome changes the
//! wallet.

use crate::kernel::money::{AMOUNT_MAX_MINOR, BALANCE_MAX_MINOR};
use crate::kernel::text::printable;
use crate::kernel::{Timestamp, ValidationError};
use crate::ledger::model::Wallet;

use super::model::{AutoTopUp, PaymentMethod, TopUpAmount, TopUpAttempt, TopUpResult};

/// Declines in a row after which auto top-up pauses itself.
pub const FAILURES_BEFORE_PAUSE: u32 = 3;
/// Waits after the 1st and 2nd decline in a row (the 3rd pauses): 1 h, then 4 h.
pub const RETRY_AFTER_S: [u64; 2] = [3_600, 4 * 3_600];
/// How long a worker owns an attempt before another may take it over (the gateway call's
/// timeout is 10 s).
pub const LEASE_MS: u64 = 60_000;
pub const MAX_PER_DAY_LIMIT: u32 = 100;
const ID_MAX: usize = 255;
/// A UTC day: the daily caps' period (`day_of`).
const DAY_MS: u64 = 86_400_000;

/// The available balance is at or below the low-balance threshold.
pub fn is_low(wallet: &Wallet) -> bool {
    wallet
        .settings
        .low_balance_threshold
        .is_some_and(|threshold| wallet.available_balance() <= threshold)
}

/// `YYYY-MM-DD` (UTC) of an instant: the day the daily caps count.
pub fn day_of(now: Timestamp) -> String {
    now.rfc3339()[..10].to_owned()
}

/// What a wallet's auto top-up should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing: not set up, paused, not low enough, waiting to retry, or the day's caps spent.
    Nothing,
    /// Another worker holds an attempt in flight.
    Busy,
    /// A new attempt of this amount.
    Start(i64),
    /// An attempt whose worker's lease ran out: take it over, same id (its charge may be done).
    Resume(TopUpAttempt),
}

/// How much a top-up adds to this wallet now (not checked against the caps).
pub fn amount_for(wallet: &Wallet, setting: &AutoTopUp) -> i64 {
    match setting.amount {
        TopUpAmount::Fixed(amount) => amount,
        TopUpAmount::TargetBalance(target) => target - wallet.available_balance(),
    }
}

pub fn next_step(wallet: &Wallet, now: Timestamp) -> Step {
    if let Some(attempt) = &wallet.top_up.attempt {
        return if attempt.lease_until > now {
            Step::Busy
        } else {
            Step::Resume(attempt.clone())
        };
    }
    let Some(setting) = wallet.settings.auto_top_up.as_ref().filter(|s| s.active()) else {
        return Step::Nothing;
    };
    if wallet.available_balance() > setting.threshold
        || wallet.top_up.retry_at.is_some_and(|at| at > now)
        || wallet.status != crate::ledger::model::WalletStatus::Active
    {
        return Step::Nothing;
    }
    let today = day_of(now) == wallet.top_up.day;
    let (count, total) = if today {
        (wallet.top_up.count_today, wallet.top_up.amount_today)
    } else {
        (0, 0)
    };
    let amount = amount_for(wallet, setting);
    let fits = amount > 0
        && amount <= AMOUNT_MAX_MINOR
        && count < setting.max_per_day
        && total + amount <= setting.max_amount_per_day
        && wallet.balance + amount <= BALANCE_MAX_MINOR;
    if fits {
        Step::Start(amount)
    } else {
        Step::Nothing
    }
}

/// When the sweep should look at this wallet's top-up: the end of an attempt's lease, or the
/// moment a new attempt may start (the wallet's last change, if it may start at once; the start
/// of the next UTC day, if only the day's caps hold it back); `None` when there is nothing to do.
/// A wallet at its cap keeps its place in the sweep's index: a refused debit writes nothing,
/// so no later change of the wallet would bring it back.
pub fn due_at(wallet: &Wallet) -> Option<Timestamp> {
    // An invoice's card charge in flight is due when its lease ends (`invoices::charging`).
    let invoices = wallet.invoice_charges.values().min().copied();
    match (top_up_due_at(wallet), invoices) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// When the wallet's top-up is due, if ever.
fn top_up_due_at(wallet: &Wallet) -> Option<Timestamp> {
    if let Some(attempt) = &wallet.top_up.attempt {
        return Some(attempt.lease_until);
    }
    let at = wallet
        .updated_at
        .max(wallet.top_up.retry_at.unwrap_or(wallet.updated_at));
    if let Step::Start(_) = next_step(wallet, at) {
        return Some(at);
    }
    // Only the day's counts change with the day: if the next day would start it, the caps hold
    // it back today.
    let next_day = Timestamp::from_unix_ms((at.unix_ms / DAY_MS + 1) * DAY_MS);
    match next_step(wallet, next_day) {
        Step::Start(_) => Some(next_day),
        _ => None,
    }
}

/// The wallet holding `attempt` for a worker until `now` + [`LEASE_MS`].
pub fn claim(wallet: &mut Wallet, attempt: TopUpAttempt) {
    wallet.top_up.attempt = Some(attempt);
}

fn count_today(wallet: &mut Wallet, now: Timestamp, amount: i64) {
    let day = day_of(now);
    if wallet.top_up.day != day {
        wallet.top_up.day = day;
        wallet.top_up.count_today = 0;
        wallet.top_up.amount_today = 0;
    }
    wallet.top_up.count_today += 1;
    wallet.top_up.amount_today += amount;
}

/// The attempt succeeded (its credit is written in the same change).
pub fn succeeded(
    wallet: &mut Wallet,
    attempt: &TopUpAttempt,
    payment_intent_id: &str,
    now: Timestamp,
) {
    count_today(wallet, attempt.started_at.max(now), attempt.amount);
    let state = &mut wallet.top_up;
    state.attempt = None;
    state.retry_at = None;
    state.consecutive_failures = 0;
    state.succeeded += 1;
    state.last = Some(TopUpResult {
        attempt_id: attempt.id.clone(),
        amount: attempt.amount,
        payment_intent_id: Some(payment_intent_id.to_owned()),
        decline_code: None,
        message: None,
        at: now,
    });
}

/// The attempt was declined: nothing credited; retried after a growing wait, and paused after
/// [`FAILURES_BEFORE_PAUSE`] declines in a row.
pub fn declined(
    wallet: &mut Wallet,
    attempt: &TopUpAttempt,
    payment_intent_id: Option<&str>,
    decline_code: &str,
    message: &str,
    now: Timestamp,
) {
    let state = &mut wallet.top_up;
    state.attempt = None;
    state.consecutive_failures += 1;
    state.failed += 1;
    state.last = Some(TopUpResult {
        attempt_id: attempt.id.clone(),
        amount: attempt.amount,
        payment_intent_id: payment_intent_id.map(str::to_owned),
        decline_code: Some(decline_code.to_owned()),
        message: Some(message.to_owned()),
        at: now,
    });
    let failures = state.consecutive_failures;
    match RETRY_AFTER_S.get(failures as usize - 1) {
        Some(wait_s) if failures < FAILURES_BEFORE_PAUSE => {
            state.retry_at = Some(Timestamp::from_unix_ms(now.unix_ms + wait_s * 1_000));
        }
        _ => {
            state.retry_at = None;
            if let Some(setting) = wallet.settings.auto_top_up.as_mut() {
                setting.paused_reason = Some(format!(
                    "paused after {failures} declined top-ups in a row (last: {decline_code}); enable auto_top_up again to resume"
                ));
            }
        }
    }
}

/// The raw auto top-up setting of a request.
#[derive(Debug, Clone, Default)]
pub struct AutoTopUpFields {
    pub enabled: Option<bool>,
    pub threshold: Option<i64>,
    pub amount: Option<i64>,
    pub target_balance: Option<i64>,
    pub gateway_customer_id: Option<String>,
    pub payment_method_id: Option<String>,
    pub max_per_day: Option<i64>,
    pub max_amount_per_day: Option<i64>,
}

fn invalid(message: String) -> ValidationError {
    ValidationError::new("invalid_auto_top_up", message)
}

fn gateway_id(name: &str, raw: Option<String>) -> Result<String, ValidationError> {
    match raw {
        Some(id) if !id.is_empty() && id.len() <= ID_MAX && printable(&id) => Ok(id),
        _ => Err(invalid(format!(
            "auto_top_up.payment_method.{name} is required: 1 to {ID_MAX} printable characters"
        ))),
    }
}

/// A low-balance threshold: 0 to the balance limit.
pub fn threshold(raw: i64) -> Result<i64, ValidationError> {
    if !(0..=BALANCE_MAX_MINOR).contains(&raw) {
        return Err(ValidationError::new(
            "invalid_threshold",
            format!("low_balance_threshold must be between 0 and {BALANCE_MAX_MINOR}; got {raw}"),
        ));
    }
    Ok(raw)
}

/// A whole auto top-up setting. Enabling it again clears a pause.
pub fn auto_top_up(raw: AutoTopUpFields) -> Result<AutoTopUp, ValidationError> {
    let threshold_value = raw
        .threshold
        .ok_or_else(|| invalid("auto_top_up.threshold is required".into()))?;
    if !(0..=BALANCE_MAX_MINOR).contains(&threshold_value) {
        return Err(invalid(format!(
            "auto_top_up.threshold must be between 0 and {BALANCE_MAX_MINOR}; got {threshold_value}"
        )));
    }
    let amount = match (raw.amount, raw.target_balance) {
        (Some(amount), None) => {
            crate::kernel::Amount::new(amount)?;
            TopUpAmount::Fixed(amount)
        }
        (None, Some(target)) => {
            if target <= threshold_value || target > BALANCE_MAX_MINOR {
                return Err(invalid(format!(
                    "auto_top_up.target_balance must be above the threshold ({threshold_value}) and at most {BALANCE_MAX_MINOR}; got {target}"
                )));
            }
            TopUpAmount::TargetBalance(target)
        }
        _ => {
            return Err(invalid(
                "auto_top_up takes exactly one of amount and target_balance".into(),
            ))
        }
    };
    let max_per_day = raw.max_per_day.unwrap_or(3);
    if !(1..=i64::from(MAX_PER_DAY_LIMIT)).contains(&max_per_day) {
        return Err(invalid(format!(
            "auto_top_up.max_per_day must be between 1 and {MAX_PER_DAY_LIMIT}; got {max_per_day}"
        )));
    }
    let largest = match amount {
        TopUpAmount::Fixed(amount) => amount,
        TopUpAmount::TargetBalance(target) => target,
    };
    let max_amount_per_day = raw
        .max_amount_per_day
        .unwrap_or(largest.saturating_mul(max_per_day));
    if max_amount_per_day < largest.min(AMOUNT_MAX_MINOR) || max_amount_per_day > BALANCE_MAX_MINOR
    {
        return Err(invalid(format!(
            "auto_top_up.max_amount_per_day must cover one top-up ({largest}) and be at most {BALANCE_MAX_MINOR}; got {max_amount_per_day}"
        )));
    }
    Ok(AutoTopUp {
        enabled: raw.enabled.unwrap_or(true),
        threshold: threshold_value,
        amount,
        payment_method: PaymentMethod {
            // Left out: the gateway customer is created when the settings are saved
            // (`topups::ownership`).
            gateway_customer_id: match raw.gateway_customer_id {
                None => String::new(),
                named => gateway_id("gateway_customer_id", named)?,
            },
            payment_method_id: gateway_id("payment_method_id", raw.payment_method_id)?,
        },
        max_per_day: max_per_day as u32,
        max_amount_per_day,
        paused_reason: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Currency;
    use crate::ledger::model::usd_wallets;

    fn setting(threshold: i64, amount: TopUpAmount) -> AutoTopUp {
        AutoTopUp {
            enabled: true,
            threshold,
            amount,
            payment_method: PaymentMethod {
                gateway_customer_id: "cus_x".into(),
                payment_method_id: "pm_x".into(),
            },
            max_per_day: 2,
            max_amount_per_day: 1_000,
            paused_reason: None,
        }
    }

    fn wallet(balance: i64, setting: AutoTopUp) -> Wallet {
        let mut wallet = usd_wallets(balance, 0).wallets[&Currency::USD].clone();
        wallet.settings.auto_top_up = Some(setting);
        wallet
    }

    const NOW: Timestamp = Timestamp::from_unix_ms(1_800_000_000_000);

    #[test]
    fn a_wallet_at_or_below_the_threshold_starts_a_top_up_of_its_amount_or_to_its_target() {
        assert_eq!(
            next_step(&wallet(100, setting(100, TopUpAmount::Fixed(500))), NOW),
            Step::Start(500)
        );
        assert_eq!(
            next_step(&wallet(101, setting(100, TopUpAmount::Fixed(500))), NOW),
            Step::Nothing
        );
        assert_eq!(
            next_step(
                &wallet(40, setting(100, TopUpAmount::TargetBalance(600))),
                NOW
            ),
            Step::Start(560)
        );
    }

    #[test]
    fn an_attempt_in_flight_blocks_another_until_its_lease_ends_then_is_resumed_with_its_id() {
        let mut w = wallet(0, setting(100, TopUpAmount::Fixed(500)));
        let attempt = TopUpAttempt {
            id: "tpa_1".into(),
            amount: 500,
            started_at: NOW,
            payment_method: setting(100, TopUpAmount::Fixed(500)).payment_method,
            lease_until: Timestamp::from_unix_ms(NOW.unix_ms + LEASE_MS),
        };
        claim(&mut w, attempt.clone());
        assert_eq!(next_step(&w, NOW), Step::Busy);
        assert_eq!(due_at(&w), Some(attempt.lease_until));
        assert_eq!(
            next_step(
                &w,
                attempt
                    .lease_until
                    .max(Timestamp::from_unix_ms(attempt.lease_until.unix_ms + 1))
            ),
            Step::Resume(attempt)
        );
    }

    #[test]
    fn declines_back_off_then_pause_and_the_daily_caps_hold() {
        let mut w = wallet(0, setting(100, TopUpAmount::Fixed(500)));
        let attempt = TopUpAttempt {
            id: "tpa_1".into(),
            amount: 500,
            started_at: NOW,
            payment_method: setting(100, TopUpAmount::Fixed(500)).payment_method,
            lease_until: NOW,
        };
        declined(&mut w, &attempt, None, "card_declined", "no", NOW);
        assert_eq!(
            w.top_up.retry_at,
            Some(Timestamp::from_unix_ms(NOW.unix_ms + 3_600_000))
        );
        assert_eq!(next_step(&w, NOW), Step::Nothing, "waits for the retry");
        declined(&mut w, &attempt, None, "card_declined", "no", NOW);
        assert_eq!(
            w.top_up.retry_at,
            Some(Timestamp::from_unix_ms(NOW.unix_ms + 4 * 3_600_000))
        );
        declined(&mut w, &attempt, None, "card_declined", "no", NOW);
        assert!(w
            .settings
            .auto_top_up
            .as_ref()
            .unwrap()
            .paused_reason
            .is_some());
        assert_eq!(
            next_step(&w, Timestamp::from_unix_ms(NOW.unix_ms + 86_400_000)),
            Step::Nothing
        );

        let mut w = wallet(0, setting(100, TopUpAmount::Fixed(500)));
        succeeded(&mut w, &attempt, "pi_1", NOW);
        assert_eq!(next_step(&w, NOW), Step::Start(500), "2 a day, 1000 in all");
        succeeded(&mut w, &attempt, "pi_2", NOW);
        assert_eq!(
            next_step(&w, NOW),
            Step::Nothing,
            "the day's count is spent"
        );
        let tomorrow = Timestamp::from_unix_ms(NOW.unix_ms + 86_400_000);
        assert_eq!(next_step(&w, tomorrow), Step::Start(500));
    }

    #[test]
    fn a_wallet_at_its_daily_cap_is_due_at_the_start_of_the_next_utc_day() {
        let mut w = wallet(0, setting(100, TopUpAmount::Fixed(500)));
        w.updated_at = NOW;
        assert_eq!(due_at(&w), Some(NOW), "due at once");
        let attempt = TopUpAttempt {
            id: "tpa_1".into(),
            amount: 500,
            started_at: NOW,
            payment_method: setting(100, TopUpAmount::Fixed(500)).payment_method,
            lease_until: NOW,
        };
        succeeded(&mut w, &attempt, "pi_1", NOW);
        succeeded(&mut w, &attempt, "pi_2", NOW);
        assert_eq!(next_step(&w, NOW), Step::Nothing, "capped today");
        let midnight = Timestamp::from_unix_ms((NOW.unix_ms / DAY_MS + 1) * DAY_MS);
        assert_eq!(
            day_of(midnight),
            day_of(Timestamp::from_unix_ms(NOW.unix_ms + DAY_MS))
        );
        assert_ne!(day_of(midnight), day_of(NOW));
        assert_eq!(due_at(&w), Some(midnight));

        // Above its threshold, or paused, it is due at no time.
        let mut above = w.clone();
        above.balance = 101;
        assert_eq!(due_at(&above), None);
        let mut paused = w.clone();
        paused.settings.auto_top_up.as_mut().unwrap().enabled = false;
        assert_eq!(due_at(&paused), None);
    }

    #[test]
    fn settings_are_checked() {
        let ok = AutoTopUpFields {
            threshold: Some(100),
            amount: Some(500),
            gateway_customer_id: Some("cus_1".into()),
            payment_method_id: Some("pm_1".into()),
            ..Default::default()
        };
        assert!(auto_top_up(ok.clone()).is_ok());
        let code = |f: AutoTopUpFields| auto_top_up(f).unwrap_err().code;
        assert_eq!(
            code(AutoTopUpFields {
                amount: Some(0),
                ..ok.clone()
            }),
            "invalid_amount"
        );
        assert_eq!(
            code(AutoTopUpFields {
                amount: None,
                target_balance: Some(100),
                ..ok.clone()
            }),
            "invalid_auto_top_up",
            "a target at the threshold"
        );
        assert_eq!(
            code(AutoTopUpFields {
                target_balance: Some(900),
                ..ok.clone()
            }),
            "invalid_auto_top_up"
        );
        assert_eq!(
            code(AutoTopUpFields {
                max_amount_per_day: Some(499),
                ..ok.clone()
            }),
            "invalid_auto_top_up"
        );
        assert_eq!(
            code(AutoTopUpFields {
                payment_method_id: None,
                ..ok
            }),
            "invalid_auto_top_up"
        );
        assert_eq!(threshold(-1).unwrap_err().code, "invalid_threshold");
    }
}
