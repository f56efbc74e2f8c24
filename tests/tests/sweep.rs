//! The sweep's fairness on DynamoDB Local: the expiry index is read from every shard, from both
//! ends of its due order, and a run is shared between businesses, so one business's backlog
//! never delays another's due hold by more than one run.
//!
//! The only test binary besides `holds.rs` that makes short-lived holds; its one test sweeps
//! only what is due by now.

use std::time::Duration;

use integration_tests::{json, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::Timestamp;

async fn hold_until(h: &Harness, customer: &str, at: Timestamp) -> String {
    let made = h
        .request(Route::CreateHold)
        .customer(customer)
        .json(json!({"amount": 1, "currency": "USD", "expires_at": at.rfc3339()}))
        .send()
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    made.body["id"].as_str().unwrap().to_owned()
}

/// Business A has 200 holds due before business B's one (some 25 in each of the index's 8
/// shards); a run takes 8. Before, the run read shard 0 only, A's holds first, and B's hold
/// waited for A's whole backlog (25 runs).
#[tokio::test]
async fn one_business_backlog_does_not_delay_another_business_due_hold_by_more_than_one_run() {
    let a = Harness::new().await;
    let b = a.other_business().await;
    let backlog_due = Timestamp::from_unix_ms(Timestamp::now().unix_ms + 30_000);
    let mut makers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let a = a.clone();
        makers.spawn(async move {
            let customer = a.customer().await;
            a.credit(&customer, 1_000).await;
            for _ in 0..25 {
                hold_until(&a, &customer, backlog_due).await;
            }
            customer
        });
    }
    let a_customers = makers.join_all().await;
    let b_customer = b.customer().await;
    b.credit(&b_customer, 10).await;
    let b_due = Timestamp::from_unix_ms(backlog_due.unix_ms + 500);
    assert!(
        Timestamp::now() < backlog_due,
        "the holds were made in time"
    );
    let b_hold = hold_until(&b, &b_customer, b_due).await;
    let wait = b_due.unix_ms + 100 - Timestamp::now().unix_ms;
    tokio::time::sleep(Duration::from_millis(wait)).await;

    let expired = a.expire_holds(Timestamp::now(), 8).await.expect("sweep");
    assert_eq!(expired, 8);
    let read = b
        .request(Route::GetHold)
        .customer(&b_customer)
        .path("hold_id", &b_hold)
        .send()
        .await;
    assert_eq!(read.body["status"], "expired", "{}", read.body);
    let mut a_pending = 0;
    for customer in &a_customers {
        let listed = a
            .request(Route::ListHolds)
            .customer(customer)
            .query("status", "pending")
            .query("page_size", "100")
            .send()
            .await;
        a_pending += listed.body["items"].as_array().unwrap().len();
    }
    // A takes the rest of the run (less any share of other tests' due holds left in the table).
    assert!(
        (193..200).contains(&a_pending),
        "{a_pending} of A's holds pending"
    );
}
