//! Webhooks end to end: the real handlers, DynamoDB Local's stream read by the real dispatcher,
//! the real HTTP sender, and a real HTTP receiver started here.

use std::collections::BTreeSet;
use std::time::Duration;

use integration_tests::webhooks::{local_sender, Pump, Received, Receiver};
use integration_tests::{assert_error, assert_only, json, race, successes, Harness, Reply, Route};
use lambda_http::http::StatusCode;
use shared::kernel::Timestamp;

const WAIT: Duration = Duration::from_secs(20);

/// The tests here run one at a time: the retry sweep serves every business, and a sweep run at
/// a future instant (to skip a retry's wait) would claim another test's deliveries.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn register(h: &Harness, url: &str, filter: &[&str]) -> (String, String) {
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({"url": url, "filter_types": filter, "description": "test"}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = h
        .request(Route::GetWebhookSecret)
        .path("webhook_id", &id)
        .send()
        .await
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, secret)
}

fn verify(secret: &str, received: &Received) -> Result<(), String> {
    let mut headers = lambda_http::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, received.header(name).parse().unwrap());
    }
    standardwebhooks::Webhook::new(secret)
        .map_err(|e| e.to_string())?
        .verify(received.body.as_bytes(), &headers)
        .map_err(|e| e.to_string())
}

fn of_type<'a>(event_type: &'a str) -> impl Fn(&Received) -> bool + 'a {
    move |r| r.event_type() == event_type
}

async fn sweep_at(h: &Harness, now: Timestamp) {
    h.service()
        .retry_deliveries(&local_sender(), now, 1000)
        .await
        .expect("the retry sweep");
}

fn later(seconds: u64) -> Timestamp {
    Timestamp::from_unix_ms(Timestamp::now().unix_ms + seconds * 1000)
}

