//! Auto top-up on the memory store with the test clock: the credit's key cannot be taken by a
//! request, two workers crediting one attempt credit it once, and a wallet at its daily cap is
//! topped up again the next day.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::{Barrier, Notify};

use super::{SettingsPatch, TopUpRun};
use crate::adapters::memory::fixtures::{entry, key, World, T0};
use crate::kernel::{BusinessId, Clock, Currency, CustomerId};
use crate::ledger::model::EntryType;
use crate::topups::gateway::{
    ChargeLookup, ChargeOutcome, ChargeRequest, FoundCharge, PaymentGateway,
};
use crate::topups::model::{AutoTopUp, PaymentMethod, TopUpAmount};
use crate::topups::rules::LEASE_MS;

const DAY_MS: u64 = 86_400_000;

/// A gateway that takes every charge, once per attempt: the same attempt answers the same
/// PaymentIntent (as the real adapter's reconciliation does). Counts the charges it made.
#[derive(Default)]
struct Takes {
    charges: AtomicU32,
}

impl PaymentGateway for Takes {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        self.charges.fetch_add(1, Ordering::SeqCst);
        ChargeOutcome::Succeeded {
            payment_intent_id: format!("pi_{}", request.attempt_id),
        }
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }
    crate::charge_only_gateway!();
}

/// Charges, then answers that the outcome is unknown (a timeout): the attempt stays claimed.
struct TimesOut;

impl PaymentGateway for TimesOut {
    async fn charge(&self, _: &ChargeRequest) -> ChargeOutcome {
        ChargeOutcome::Unknown {
            error: "timeout (injected)".into(),
        }
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }
    crate::charge_only_gateway!();
}

/// Two charges meet: each waits for the other, then both succeed with the attempt's
/// PaymentIntent. `arrived` says the first one is waiting.
struct Meeting {
    arrived: Notify,
    barrier: Barrier,
}

impl PaymentGateway for Meeting {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        self.arrived.notify_one();
        self.barrier.wait().await;
        ChargeOutcome::Succeeded {
            payment_intent_id: format!("pi_{}", request.attempt_id),
        }
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }
    crate::charge_only_gateway!();
}

/// Auto top-up of `amount` at `threshold`, at most `max_per_day` a day, on the USD wallet.
async fn set_top_up(w: &World, c: &CustomerId, threshold: i64, amount: i64, max_per_day: u32) {
    let patch = SettingsPatch {
        low_balance_threshold: None,
        auto_top_up: Some(Some(AutoTopUp {
            enabled: true,
            threshold,
            amount: TopUpAmount::Fixed(amount),
            payment_method: PaymentMethod {
                gateway_customer_id: "cus_gw".into(),
                payment_method_id: "pm_gw".into(),
            },
            max_per_day,
            max_amount_per_day: amount * i64::from(max_per_day),
            paused_reason: None,
        })),
    };
    w.service
        .update_settings(&w.tenant, c, Currency::USD, &patch)
        .await
        .expect("settings saved");
}

fn business(w: &World) -> &BusinessId {
    &w.tenant.business_id
}

async fn sweep<G: PaymentGateway>(w: &World, gateway: &G) -> crate::sweep::SweepReport {
    let now = w.clock.now();
    w.service
        .sweep_top_ups_and_holds(Some(gateway), now, 100, Duration::from_secs(60))
        .await
        .expect("sweep")
}

