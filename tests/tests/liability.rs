//! The liability report's day totals, kept by the real dispatcher from DynamoDB Local's stream,
//! equal the sum of every wallet's balance after a concurrent burst, with every stream batch
//! given again mid-way (as Lambda does after a partial-batch failure).

use std::time::{Duration, Instant};

use integration_tests::webhooks::Pump;
use integration_tests::{json, Harness};
use lambda_http::http::StatusCode;
use shared::access::model::Tenant;
use shared::kernel::{BusinessId, Currency, Timestamp};
use shared::reports::model::LiabilityDay;
use shared::reports::rules::{day_of, parse_day};

const CUSTOMERS: usize = 6;
const WAIT: Duration = Duration::from_secs(90);

/// Yesterday and today (UTC), from the service's report.
async fn two_days(h: &Harness, currency: Currency) -> Vec<LiabilityDay> {
    let today = parse_day("to", &day_of(Timestamp::now())).unwrap();
    let yesterday = today.previous_day().unwrap();
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    h.service()
        .liability_report(&tenant, currency, yesterday, today)
        .await
        .expect("the liability report")
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
    for (currency, code, open) in [
        (Currency::USD, "USD", CUSTOMERS as i64),
        (Currency::parse("INR").unwrap(), "INR", CUSTOMERS as i64 - 1),
    ] {
        let mut balances = 0;
        for customer in &customers {
            balances += h.balance(customer, code).await;
        }
        let started = Instant::now();
        let mut days = two_days(&h, currency).await;
        while days[1].closing_balance != balances && started.elapsed() < WAIT {
            tokio::time::sleep(Duration::from_millis(250)).await;
            days = two_days(&h, currency).await;
        }
        // Every batch is given three times: wait for the last givings, then look again.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let days = two_days(&h, currency).await;
        let today = &days[1];
        assert_eq!(today.closing_balance, balances, "{code}: {days:?}");
        assert_eq!(today.wallets, open, "{code}: open wallets");
        let moved = days[0].credits - days[0].debits + today.credits - today.debits;
        assert_eq!(moved, balances, "{code}: credits less debits");
    }
}