#[tokio::test]
async fn every_event_type_arrives_once_per_change_signed_with_the_wallet_after_it() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    let (_, secret) = register(&h, &receiver.url(), &[]).await;

    let customer = h.customer().await;
    h.credit(&customer, 1000).await;
    let debit = h
        .entry(
            &customer,
            json!({"amount": 100, "currency": "USD", "entry_type": "debit"}),
        )
        .await;
    assert_eq!(debit.status, StatusCode::OK);
    let hold = h.hold(&customer, 200).await.body;
    h.capture(&customer, hold["id"].as_str().unwrap(), Some(50))
        .await;
    let released = h.hold(&customer, 10).await.body;
    h.release(&customer, released["id"].as_str().unwrap()).await;
    let lapsing = h.hold(&customer, 5).await.body;
    let expires_at = h.get_hold(&customer, &lapsing).await["expires_at"].clone();
    assert!(expires_at.is_string());
    h.service()
        .expire_holds(later(86_400 * 31), 10_000)
        .await
        .unwrap();
    h.close_wallet(&customer, "INR").await;

    let expected = [
        ("wallet.created", 2), // USD and INR
        ("wallet.topped_up", 1),
        ("wallet.payment_made", 2), // the debit and the capture
        ("wallet.hold.created", 3),
        ("wallet.hold.captured", 1),
        ("wallet.hold.released", 1),
        ("wallet.hold.expired", 1),
        ("wallet.closed", 1),
    ];
    let total: usize = expected.iter().map(|(_, n)| n).sum();
    let mine = |r: &Received| r.json()["data"]["customer_id"] == customer.as_str();
    let received = receiver.wait_for(total, WAIT, mine).await;
    // Other tests' expiries can reach this customer's hold only through this customer's events.
    for (event_type, count) in expected {
        let of_this: Vec<&Received> = received
            .iter()
            .filter(|r| r.event_type() == event_type)
            .collect();
        assert_eq!(of_this.len(), count, "{event_type}: {received:?}");
    }
    assert_eq!(received.len(), total, "no event twice: {received:?}");
    let ids: BTreeSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), total, "one webhook-id per event");
    for r in &received {
        verify(&secret, r).unwrap_or_else(|e| panic!("{}: {e}", r.event_type()));
        let event = r.json();
        assert_eq!(event["business_id"], h.business_id.as_str());
        assert!(event["timestamp"].is_string());
        assert!(event["data"]["sequence"].is_u64());
        assert!(event["data"]["wallet"]["balance"].is_i64());
    }
    let topped_up = received
        .iter()
        .find(|r| r.event_type() == "wallet.topped_up")
        .unwrap()
        .json();
    assert_eq!(topped_up["data"]["ledger_entry"]["amount"], 1000);
    assert_eq!(topped_up["data"]["wallet"]["balance"], 1000);
    assert_eq!(topped_up["data"]["currency"], "USD");
    let captured = received
        .iter()
        .find(|r| r.event_type() == "wallet.hold.captured")
        .unwrap()
        .json();
    assert_eq!(captured["data"]["hold"]["captured_amount"], 50);
    assert_eq!(captured["data"]["wallet"]["balance"], 850);

    let mut tampered = received[0].clone();
    tampered.body = tampered.body.replace("wallet", "wallex");
    assert!(verify(&secret, &tampered).is_err(), "a tampered body fails");
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_schedule_and_every_attempt_is_logged() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    receiver.answer_first(&[500, 500]);
    let (webhook, _) = register(&h, &receiver.url(), &["wallet.topped_up"]).await;
    let customer = h.customer().await;
    h.credit(&customer, 7).await;

    let first = receiver
        .wait_for(1, WAIT, of_type("wallet.topped_up"))
        .await;
    assert_eq!(first.len(), 1);
    let event_id = first[0].header("webhook-id").to_owned();
    // The dispatcher's attempt failed; the next is due 5 s later (±10 %), the one after 5 min.
    // (The sweep serves every business: what it did is read from this receiver.)
    let topped_up = |r: &Received| r.event_type() == "wallet.topped_up";
    tokio::time::sleep(Duration::from_millis(300)).await;
    sweep_at(&h, Timestamp::now()).await;
    assert_eq!(receiver.received().len(), 1, "not due yet");
    sweep_at(&h, later(6)).await;
    assert_eq!(receiver.wait_for(2, WAIT, topped_up).await.len(), 2);
    sweep_at(&h, later(6)).await;
    assert_eq!(receiver.received().len(), 2, "the next is 5 min later");
    sweep_at(&h, later(6 + 331)).await;
    let all = receiver.wait_for(3, WAIT, topped_up).await;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|r| r.header("webhook-id") == event_id));
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    sweep_at(&h, later(86_400 * 4)).await;
    assert_eq!(receiver.received().len(), 3, "succeeded: no more");

    let delivery = h
        .request(Route::GetWebhookDelivery)
        .path("webhook_id", &webhook)
        .path("delivery_id", &event_id)
        .send()
        .await;
    assert_eq!(delivery.status, StatusCode::OK, "{}", delivery.body);
    assert_eq!(delivery.body["status"], "succeeded");
    assert_eq!(delivery.body["attempt_count"], 3);
    let codes: Vec<i64> = delivery.body["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    assert_eq!(delivery.body["attempts"][0]["response"], "ok");
    assert_eq!(delivery.body["payload"]["type"], "wallet.topped_up");

    let list = |status: &'static str| {
        h.request(Route::ListWebhookDeliveries)
            .path("webhook_id", &webhook)
            .query("status", status)
            .send()
    };
    let succeeded = list("succeeded").await;
    assert_eq!(succeeded.body["data"][0]["id"], event_id.as_str());
    assert!(succeeded.body["data"][0].get("attempts").is_none());
    assert_eq!(list("failed").await.body["data"], json!([]));

    let resent = h
        .request(Route::ResendWebhookDelivery)
        .path("webhook_id", &webhook)
        .path("delivery_id", &event_id)
        .send()
        .await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.body);
    assert_eq!(resent.body["attempt_count"], 4);
    let again = receiver.received();
    assert_eq!(again.len(), 4);
    assert_eq!(again[3].header("webhook-id"), event_id);
}

