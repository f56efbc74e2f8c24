//! The liability report's day totals, kept by the real dispatcher from DynamoDB Local's stream,
//! equal the sum of every wallet's balance after a concurrent burst, with every stream batch
//! given again mid-way (as Lambda does after a partial-batch failure).

use std::time::{Duration, Instant};

use integration_tests::webhooks::Pump;
use integration_tests::{assert_error, json, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::Timestamp;
use shared::reports::rules::{day, day_of, parse_day};

const CUSTOMERS: usize = 6;

/// The burst's pump dispatches every business's records: the cost test, which adds a change's
/// totals itself, runs apart from it.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const WAIT: Duration = Duration::from_secs(90);

/// Yesterday and today (UTC): (closing balance, open wallets, credits less debits) of each, as
/// `GET /reports/liability` answers them.
async fn two_days(h: &Harness, currency: &str) -> Vec<(i64, i64, i64)> {
    let today = parse_day("to", &day_of(Timestamp::now())).unwrap();
    let yesterday = day(today.previous_day().unwrap());
    let reply = h
        .request(Route::GetLiabilityReport)
        .query("currency", currency)
        .query("from", &yesterday)
        .query("to", &day(today))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let number = |day: &serde_json::Value, field: &str| day[field].as_i64().expect(field);
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| {
            let moved = number(d, "credits") - number(d, "debits");
            (number(d, "closing_balance"), number(d, "wallets"), moved)
        })
        .collect()
}

/// One customer's share of the burst: credits and debits racing each other, a hold captured in
/// part, and for the first customer its INR wallet closed (paid out).
async fn burst(h: Harness, customer: String, first: bool) {
    h.credit(&customer, 10_000).await;
    let inr = json!({"amount": 2_000, "currency": "INR", "entry_type": "credit", "event_type": "refund", "reference_object_id": "rf_1"});
    assert_eq!(h.entry(&customer, inr).await.status, StatusCode::OK);
    let mut racing = Vec::new();
    for k in 0..4_i64 {
        let (h, customer) = (h.clone(), customer.clone());
        racing.push(tokio::spawn(async move {
            let debit = json!({"amount": 100 + k, "currency": "USD", "entry_type": "debit", "event_type": "payment", "reference_object_id": "pay_1"});
            assert_eq!(h.entry(&customer, debit).await.status, StatusCode::OK);
            h.credit(&customer, 7 + k).await;
            let hold = h.hold(&customer, 300).await;
            assert_eq!(hold.status, StatusCode::OK, "{}", hold.body);
            let id = hold.body["id"].as_str().unwrap().to_owned();
            assert_eq!(h.capture(&customer, &id, Some(120 + k)).await.status, StatusCode::OK);
        }));
    }
    for task in racing {
        task.await.expect("a racing task");
    }
    if first {
        assert_eq!(
            h.close_wallet(&customer, "INR").await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn liability_totals_equal_the_sum_of_the_balances_after_a_burst_with_batches_retried_mid_way()
{
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::retrying_mid_way(h.calm_service()).await;
    let mut customers = Vec::new();
    for _ in 0..CUSTOMERS {
        customers.push(h.customer().await);
    }
    let tasks: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(n, customer)| tokio::spawn(burst(h.clone(), customer.clone(), n == 0)))
        .collect();
    for task in tasks {
        task.await.expect("a customer's burst");
    }
    for (code, open) in [("USD", CUSTOMERS as i64), ("INR", CUSTOMERS as i64 - 1)] {
        let mut balances = 0;
        for customer in &customers {
            balances += h.balance(customer, code).await;
        }
        let started = Instant::now();
        let mut days = two_days(&h, code).await;
        while days[1].0 != balances && started.elapsed() < WAIT {
            tokio::time::sleep(Duration::from_millis(250)).await;
            days = two_days(&h, code).await;
        }
        // Every batch is given three times: wait for the last givings, then look again.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let days = two_days(&h, code).await;
        let (closing, wallets, _) = days[1];
        assert_eq!(closing, balances, "{code}: {days:?}");
        assert_eq!(wallets, open, "{code}: open wallets");
        assert_eq!(
            days[0].2 + days[1].2,
            balances,
            "{code}: credits less debits"
        );
    }
    let other = h.other_business().await;
    assert_eq!(
        two_days(&other, "USD").await[1],
        (0, 0, 0),
        "another business's report"
    );
}

#[tokio::test]
async fn a_report_of_a_bad_date_or_a_backward_period_is_refused() {
    let h = Harness::new().await;
    let ask = |from: &str, to: &str| {
        h.request(Route::GetLiabilityReport)
            .query("currency", "USD")
            .query("from", from)
            .query("to", to)
            .send()
    };
    assert_error(
        &ask("2027-02-30", "2027-03-01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_date",
    );
    assert_error(
        &ask("2027-03-02", "2027-03-01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_period",
    );
    let quiet = ask("2027-03-01", "2027-03-03").await;
    assert_eq!(quiet.status, StatusCode::OK, "{}", quiet.body);
    assert_eq!(quiet.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(quiet.body["items"][2]["closing_balance"], 0);
}

/// What docs/performance.md says the totals and the report cost, measured on DynamoDB Local.
#[tokio::test]
async fn the_totals_of_a_change_and_a_month_report_cost_what_performance_md_says() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let wallets = |h: &Harness| {
        let (h, customer) = (h.clone(), customer.clone());
        async move {
            use shared::ports::WalletStore;
            let business = shared::kernel::BusinessId::parse(&h.business_id).unwrap();
            let customer = shared::kernel::CustomerId::parse(&customer).unwrap();
            h.service()
                .store()
                .get_wallets(&business, &customer)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let before = wallets(&h).await;
    h.credit(&customer, 500).await;
    let after = wallets(&h).await;
    let business = shared::kernel::BusinessId::parse(&h.business_id).unwrap();
    h.take_usage();
    let added = h
        .service()
        .record_totals(&business, Some(&before), &after)
        .await
        .unwrap();
    assert!(added);
    let change = h.take_usage();
    eprintln!(
        "totals of one credit: {change:?}, billed {} WCU",
        change.billed_wcu()
    );
    // The entry it wrote (one query), then one transaction: the marker and one day.
    assert_eq!(change.calls, 2, "{change:?}");
    assert_eq!(change.transactional_wcu(), 4, "{change:?}");
    let again = h
        .service()
        .record_totals(&business, Some(&before), &after)
        .await
        .unwrap();
    assert!(!again, "given again: nothing added");
    let today = parse_day("to", &day_of(Timestamp::now())).unwrap();
    let month_ago = (0..30).fold(today, |d, _| d.previous_day().unwrap());
    h.take_usage();
    let reply = h
        .request(Route::GetLiabilityReport)
        .query("currency", "USD")
        .query("from", &day(month_ago))
        .query("to", &day(today))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let report = h.take_usage();
    eprintln!("report of 31 days: {report:?}");
    assert_eq!(report.calls, 1, "one query of the day totals: {report:?}");
}
