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