#[tokio::test]
async fn a_receiver_that_is_down_at_first_gets_the_event_once_it_is_up() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let port = Receiver::free_port().await;
    let url = format!("http://127.0.0.1:{port}/hooks");
    let (webhook, secret) = register(&h, &url, &["wallet.topped_up"]).await;
    let customer = h.customer().await;
    h.credit(&customer, 9).await;

    // The first attempt meets a refused connection and is logged as such.
    let mut logged = Reply {
        status: StatusCode::OK,
        body: json!(null),
    };
    for _ in 0..200 {
        logged = h
            .request(Route::ListWebhookDeliveries)
            .path("webhook_id", &webhook)
            .query("status", "pending")
            .send()
            .await;
        if logged.body["data"][0]["attempt_count"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let event_id = logged.body["data"][0]["id"].as_str().unwrap().to_owned();
    let receiver = Receiver::start_on(port).await;
    sweep_at(&h, later(6)).await;
    let received = receiver
        .wait_for(1, WAIT, of_type("wallet.topped_up"))
        .await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("webhook-id"), event_id);
    verify(&secret, &received[0]).unwrap();
    let delivery = h
        .request(Route::GetWebhookDelivery)
        .path("webhook_id", &webhook)
        .path("delivery_id", &event_id)
        .send()
        .await;
    let first = &delivery.body["attempts"][0];
    assert!(first["status_code"].is_null());
    assert!(
        first["error"].as_str().unwrap().contains("refused"),
        "{first}"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_credits_give_a_hundred_events_with_distinct_sequences() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    let (webhook, _) = register(&h, &receiver.url(), &["wallet.topped_up"]).await;
    let customer = h.customer().await;
    let replies = integration_tests::race(100, |i| {
        let (h, customer) = (h.clone(), customer.clone());
        async move {
            h.entry(
                &customer,
                json!({"amount": 1, "currency": "USD", "entry_type": "credit",
                       "idempotency_key": format!("c-{i}")}),
            )
            .await
        }
    })
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    let received = receiver
        .wait_for(100, WAIT, of_type("wallet.topped_up"))
        .await;
    let ids: BTreeSet<String> = received
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    let sequences: BTreeSet<u64> = received
        .iter()
        .map(|r| r.json()["data"]["sequence"].as_u64().unwrap())
        .collect();
    if ids.len() < 100 {
        let pending = h
            .request(Route::ListWebhookDeliveries)
            .path("webhook_id", &webhook)
            .query("status", "pending")
            .send()
            .await;
        for d in pending.body["data"].as_array().unwrap() {
            let one = h
                .request(Route::GetWebhookDelivery)
                .path("webhook_id", &webhook)
                .path("delivery_id", d["id"].as_str().unwrap())
                .send()
                .await;
            eprintln!("pending: {}", one.body["attempts"]);
        }
    }
    assert_eq!(ids.len(), 100, "one event per credit");
    assert_eq!(sequences.len(), 100, "distinct sequences");
    // Repeats could only be retries of one webhook-id; none happened here.
    assert_eq!(received.len(), 100);
    let balances: BTreeSet<i64> = received
        .iter()
        .map(|r| r.json()["data"]["wallet"]["balance"].as_i64().unwrap())
        .collect();
    assert_eq!(
        balances,
        (1..=100).collect(),
        "each event shows the wallet after its credit"
    );
}

#[tokio::test]
async fn a_function_killed_between_commit_and_answer_still_has_its_event_delivered() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    register(&h, &receiver.url(), &["wallet.topped_up"]).await;
    let customer = h.customer().await;
    let dying = h.dying_after_commit();
    let answer = tokio::time::timeout(
        Duration::from_secs(2),
        dying.entry(
            &customer,
            json!({"amount": 42, "currency": "USD", "entry_type": "credit"}),
        ),
    )
    .await;
    assert!(answer.is_err(), "the function never answered");
    assert_eq!(
        h.balance(&customer, "USD").await,
        42,
        "the credit committed"
    );
    let received = receiver
        .wait_for(1, WAIT, of_type("wallet.topped_up"))
        .await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["data"]["ledger_entry"]["amount"], 42);
}

