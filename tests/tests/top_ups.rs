//! Settings, low-balance alerts and auto top-up end to end: the real handlers on DynamoDB Local,
//! the table's stream through the real dispatcher, the real Stripe adapter against localstripe
//! (`STRIPE_BASE_URL`, started by `./infra/test.sh`), and a real webhook receiver. localstripe
//! does not replay idempotency keys, so "never twice" is proven by counting PaymentIntents at
//! the gateway.

use std::future::Future;
use std::time::Duration;

use integration_tests::cards::gateway;
use integration_tests::gateways::{DiesAfterCharge, LosesTheAnswer};
use integration_tests::webhooks::{Pump, Received, Receiver};
use integration_tests::{assert_error, json, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::{Currency, CustomerId, Timestamp};
use shared::topups::operations::TopUpRun;

const GOOD_CARD: &str = "4242424242424242";
const DECLINING_CARD: &str = "4000000000000341";
const WAIT: Duration = Duration::from_secs(20);

/// One test at a time: sweeps serve every business, and one run at a future instant would take
/// another test's work.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A customer of `h` with USD `balance`, and auto top-up of `amount` at `threshold` on a saved
/// `card`; answers (customer id, gateway customer id).
async fn customer_with_top_up(
    h: &Harness,
    balance: i64,
    threshold: i64,
    amount: i64,
    card: &str,
) -> (String, String) {
    let customer = h.customer().await;
    if balance > 0 {
        h.credit(&customer, balance).await;
    }
    let (gateway_customer, payment_method) = gateway()
        .create_test_customer(card, &h.business_id, &customer)
        .await
        .unwrap();
    let set = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .json(json!({
            "currency": "USD",
            "low_balance_threshold": threshold,
            "auto_top_up": {
                "threshold": threshold, "amount": amount, "max_per_day": 5,
                "payment_method": {"gateway_customer_id": gateway_customer, "payment_method_id": payment_method}
            }
        }))
        .send()
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    (customer, gateway_customer)
}

async fn charges_at_gateway(gateway_customer: &str) -> usize {
    gateway()
        .payment_intents_of(gateway_customer, None)
        .await
        .unwrap()
        .len()
}

async fn debit(h: &Harness, customer: &str, amount: i64) -> integration_tests::Reply {
    h.entry(
        customer,
        json!({"amount": amount, "currency": "USD", "entry_type": "debit"}),
    )
    .await
}

fn mine<'a>(customer: &'a str, event_type: &'a str) -> impl Fn(&Received) -> bool + 'a {
    move |r| r.event_type() == event_type && r.json()["data"]["customer_id"] == customer
}

async fn settings(h: &Harness, customer: &str) -> serde_json::Value {
    let got = h
        .request(Route::GetWalletSettings)
        .customer(customer)
        .send()
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    got.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "USD")
        .unwrap()
        .clone()
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn later(seconds: u64) -> Timestamp {
    Timestamp::from_unix_ms(Timestamp::now().unix_ms + seconds * 1000)
}

async fn sweep(h: &Harness, at: Timestamp) -> shared::sweep::SweepReport {
    h.service()
        .sweep_top_ups_and_holds(Some(&gateway()), at, 1000, Duration::from_secs(60))
        .await
        .expect("sweep")
}

#[tokio::test]
async fn a_debit_crossing_the_threshold_tops_up_once_through_the_event_path_with_its_events() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::with_gateway(h.calm_service(), gateway()).await;
    let receiver = Receiver::start().await;
    h.request(Route::CreateWebhook)
        .json(json!({"url": receiver.url()}))
        .send()
        .await;
    let (customer, gateway_customer) = customer_with_top_up(&h, 1_000, 300, 2_000, GOOD_CARD).await;

    assert_eq!(debit(&h, &customer, 800).await.status, StatusCode::OK);
    wait_until("the top-up's credit", || async {
        h.balance(&customer, "USD").await == 2_200
    })
    .await;
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);
    let entries = h.all_entries(&customer, None).await;
    let credit = &entries[0];
    assert_eq!(credit["amount"], 2_000);
    assert_eq!(credit["reason"], "auto top-up");
    assert_eq!(
        credit["created_by"]["process"], "auto-top-up",
        "an automatic change says so"
    );
    assert!(credit["reference_object_id"]
        .as_str()
        .unwrap()
        .starts_with("pi_"));

    for event_type in [
        "wallet.balance_low",
        "wallet.auto_top_up_succeeded",
        "wallet.balance_recovered",
    ] {
        let got = receiver
            .wait_for(1, WAIT, mine(&customer, event_type))
            .await;
        assert_eq!(got.len(), 1, "{event_type}");
    }
    let succeeded = receiver
        .wait_for(1, WAIT, mine(&customer, "wallet.auto_top_up_succeeded"))
        .await;
    let data = &succeeded[0].json()["data"];
    assert_eq!(data["auto_top_up"]["amount"], 2_000);
    assert_eq!(
        data["auto_top_up"]["payment_intent_id"],
        credit["reference_object_id"]
    );
    assert_eq!(data["wallet"]["balance"], 2_200);
    let state = settings(&h, &customer).await;
    assert_eq!(state["top_up"]["count_today"], 1);
    assert!(state["top_up"]["attempt_id"].is_null());
    assert_eq!(
        sweep(&h, later(120)).await.top_ups_credited,
        0,
        "nothing left to do"
    );
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);
}