/// Issue 24, item 2: the credit's key was `auto_top_up_<attempt id>` in the business's own key
/// space, and the settings show the attempt id while it is in flight. A request that used that
/// key first blocked the credit forever (`IdempotencyKeyReused` on every resume).
#[tokio::test]
async fn a_request_using_the_credits_former_key_first_does_not_block_the_credit() {
    let w = World::new().await;
    let c = w.customer().await;
    set_top_up(&w, &c, 100, 500, 3).await;
    let run = w
        .service
        .run_top_up(&TimesOut, business(&w), &c, Currency::USD, w.clock.now())
        .await
        .unwrap();
    assert!(matches!(run, TopUpRun::Unknown { .. }), "{run:?}");
    // What `GET .../wallets/settings` shows as `top_up.attempt_id`.
    let attempt_id = w
        .wallet(&c, Currency::USD)
        .await
        .top_up
        .attempt
        .expect("the attempt stays claimed")
        .id;
    let former_key = format!("auto_top_up_{attempt_id}");
    w.service
        .create_entry(&w.tenant, &c, entry(EntryType::Credit, 1, key(&former_key)))
        .await
        .expect("a request may use any key of its own");

    w.clock.advance(LEASE_MS + 1);
    let gateway = Takes::default();
    let report = sweep(&w, &gateway).await;
    assert_eq!(report.top_ups_credited, 1, "{report:?}");
    let wallet = w.wallet(&c, Currency::USD).await;
    assert_eq!(wallet.balance, 501, "the request's 1 and the top-up's 500");
    assert!(wallet.top_up.attempt.is_none(), "the attempt ended");
    assert_eq!(wallet.top_up.succeeded, 1);
    let credit = w.ledger(&c).await.pop().unwrap();
    assert_eq!(credit.amount, 500);
    assert_eq!(
        credit.reference_object_id.as_deref(),
        Some(format!("pi_{attempt_id}").as_str())
    );
    // The request's key still answers the request's own entry.
    let repeat = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Credit, 1, key(&former_key)))
        .await;
    assert!(
        matches!(&repeat, Err(crate::error::DomainError::IdempotencyKeyReused { original, .. })
            if original.id() != credit.id.as_str()),
        "{repeat:?}"
    );
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 501);
}

/// Issue 24, item 2: a worker whose lease ran out mid-charge and the worker that took the
/// attempt over both get the charge's success and both credit it: the second finds the credit's
/// key taken by this very attempt, which means credited, not an error.
#[tokio::test]
async fn two_workers_crediting_one_attempt_after_its_lease_ran_out_credit_it_once() {
    let w = World::new().await;
    let c = w.customer().await;
    set_top_up(&w, &c, 100, 500, 3).await;
    let gateway = Meeting {
        arrived: Notify::new(),
        barrier: Barrier::new(2),
    };
    let other = w.instance();
    let first = w
        .service
        .run_top_up(&gateway, business(&w), &c, Currency::USD, w.clock.now());
    let second = async {
        // The first worker is charging; its lease runs out and another takes the attempt over.
        gateway.arrived.notified().await;
        w.clock.advance(LEASE_MS + 1);
        other
            .run_top_up(&gateway, business(&w), &c, Currency::USD, w.clock.now())
            .await
    };
    let (first, second) = tokio::join!(first, second);
    for run in [&first, &second] {
        assert!(
            matches!(run, Ok(TopUpRun::Credited { amount: 500, .. })),
            "{run:?}"
        );
    }
    let wallet = w.wallet(&c, Currency::USD).await;
    assert_eq!(wallet.balance, 500, "credited once");
    assert_eq!(wallet.top_up.succeeded, 1);
    assert!(wallet.top_up.attempt.is_none());
    assert_eq!(w.ledger(&c).await.len(), 1);
}

/// Issue 24, item 3: `due_at` judged the daily cap on the day of the wallet's last change, so a
/// wallet still below its threshold at the cap left the sweep's index and never came back.
#[tokio::test]
async fn a_wallet_capped_yesterday_is_topped_up_today() {
    let w = World::new().await;
    let c = w.customer().await;
    set_top_up(&w, &c, 1_000, 100, 1).await;
    let gateway = Takes::default();
    assert_eq!(sweep(&w, &gateway).await.top_ups_credited, 1);
    w.clock.advance(60_000);
    assert_eq!(
        sweep(&w, &gateway).await.top_ups_credited,
        0,
        "one a day: capped, though still below the threshold"
    );
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 100);

    // The next day (UTC): the sweep finds it again.
    w.clock.set((T0 / DAY_MS + 1) * DAY_MS + 5_000);
    let report = sweep(&w, &gateway).await;
    assert_eq!(report.top_ups_credited, 1, "{report:?}");
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 200);
    assert_eq!(gateway.charges.load(Ordering::SeqCst), 2);
    assert_eq!(
        sweep(&w, &gateway).await.top_ups_credited,
        0,
        "and caps it again"
    );
}