#[tokio::test]
async fn filters_and_disabled_endpoints_receive_only_what_they_asked_for() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let payments = Receiver::start().await;
    let disabled = Receiver::start().await;
    let everything = Receiver::start().await;
    register(&h, &payments.url(), &["wallet.payment_made"]).await;
    let (off, _) = register(&h, &disabled.url(), &[]).await;
    register(&h, &everything.url(), &[]).await;
    let patched = h
        .request(Route::UpdateWebhook)
        .path("webhook_id", &off)
        .json(json!({"disabled": true}))
        .send()
        .await;
    assert_eq!(patched.body["disabled"], true);
    let customer = h.customer().await;
    h.credit(&customer, 5).await;
    h.entry(
        &customer,
        json!({"amount": 5, "currency": "USD", "entry_type": "debit"}),
    )
    .await;
    everything
        .wait_for(1, WAIT, of_type("wallet.payment_made"))
        .await;
    let paid = payments
        .wait_for(1, WAIT, of_type("wallet.payment_made"))
        .await;
    assert_eq!(paid.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        payments
            .received()
            .iter()
            .all(|r| r.event_type() == "wallet.payment_made"),
        "the filter holds"
    );
    assert!(
        disabled.received().is_empty(),
        "a disabled endpoint receives nothing"
    );
}

#[tokio::test]
async fn endpoints_are_the_business_s_own_and_bad_input_changes_nothing() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let other = h.other_business().await;
    let (id, _) = register(&h, "https://example.com/hooks", &[]).await;
    for route in [
        Route::GetWebhook,
        Route::GetWebhookSecret,
        Route::GetWebhookHeaders,
        Route::ListWebhookDeliveries,
    ] {
        let reply = other.request(route).path("webhook_id", &id).send().await;
        assert_error(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
    }
    let reply = other
        .request(Route::UpdateWebhook)
        .path("webhook_id", &id)
        .json(json!({"disabled": true}))
        .send()
        .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
    let reply = other
        .request(Route::DeleteWebhook)
        .path("webhook_id", &id)
        .send()
        .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
    let listed = other.request(Route::ListWebhooks).send().await;
    assert_eq!(listed.body["data"], json!([]));
    let reply = h.request(Route::ListWebhooks).without_key().send().await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");

    let many: serde_json::Map<String, serde_json::Value> =
        (0..21).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let big: serde_json::Map<String, serde_json::Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (body, code) in [
        (json!({"url": "not a url"}), "invalid_url"),
        (
            json!({"url": "https://example.com", "filter_types": ["nope.nope"]}),
            "unknown_event_type",
        ),
        (
            json!({"url": "https://example.com", "headers": many}),
            "too_many_headers",
        ),
        (
            json!({"url": "https://example.com", "metadata": big}),
            "metadata_too_large",
        ),
        (
            json!({"url": "https://example.com", "rate_limit": 0}),
            "invalid_rate_limit",
        ),
    ] {
        let reply = h.request(Route::CreateWebhook).json(body).send().await;
        assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let listed = h.request(Route::ListWebhooks).send().await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );

    let deleted = h
        .request(Route::DeleteWebhook)
        .path("webhook_id", &id)
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = h
        .request(Route::GetWebhook)
        .path("webhook_id", &id)
        .send()
        .await;
    assert_error(&gone, StatusCode::NOT_FOUND, "webhook_not_found");
}