#[tokio::test]
async fn fifty_concurrent_debits_crossing_together_top_up_once() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::with_gateway(h.calm_service(), gateway()).await;
    let (customer, gateway_customer) = customer_with_top_up(&h, 1_000, 500, 5_000, GOOD_CARD).await;
    let replies = integration_tests::race(50, |_| {
        let (h, customer) = (h.clone(), customer.clone());
        async move { debit(&h, &customer, 20).await }
    })
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    wait_until("the top-up's credit", || async {
        h.balance(&customer, "USD").await == 5_000
    })
    .await;
    // Two sweeps at once, after every lease could have lapsed: nothing more.
    let (a, b) = tokio::join!(sweep(&h, later(120)), sweep(&h, later(120)));
    assert_eq!(a.top_ups_credited + b.top_ups_credited, 0);
    assert_eq!(
        charges_at_gateway(&gateway_customer).await,
        1,
        "one PaymentIntent for one need"
    );
    let credits = h
        .all_entries(&customer, None)
        .await
        .into_iter()
        .filter(|e| e["is_credit"] == true)
        .count();
    assert_eq!(credits, 2, "the first credit and one top-up");
}

#[tokio::test]
async fn a_decline_credits_nothing_is_retried_after_the_backoff_and_pauses_after_three() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let receiver = Receiver::start().await;
    let _pump = Pump::start(h.calm_service()).await;
    h.request(Route::CreateWebhook)
        .json(json!({"url": receiver.url(), "filter_types": ["wallet.auto_top_up_failed"]}))
        .send()
        .await;
    let (customer, gateway_customer) =
        customer_with_top_up(&h, 0, 100, 1_000, DECLINING_CARD).await;

    let first = sweep(&h, Timestamp::now()).await;
    assert_eq!(first.top_ups_declined, 1);
    assert_eq!(h.balance(&customer, "USD").await, 0, "nothing credited");
    let state = settings(&h, &customer).await;
    assert_eq!(state["top_up"]["consecutive_failures"], 1);
    assert_eq!(state["top_up"]["last"]["decline_code"], "card_declined");
    assert!(state["top_up"]["retry_at"].is_string());
    assert_eq!(
        sweep(&h, later(60)).await.top_ups_declined,
        0,
        "waits an hour"
    );
    assert_eq!(sweep(&h, later(3_601)).await.top_ups_declined, 1);
    assert_eq!(
        sweep(&h, later(3_602)).await.top_ups_declined,
        0,
        "then four hours"
    );
    assert_eq!(
        sweep(&h, later(3_601 + 4 * 3_600 + 1))
            .await
            .top_ups_declined,
        1
    );
    let paused = settings(&h, &customer).await;
    assert_eq!(paused["auto_top_up"]["status"], "paused");
    assert!(paused["auto_top_up"]["paused_reason"]
        .as_str()
        .unwrap()
        .contains("3 declined"));
    assert_eq!(
        sweep(&h, later(10 * 86_400)).await.top_ups_declined,
        0,
        "paused stays paused"
    );
    assert_eq!(charges_at_gateway(&gateway_customer).await, 3);
    let failed = receiver
        .wait_for(3, WAIT, mine(&customer, "wallet.auto_top_up_failed"))
        .await;
    assert_eq!(failed.len(), 3);
    assert_eq!(
        failed[0].json()["data"]["auto_top_up"]["decline_code"],
        "card_declined"
    );
}

