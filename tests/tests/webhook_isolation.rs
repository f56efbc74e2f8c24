//! Tenant isolation of webhook delivery (issue 24, item 8): one business whose endpoints hang
//! (accept the connection, never answer) must not hold back another business's events. The real
//! handlers, DynamoDB Local's stream read by the real dispatcher (a [`Pump`]), the deliveries
//! sent by the real deliverer with the real HTTP sender.
//!
//! The delay of the other business's events is measured by `src/bin/isolation_bench.rs`; this
//! test asserts only that every event arrives (within a bound far below what one stalled batch
//! takes on a dispatcher that waits on receivers) and that nothing is dropped.

use std::collections::BTreeSet;
use std::time::Duration;

use integration_tests::webhooks::{Hanging, Pump, Received, Receiver};
use integration_tests::{json, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::{BusinessId, EndpointId, Timestamp};
use shared::ports::WebhookStore;
use shared::webhooks::model::{DeliveryQuery, EventType};

/// The hanging business's endpoints.
const HANGING: usize = 20;
/// Its batches, and credits per batch (each credit an event for each endpoint).
const BATCHES: usize = 4;
const PER_BATCH: usize = 10;
/// The other business's credits, one at a time while the batches flow.
const OTHERS: usize = 10;
/// How long the other business's events may take to arrive after its last credit. On a
/// dispatcher that attempts deliveries itself, the first hanging batch alone holds the stream
/// for PER_BATCH x HANGING / 32 waves of 10 s (70 s).
const WAIT: Duration = Duration::from_secs(30);

async fn register(h: &Harness, url: &str, filter: &[&str]) -> String {
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({"url": url, "filter_types": filter, "description": "isolation"}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn hanging_endpoints_of_one_business_do_not_hold_back_another_business_s_events() {
    let slow = Harness::new().await;
    let other = slow.other_business().await;
    let _pump = Pump::start(slow.calm_service()).await;

    let mut hanging = Vec::new();
    let mut endpoints = Vec::new();
    for _ in 0..HANGING {
        let endpoint = Hanging::start().await;
        endpoints.push(register(&slow, &endpoint.url(), &[]).await);
        hanging.push(endpoint);
    }
    let receiver = Receiver::start().await;
    register(&other, &receiver.url(), &["wallet.topped_up"]).await;
    let other_customer = other.customer().await;
    let mut slow_customers = Vec::new();
    for _ in 0..5 {
        slow_customers.push(slow.customer().await);
    }

    // The slow business's batches flow while the other business credits, one at a time.
    let batches = {
        let slow_customers = slow_customers.clone();
        let slow = slow.without_faults();
        tokio::spawn(async move {
            for b in 0..BATCHES {
                let items: Vec<_> = (0..PER_BATCH)
                    .map(|i| {
                        json!({
                            "customer_id": slow_customers[i % slow_customers.len()],
                            "amount": 1, "currency": "USD", "entry_type": "credit",
                            "idempotency_key": format!("hang-{b}-{i}"),
                        })
                    })
                    .collect();
                let reply = slow
                    .request(Route::CreateLedgerEntriesBatch)
                    .json(json!({ "items": items }))
                    .send()
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    for i in 0..OTHERS {
        // DynamoDB Local may be slow under the load: a 503 is retried with the same key.
        for _ in 0..5 {
            let reply = other
                .entry(
                    &other_customer,
                    json!({"amount": 5, "currency": "USD", "entry_type": "credit", "idempotency_key": format!("other-{i}")}),
                )
                .await;
            if reply.status != StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let mine = |r: &Received| r.json()["data"]["customer_id"] == other_customer.as_str();
    let received = receiver.wait_for(OTHERS, WAIT, mine).await;
    assert_eq!(
        received.len(),
        OTHERS,
        "the other business's events arrive while the hanging endpoints hold their attempts"
    );
    let ids: BTreeSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), OTHERS, "each event once");
    let sequences: BTreeSet<u64> = received
        .iter()
        .map(|r| r.json()["data"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences.len(), OTHERS, "one event per credit");
    batches.await.expect("the batches");

    // Nothing of the slow business is dropped: every event has its delivery to every endpoint
    // recorded, and the hanging endpoints were tried.
    let store = slow.service().store().inner();
    let business = BusinessId::parse(&slow.business_id).unwrap();
    for id in &endpoints {
        let endpoint = EndpointId::parse(id).unwrap();
        let mut recorded = 0;
        for _ in 0..100 {
            let query = DeliveryQuery {
                limit: 1000,
                event_type: Some(EventType::ToppedUp),
                ..DeliveryQuery::default()
            };
            recorded = store
                .list_deliveries(&business, &endpoint, &query)
                .await
                .expect("list deliveries")
                .len();
            if recorded == BATCHES * PER_BATCH {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(recorded, BATCHES * PER_BATCH, "deliveries of {id}");
    }
    assert!(hanging.iter().all(|h| h.connections() > 0));

    // Leave no due deliveries to later tests' sweeps (which serve every business): the slow
    // business's endpoints go, and a sweep marks their deliveries failed without an attempt.
    for id in &endpoints {
        let deleted = slow
            .request(Route::DeleteWebhook)
            .path("webhook_id", id)
            .send()
            .await;
        assert!(deleted.status.is_success(), "{}", deleted.body);
    }
    let sender = integration_tests::webhooks::local_sender();
    let past_every_due = Timestamp::from_unix_ms(Timestamp::now().unix_ms + 3_600_000);
    for _ in 0..20 {
        let swept = slow
            .service()
            .retry_deliveries(&sender, past_every_due, 1000)
            .await
            .expect("the sweep");
        if swept.deliveries == 0 {
            break;
        }
    }
}