#[tokio::test]
async fn the_endpoint_list_pages_with_an_iterator_and_an_idempotency_key_creates_once() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    for i in 0..3 {
        register(&h, &format!("https://example.com/{i}"), &[]).await;
    }
    let first = h
        .request(Route::ListWebhooks)
        .query("limit", "2")
        .send()
        .await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["done"], false);
    let iterator = first.body["iterator"].as_str().unwrap().to_owned();
    let second = h
        .request(Route::ListWebhooks)
        .query("limit", "2")
        .query("iterator", &iterator)
        .send()
        .await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["done"], true);
    assert!(second.body["iterator"].is_null());

    let body = json!({"url": "https://example.com/once", "idempotency_key": "wh-1"});
    let a = h
        .request(Route::CreateWebhook)
        .json(body.clone())
        .send()
        .await;
    let b = h.request(Route::CreateWebhook).json(body).send().await;
    assert_eq!(a.body["id"], b.body["id"]);
    let all = h
        .request(Route::ListWebhooks)
        .query("limit", "100")
        .send()
        .await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 4);
}

/// A batch's entries each get their event, with the balance right after that entry; the entries
/// of one transaction share the wallet set's sequence.
#[tokio::test]
async fn each_entry_of_a_batch_gets_its_event_with_its_own_balance() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    register(&h, &receiver.url(), &["wallet.payment_made"]).await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let items: Vec<serde_json::Value> = (0..60)
        .map(|i| json!({"customer_id": customer, "amount": 1, "currency": "USD", "entry_type": "debit", "idempotency_key": format!("b-{i}")}))
        .collect();
    let reply = h
        .request(Route::CreateLedgerEntriesBatch)
        .json(json!({ "items": items }))
        .send()
        .await;
    assert_eq!(reply.body["applied"], 60, "{}", reply.body);
    let received = receiver
        .wait_for(60, WAIT, of_type("wallet.payment_made"))
        .await;
    assert_eq!(received.len(), 60, "one event per entry");
    let balances: BTreeSet<i64> = received
        .iter()
        .map(|r| r.json()["data"]["wallet"]["balance"].as_i64().unwrap())
        .collect();
    assert_eq!(
        balances,
        (40..100).collect(),
        "each shows the balance after its entry"
    );
    let sequences: BTreeSet<u64> = received
        .iter()
        .map(|r| r.json()["data"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences.len(), 2, "two transactions (49 + 11 entries)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_five_concurrent_creates_make_exactly_twenty_endpoints_and_a_delete_frees_a_place() {
    let h = Harness::new().await;
    let replies = race(25, |i| {
        let h = h.clone();
        async move {
            h.request(Route::CreateWebhook)
                .json(json!({"url": format!("https://example.com/hook/{i}")}))
                .send()
                .await
        }
    })
    .await;
    assert_only(
        &replies,
        &[(StatusCode::UNPROCESSABLE_ENTITY, "too_many_endpoints")],
    );
    assert_eq!(successes(&replies).len(), 20, "exactly twenty creates win");
    let listed = h
        .request(Route::ListWebhooks)
        .query("limit", "100")
        .send()
        .await;
    let data = listed.body["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 20, "exactly twenty endpoints exist");

    let refused = h
        .request(Route::CreateWebhook)
        .json(json!({"url": "https://example.com/one-more"}))
        .send()
        .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_endpoints",
    );
    let deleted = h
        .request(Route::DeleteWebhook)
        .path("webhook_id", data[0]["id"].as_str().unwrap())
        .send()
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = h
        .request(Route::CreateWebhook)
        .json(json!({"url": "https://example.com/one-more"}))
        .send()
        .await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a delete frees a place: {}",
        again.body
    );
}

#[tokio::test]
async fn sensitive_headers_are_answered_without_their_value_and_still_sent() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({
            "url": receiver.url(),
            "filter_types": ["wallet.topped_up"],
            "headers": {"Authorization": "Bearer s3cr3t", "x-api-key": "k-123", "x-team": "billing"},
        }))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(
        !created.body.to_string().contains("s3cr3t"),
        "{}",
        created.body
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let updated = h
        .request(Route::UpdateWebhookHeaders)
        .path("webhook_id", &id)
        .json(json!({"headers": {"x-session-token": "t-9"}}))
        .send()
        .await;
    assert_eq!(updated.status, StatusCode::NO_CONTENT, "{}", updated.body);
    let shown = h
        .request(Route::GetWebhookHeaders)
        .path("webhook_id", &id)
        .send()
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(
        shown.body,
        json!({
            "headers": {"x-team": "billing"},
            "sensitive": ["authorization", "x-api-key", "x-session-token"],
        })
    );

    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let mine = |r: &Received| r.json()["data"]["customer_id"] == customer.as_str();
    let received = receiver.wait_for(1, WAIT, mine).await;
    assert_eq!(received[0].header("authorization"), "Bearer s3cr3t");
    assert_eq!(received[0].header("x-api-key"), "k-123");
    assert_eq!(received[0].header("x-session-token"), "t-9");
    assert_eq!(received[0].header("x-team"), "billing");
}