#[tokio::test]
async fn a_crash_after_the_charge_or_a_timeout_with_it_done_is_reconciled_into_one_credit() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let (customer, gateway_customer) = customer_with_top_up(&h, 0, 100, 700, GOOD_CARD).await;
    let business = shared::kernel::BusinessId::parse(&h.business_id).unwrap();
    let customer_id = CustomerId::parse(&customer).unwrap();
    let now = Timestamp::now();

    let dying = DiesAfterCharge(gateway());
    let run = h
        .service()
        .run_top_up(&dying, &business, &customer_id, Currency::USD, now);
    assert!(
        tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .is_err(),
        "the worker died"
    );
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);
    assert_eq!(
        h.balance(&customer, "USD").await,
        0,
        "charged, not yet credited"
    );
    assert_eq!(
        sweep(&h, later(10)).await.top_ups_credited,
        0,
        "its lease still holds"
    );
    let rerun = sweep(&h, later(61)).await;
    assert_eq!(rerun.top_ups_credited, 1, "{rerun:?}");
    assert_eq!(h.balance(&customer, "USD").await, 700);
    assert_eq!(
        charges_at_gateway(&gateway_customer).await,
        1,
        "reconciled, not charged again"
    );

    let (customer, gateway_customer) = customer_with_top_up(&h, 0, 100, 900, GOOD_CARD).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let timing_out = LosesTheAnswer(gateway());
    let run = h
        .service()
        .run_top_up(
            &timing_out,
            &business,
            &customer_id,
            Currency::USD,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(matches!(run, TopUpRun::Unknown { .. }), "{run:?}");
    let run = h
        .service()
        .run_top_up(
            &gateway(),
            &business,
            &customer_id,
            Currency::USD,
            later(61),
        )
        .await
        .unwrap();
    assert!(
        matches!(run, TopUpRun::Credited { amount: 900, .. }),
        "{run:?}"
    );
    assert_eq!(h.balance(&customer, "USD").await, 900);
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);
}

#[tokio::test]
async fn alerts_fire_once_per_crossing_down_up_down_and_under_concurrency() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    h.request(Route::CreateWebhook)
        .json(json!({"url": receiver.url(), "filter_types": ["wallet.balance_low", "wallet.balance_recovered"]}))
        .send()
        .await;
    let customer = h.customer().await;
    h.credit(&customer, 10_000).await;
    let set = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .json(json!({"currency": "USD", "low_balance_threshold": 5_000}))
        .send()
        .await;
    assert_eq!(set.body["low_balance"], false);
    // 100 concurrent debits of 60 take the balance from 10,000 to 4,000: one crossing.
    let replies = integration_tests::race(100, |_| {
        let (h, customer) = (h.clone(), customer.clone());
        async move { debit(&h, &customer, 60).await }
    })
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    h.credit(&customer, 2_000).await; // 6,000: recovered
    debit(&h, &customer, 1_500).await; // 4,500: low again
    debit(&h, &customer, 100).await; // still low
    let low = receiver
        .wait_for(2, WAIT, mine(&customer, "wallet.balance_low"))
        .await;
    let recovered = receiver
        .wait_for(1, WAIT, mine(&customer, "wallet.balance_recovered"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver
            .received()
            .iter()
            .filter(|r| mine(&customer, "wallet.balance_low")(r))
            .count(),
        2
    );
    assert_eq!((low.len(), recovered.len()), (2, 1));
    assert_eq!(settings(&h, &customer).await["low_balance"], true);
}

