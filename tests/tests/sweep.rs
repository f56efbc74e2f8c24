//! The sweep's fairness on DynamoDB Local: the expiry index is read from every shard, from both
//! ends of its due order, and a run is shared between businesses, so one business's backlog
//! never delays another's due hold by more than one run.
//!
//! The only test binary besides `holds.rs` that makes short-lived holds; its tests sweep only
//! what is due by now, one at a time.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{json, Harness, Route, TEST_TABLE};
use lambda_http::http::StatusCode;
use shared::adapters::dynamo::keys::{hold_pk, hold_sk};
use shared::adapters::stripe::StripeGateway;
use shared::holds::model::chunk_of_hold;
use shared::kernel::{BusinessId, CustomerId, HoldId, Timestamp};

/// One sweep at a time: a run takes every business's due holds.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _serial = SERIAL.lock().await;
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

    let far = tokio::time::Instant::now() + Duration::from_secs(600);
    let run = a.service().expire_holds_within(Timestamp::now(), 8, far);
    let expired = run.await.expect("sweep").done;
    // (The table is shared: other tests' due holds may take a share of the run.)
    assert!((1..=8).contains(&expired), "{expired} expired");
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

async fn hold_status(h: &Harness, customer: &str, hold: &str) -> String {
    let read = h
        .request(Route::GetHold)
        .customer(customer)
        .path("hold_id", hold)
        .send()
        .await;
    read.body["status"].as_str().unwrap_or_default().to_owned()
}

/// One due hold's stored item cannot be decoded (as an item of a bad or foreign version would
/// be): the run still expires the other due holds, and succeeds. Before, the hold's error
/// ended the run, and every run after it, for every business.
#[tokio::test]
async fn a_hold_that_cannot_be_read_does_not_stop_the_run() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let due = Timestamp::from_unix_ms(Timestamp::now().unix_ms + 3_000);
    let bad = hold_until(&h, &customer, due).await;
    let mut good = Vec::new();
    for _ in 0..5 {
        good.push(hold_until(&h, &customer, due).await);
    }
    let bad_id = HoldId::parse(&bad).unwrap();
    let pk = hold_pk(
        &BusinessId::parse(&h.business_id).unwrap(),
        &CustomerId::parse(&customer).unwrap(),
        chunk_of_hold(&bad_id),
    );
    let key = [
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(hold_sk(&bad_id))),
    ];
    h.dynamodb_client()
        .update_item()
        .table_name(TEST_TABLE)
        .set_key(Some(key.clone().into()))
        .update_expression("SET #doc = :bad")
        .expression_attribute_names("#doc", "doc")
        .expression_attribute_values(":bad", AttributeValue::S("{not a hold".into()))
        .send()
        .await
        .unwrap();
    let wait = due.unix_ms + 100 - Timestamp::now().unix_ms;
    tokio::time::sleep(Duration::from_millis(wait)).await;

    let swept = h
        .service()
        .sweep_top_ups_and_holds(
            None::<&StripeGateway>,
            Timestamp::now(),
            100,
            Duration::from_secs(60),
        )
        .await;
    // Not left in the shared table's index for later runs (strict sweeps of other tests).
    h.dynamodb_client()
        .delete_item()
        .table_name(TEST_TABLE)
        .set_key(Some(key.into()))
        .send()
        .await
        .unwrap();
    let report = swept.expect("one hold's failure does not fail the run");
    // (At least: the table is shared, and may hold another run's unreadable hold.)
    assert!(report.failed >= 1, "the failure is counted: {report:?}");
    assert!(report.holds_expired >= good.len(), "{report:?}");
    for hold in &good {
        assert_eq!(hold_status(&h, &customer, hold).await, "expired");
    }
}
