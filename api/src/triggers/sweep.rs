//! The sweep function: on a schedule, the due work no request starts (auto top-ups, expired
//! holds, webhook retries), fairly across businesses, each item on its own (see
//! `shared::sweep`), within the invocation's remaining time.

use std::time::Duration;

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::adapters::stripe;
use shared::adapters::webhook_http::HttpSender;
use shared::kernel::Clock;
use shared::payins::gateway::CardGateway;
use shared::ports::Store;
use shared::webhooks::model::{DeliveryReport, WebhookSender};
use shared::{DomainResult, Service};

use super::http::init_tracing;

/// Work items one sweep run takes at most of each kind.
pub const SWEEP_LIMIT: usize = 200;
/// One run starts no new work after this; what is left waits for the next run.
pub const SWEEP_BUDGET: Duration = Duration::from_secs(45);
/// Time a run leaves between its last start of work and its invocation's deadline: the work
/// started last finishes in it (a top-up: a look-up and a charge at Stripe of at most 10 s
/// each, and its records; a wave of webhook attempts: 10 s and its records).
pub const SWEEP_MARGIN: Duration = Duration::from_secs(30);

/// The time a run may start work in: [`SWEEP_BUDGET`], less when the invocation's deadline
/// (`deadline_ms`, Unix milliseconds, as Lambda gives it) is closer than that plus
/// [`SWEEP_MARGIN`]; zero when it is closer than the margin.
pub fn sweep_budget(deadline_ms: u64, now_ms: u64) -> Duration {
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    remaining.saturating_sub(SWEEP_MARGIN).min(SWEEP_BUDGET)
}

/// One sweep: due auto top-ups, expired holds, due webhook retries, starting no item after
/// `budget`. Fails only if it cannot run at all: failed items and steps are logged and counted
/// (`failed`, metric `SweepItemsFailed`), and the rest of the run goes on.
pub async fn sweep<S: Store, C: Clock, W: WebhookSender, G: CardGateway>(
    app: &Service<S, C>,
    sender: &W,
    gateway: Option<&G>,
    budget: Duration,
) -> DomainResult<serde_json::Value> {
    let started = tokio::time::Instant::now();
    let stop_at = started + budget;
    let now = app.now();
    let mut report = app
        .sweep_top_ups_and_holds(gateway, now, SWEEP_LIMIT, budget)
        .await?;
    // Card top-ups left pending a minute (their webhook never came): read and settled.
    let mut card_top_ups_settled = 0;
    if let (Some(gateway), true) = (gateway, tokio::time::Instant::now() < stop_at) {
        match app
            .reconcile_card_top_ups_within(gateway, now, SWEEP_LIMIT, stop_at)
            .await
        {
            Ok(step) => {
                card_top_ups_settled = step.done;
                report.failed += step.errors.len();
                report.stopped_early |= step.stopped_early;
            }
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "finding pending card top-ups failed; the run goes on");
                report.failed += 1;
            }
        }
    }
    let webhooks = if tokio::time::Instant::now() < stop_at {
        match app
            .retry_deliveries_within(sender, now, SWEEP_LIMIT, stop_at)
            .await
        {
            Ok((webhooks, step)) => {
                report.failed += step.errors.len();
                report.stopped_early |= step.stopped_early;
                webhooks
            }
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "finding due webhook retries failed; the run goes on");
                report.failed += 1;
                DeliveryReport::default()
            }
        }
    } else {
        report.stopped_early = true;
        DeliveryReport::default()
    };
    let summary = serde_json::json!({
        "wallets_due": report.wallets_due,
        "top_ups_credited": report.top_ups_credited,
        "top_ups_declined": report.top_ups_declined,
        "top_ups_unknown": report.top_ups_unknown,
        "holds_expired": report.holds_expired,
        "card_top_ups_settled": card_top_ups_settled,
        "top_up_links_expired": report.top_up_links_expired,
        "webhook_deliveries": webhooks.deliveries,
        "webhook_succeeded": webhooks.succeeded,
        "failed": report.failed,
        "stopped_early": report.stopped_early,
        "budget_ms": budget.as_millis() as u64,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    });
    tracing::info!(%summary, "sweep");
    let count = |name: &str| summary[name].as_f64().unwrap_or(0.0);
    crate::metrics::emit(&crate::metrics::line(
        &[("Function", "sweep")],
        &[&["Function"]],
        &[
            ("WalletsDue", count("wallets_due"), "Count"),
            ("TopUpsCredited", count("top_ups_credited"), "Count"),
            ("TopUpsDeclined", count("top_ups_declined"), "Count"),
            ("TopUpsUnknown", count("top_ups_unknown"), "Count"),
            ("HoldsExpired", count("holds_expired"), "Count"),
            ("CardTopUpsSettled", count("card_top_ups_settled"), "Count"),
            ("TopUpLinksExpired", count("top_up_links_expired"), "Count"),
            ("WebhookRetries", count("webhook_deliveries"), "Count"),
            ("SweepItemsFailed", count("failed"), "Count"),
            (
                "SweepStoppedEarly",
                f64::from(u8::from(report.stopped_early)),
                "Count",
            ),
            ("SweepDuration", count("elapsed_ms"), "Milliseconds"),
        ],
    ));
    Ok(summary)
}

/// The whole `main` of the sweep function (an EventBridge schedule, or the local run's timer).
pub async fn serve_sweep() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let sender = HttpSender::new(app.config().webhook_targets);
    let gateway = stripe::from_config(app.config()).map_err(|e| format!("configuration: {e}"))?;
    let (app, sender, gateway) = (&app, &sender, gateway.as_ref());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let now_ms = app.now().unix_ms;
            let deadline_ms = super::invocation_deadline_ms(event.context.deadline, now_ms);
            let budget = sweep_budget(deadline_ms, now_ms);
            let actor = shared::access::actor::process("sweep", Some(event.context.request_id));
            shared::access::actor::acting(actor, Box::pin(sweep(app, sender, gateway, budget)))
                .await
                .map_err(|e| {
                    tracing::error!(code = e.code(), error = %e, "sweep failed");
                    lambda_runtime::Error::from(e.to_string())
                })
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_the_margin_before_the_invocations_deadline() {
        let now = 1_800_000_000_000;
        let after = |s: u64| now + s * 1000;
        assert_eq!(sweep_budget(after(120), now), SWEEP_BUDGET);
        assert_eq!(sweep_budget(after(50), now), Duration::from_secs(20));
        assert_eq!(sweep_budget(after(30), now), Duration::ZERO);
        assert_eq!(sweep_budget(after(10), now), Duration::ZERO);
        assert_eq!(sweep_budget(now - 1, now), Duration::ZERO, "already past");
    }
}