#[tokio::test]
async fn the_daily_cap_stops_top_ups_and_settings_are_checked_and_changes_nothing_when_refused() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let (gateway_customer, payment_method) = gateway()
        .create_test_customer(GOOD_CARD, &h.business_id, &customer)
        .await
        .unwrap();
    let method =
        json!({"gateway_customer_id": gateway_customer, "payment_method_id": payment_method});
    let patch = |body: serde_json::Value| {
        h.request(Route::UpdateWalletSettings)
            .customer(&customer)
            .json(body)
            .send()
    };
    for (auto, code) in [
        (
            json!({"threshold": 100, "amount": 0, "payment_method": method}),
            "invalid_amount",
        ),
        (
            json!({"threshold": 100, "target_balance": 100, "payment_method": method}),
            "invalid_auto_top_up",
        ),
        (
            json!({"threshold": 100, "amount": 100_000_000_000_001_i64, "payment_method": method}),
            "amount_too_large",
        ),
        (
            json!({"threshold": 100, "amount": 50}),
            "invalid_auto_top_up",
        ),
        (
            json!({"threshold": 100, "amount": 50, "max_per_day": 0, "payment_method": method}),
            "invalid_auto_top_up",
        ),
    ] {
        let refused = patch(json!({"currency": "USD", "auto_top_up": auto})).await;
        assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let refused = patch(json!({"currency": "EUR", "low_balance_threshold": 5})).await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "currency_not_enabled",
    );
    assert!(
        settings(&h, &customer).await["auto_top_up"].is_null(),
        "nothing changed"
    );

    let set = patch(json!({"currency": "USD", "auto_top_up": {
        "threshold": 100, "amount": 50, "max_per_day": 2, "payment_method": method}}))
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    // The wallet stays at or below the threshold: each sweep tops up 50 until the day's 2.
    for _ in 0..4 {
        sweep(&h, Timestamp::now()).await;
    }
    assert_eq!(h.balance(&customer, "USD").await, 100);
    assert_eq!(charges_at_gateway(&gateway_customer).await, 2);
    assert_eq!(settings(&h, &customer).await["top_up"]["count_today"], 2);
    clear_top_up(&h, &customer).await;

    h.close_wallet(&customer, "INR").await;
    let closed = patch(json!({"currency": "INR", "low_balance_threshold": 5})).await;
    assert_error(&closed, StatusCode::UNPROCESSABLE_ENTITY, "wallet_closed");
    let other = h.other_business().await;
    let theirs = other
        .request(Route::GetWalletSettings)
        .customer(&customer)
        .send()
        .await;
    assert_error(&theirs, StatusCode::NOT_FOUND, "customer_not_found");
}

#[tokio::test]
async fn two_sweeps_at_once_over_a_thousand_wallets_serve_each_of_twenty_needs_once_and_read_by_the_work(
) {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    // 980 wallets with nothing to do: half with a low-balance threshold they are above (an auto
    // top-up setting would need a card of their own at the gateway), half with none; made 28 at
    // a time.
    let mut idle = Vec::new();
    for _ in 0..35 {
        idle.extend(
            integration_tests::race(28, |i| {
                let h = h.clone();
                async move {
                    let customer = h.customer().await;
                    if i % 2 == 0 {
                        h.credit(&customer, 1_000).await;
                        h.request(Route::UpdateWalletSettings)
                            .customer(&customer)
                            .json(json!({"currency": "USD", "low_balance_threshold": 10}))
                            .send()
                            .await
                    } else {
                        h.request(Route::GetWalletSettings)
                            .customer(&customer)
                            .send()
                            .await
                    }
                }
            })
            .await,
        );
    }
    assert!(idle.iter().all(|r| r.status == StatusCode::OK));
    let mut due = Vec::new();
    for _ in 0..20 {
        due.push(customer_with_top_up(&h, 0, 100, 500, GOOD_CARD).await);
    }
    h.take_usage();
    let (a, b) = tokio::join!(sweep(&h, Timestamp::now()), sweep(&h, Timestamp::now()));
    let usage = h.take_usage();
    assert_eq!(a.top_ups_credited + b.top_ups_credited, 20, "{a:?} {b:?}");
    for (customer, gateway_customer) in &due {
        assert_eq!(h.balance(customer, "USD").await, 500);
        assert_eq!(
            charges_at_gateway(gateway_customer).await,
            1,
            "each need charged once"
        );
    }
    // Reading 1,000 wallet sets would cost at least 500 read units; the sweeps read the index and
    // the 20 wallets they serve (a few reads each, some twice when the two sweeps meet).
    eprintln!(
        "two sweeps, 20 due of 1,000: {} calls, {} RCU",
        usage.calls, usage.read_units
    );
    assert!(usage.read_units < 250.0, "{} read units", usage.read_units);
}