#[tokio::test]
async fn a_batch_that_goes_low_and_back_in_one_transaction_raises_the_alert_and_the_recovery() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    register(
        &h,
        &receiver.url(),
        &["wallet.balance_low", "wallet.balance_recovered"],
    )
    .await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let settings = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .json(json!({"currency": "USD", "low_balance_threshold": 50}))
        .send()
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    let items = json!([
        {"customer_id": customer, "amount": 80, "currency": "USD", "entry_type": "debit", "idempotency_key": "down"},
        {"customer_id": customer, "amount": 80, "currency": "USD", "entry_type": "credit", "idempotency_key": "up"},
    ]);
    let reply = h
        .request(Route::CreateLedgerEntriesBatch)
        .json(json!({ "items": items }))
        .send()
        .await;
    assert_eq!(reply.body["applied"], 2, "{}", reply.body);
    let mine = |r: &Received| r.json()["data"]["customer_id"] == customer.as_str();
    let received = receiver.wait_for(2, WAIT, mine).await;
    let mut types: Vec<String> = received.iter().map(Received::event_type).collect();
    types.sort();
    assert_eq!(types, ["wallet.balance_low", "wallet.balance_recovered"]);
}

#[tokio::test]
async fn an_endpoint_s_rate_limit_spaces_its_deliveries_and_drops_none() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({"url": receiver.url(), "filter_types": ["wallet.topped_up"], "rate_limit": 2}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let customer = h.customer().await;
    for _ in 0..6 {
        h.credit(&customer, 10).await;
    }
    let mine = |r: &Received| r.json()["data"]["customer_id"] == customer.as_str();
    let received = receiver.wait_for(6, WAIT, mine).await;
    assert_eq!(received.len(), 6, "none is dropped");
    let mut at: Vec<_> = received.iter().map(|r| r.at).collect();
    at.sort();
    // Two a second (each second of the clock): any five in a row span two seconds at least,
    // so more than one second less the delivery's jitter.
    for i in 0..at.len() - 4 {
        let span = at[i + 4] - at[i];
        assert!(
            span > Duration::from_millis(800),
            "five deliveries within {span:?}: {at:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_taking_an_endpoint_s_slots_at_once_get_exactly_its_rate_limit() {
    use shared::ports::WebhookStore;
    let h = Harness::new().await;
    let other = h.instance().await;
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({"url": "https://example.com/hook", "rate_limit": 5}))
        .send()
        .await;
    let endpoint = shared::kernel::EndpointId::parse(created.body["id"].as_str().unwrap()).unwrap();
    let business_id = shared::kernel::BusinessId::parse(&h.business_id).unwrap();
    let second = Timestamp::now().unix_ms / 1_000;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let (app, endpoint) = (
                if i % 2 == 0 {
                    h.calm_service()
                } else {
                    other.calm_service()
                },
                endpoint.clone(),
            );
            let business_id = business_id.clone();
            tokio::spawn(async move {
                app.store()
                    .take_delivery_slot(&business_id, &endpoint, second, 5)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for task in tasks {
        taken += usize::from(task.await.unwrap());
    }
    assert_eq!(
        taken, 5,
        "exactly the limit in one second, across instances"
    );
    let next = h
        .calm_service()
        .store()
        .take_delivery_slot(&business_id, &endpoint, second + 1, 5)
        .await
        .unwrap();
    assert!(next, "the next second has its own slots");
}