/// Issue 24, item 2: the settings show an attempt's id while it is in flight, and its credit
/// claimed `auto_top_up_<attempt id>` among the business's own keys, so a request that used that
/// key first blocked the credit for good (and failed every sweep). The credit's key now lives in
/// the service's own namespace.
#[tokio::test]
async fn a_request_using_the_credits_former_key_first_does_not_block_the_credit() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let (customer, gateway_customer) = customer_with_top_up(&h, 0, 100, 700, GOOD_CARD).await;
    let business = shared::kernel::BusinessId::parse(&h.business_id).unwrap();
    let customer_id = CustomerId::parse(&customer).unwrap();
    let run = h
        .service()
        .run_top_up(
            &LosesTheAnswer(gateway()),
            &business,
            &customer_id,
            Currency::USD,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(matches!(run, TopUpRun::Unknown { .. }), "{run:?}");
    let attempt_id = settings(&h, &customer).await["top_up"]["attempt_id"]
        .as_str()
        .expect("the attempt in flight is shown")
        .to_owned();
    let former_key = format!("auto_top_up_{attempt_id}");
    let taken = h
        .entry(
            &customer,
            json!({"amount": 1, "currency": "USD", "entry_type": "credit", "idempotency_key": former_key}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);

    let rerun = sweep(&h, later(61)).await;
    assert_eq!(rerun.top_ups_credited, 1, "{rerun:?}");
    assert_eq!(h.balance(&customer, "USD").await, 701);
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries[0]["amount"], 700);
    assert_eq!(entries[0]["idempotency_key"], former_key.as_str());
    // The request's key still answers the request's own entry.
    let again = h
        .entry(
            &customer,
            json!({"amount": 1, "currency": "USD", "entry_type": "credit", "idempotency_key": former_key}),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(h.balance(&customer, "USD").await, 701);
}

/// Issue 24, item 3: `due_at` judged the daily cap on the day of the wallet's last change, so a
/// wallet still below its threshold at its cap left the sweep's index and never came back.
#[tokio::test]
async fn a_wallet_capped_yesterday_is_topped_up_today() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let (gateway_customer, payment_method) = gateway()
        .create_test_customer(GOOD_CARD, &h.business_id, &customer)
        .await
        .unwrap();
    let set = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .json(json!({"currency": "USD", "auto_top_up": {
            "threshold": 1_000, "amount": 100, "max_per_day": 1,
            "payment_method": {"gateway_customer_id": gateway_customer, "payment_method_id": payment_method}}}))
        .send()
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    sweep(&h, Timestamp::now()).await;
    sweep(&h, Timestamp::now()).await;
    assert_eq!(h.balance(&customer, "USD").await, 100, "one a day");
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);

    const DAY_MS: u64 = 86_400_000;
    let tomorrow =
        Timestamp::from_unix_ms((Timestamp::now().unix_ms / DAY_MS + 1) * DAY_MS + 1_000);
    sweep(&h, tomorrow).await;
    assert_eq!(
        h.balance(&customer, "USD").await,
        200,
        "topped up the next day"
    );
    assert_eq!(charges_at_gateway(&gateway_customer).await, 2);
    clear_top_up(&h, &customer).await;
}

/// Takes a wallet still below its threshold at its cap out of the sweep's index (it would be due
/// at the next UTC midnight), so that no other test's sweep across midnight meets it.
async fn clear_top_up(h: &Harness, customer: &str) {
    let cleared = h
        .request(Route::UpdateWalletSettings)
        .customer(customer)
        .json(json!({"currency": "USD", "auto_top_up": null}))
        .send()
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert!(settings(h, customer).await["auto_top_up"].is_null());
}
