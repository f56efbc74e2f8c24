//! Webhook tenant isolation benchmark (issue 24, item 8), on one DynamoDB Local: one business
//! ("slow") has `BENCH_HANGING` endpoints (default 20) that accept connections and never answer,
//! and posts ledger batches of `BENCH_BATCH` credits (default 100, over 10 customers) every
//! `BENCH_BATCH_EVERY_MS` (default 1000) while the run lasts. Another business ("other") has one
//! healthy receiver (filter `wallet.topped_up`) and makes `BENCH_EVENTS` credits (default 100),
//! one every `BENCH_EVERY_MS` (default 100), each with its own `reference_object_id`.
//!
//! The table's stream is read by a [`Pump`] that calls the real dispatcher, which hands the
//! deliveries to the real deliverer (a task per hand-over, as Lambda's asynchronous invocation);
//! the real HTTP sender with its 10 s timeout.
//!
//! Measured: the delay of each of the other business's events, from the instant its credit's
//! API call returned to the instant the receiver had the whole request; printed as p50, p99 and
//! max. Verified: every one of the other business's events arrived exactly once, and every event
//! of the slow business has its delivery recorded for every endpoint (nothing dropped). Exits 1
//! if the verification fails; asserts no speed.
//!
//! `BENCH_BASELINE=1`: the same load with the slow business's endpoints healthy (receivers that
//! answer 200 at once), to tell what the hanging endpoints add from what the load itself costs.
//!
//! Run with `DYNAMODB_ENDPOINT` set (DynamoDB Local):
//! `cargo run --release -p integration-tests --bin isolation_bench`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::webhooks::{Hanging, Pump, Receiver};
use integration_tests::{json, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::{BusinessId, EndpointId, Timestamp};
use shared::ports::WebhookStore;
use shared::webhooks::model::{DeliveryQuery, EventType};

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}={raw} is not a valid value")),
        Err(_) => default,
    }
}

async fn register(h: &Harness, url: &str, filter: &[&str]) -> String {
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({"url": url, "filter_types": filter, "description": "bench"}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let hanging_count: usize = env_or("BENCH_HANGING", 20);
    let batch_size: usize = env_or("BENCH_BATCH", 100);
    let batch_every = Duration::from_millis(env_or("BENCH_BATCH_EVERY_MS", 1000));
    let events: usize = env_or("BENCH_EVENTS", 100);
    let every = Duration::from_millis(env_or("BENCH_EVERY_MS", 100));
    let timeout = Duration::from_secs(env_or("BENCH_TIMEOUT_SECONDS", 120));
    let baseline = std::env::var("BENCH_BASELINE").is_ok_and(|v| v == "1");

    let slow = Harness::new().await;
    let other = slow.other_business().await;
    let _pump = Pump::start(slow.calm_service()).await;
    let mut hanging = Vec::new();
    let mut healthy = Vec::new();
    let mut endpoints = Vec::new();
    for _ in 0..hanging_count {
        if baseline {
            let endpoint = Receiver::start().await;
            endpoints.push(register(&slow, &endpoint.url(), &[]).await);
            healthy.push(endpoint);
        } else {
            let endpoint = Hanging::start().await;
            endpoints.push(register(&slow, &endpoint.url(), &[]).await);
            hanging.push(endpoint);
        }
    }
    let receiver = Receiver::start().await;
    let other_endpoint = register(&other, &receiver.url(), &["wallet.topped_up"]).await;
    let other_customer = other.customer().await;
    let mut slow_customers = Vec::new();
    for _ in 0..10 {
        slow_customers.push(slow.customer().await);
    }

    // The slow business's batches, until the other business's credits are made.
    let running = Arc::new(AtomicBool::new(true));
    let slow_events = Arc::new(AtomicUsize::new(0));
    let batches = {
        let (running, slow_events) = (running.clone(), slow_events.clone());
        let slow = slow.without_faults();
        let customers = slow_customers.clone();
        tokio::spawn(async move {
            let mut b = 0;
            while running.load(Ordering::Relaxed) {
                let items: Vec<_> = (0..batch_size)
                    .map(|i| {
                        json!({
                            "customer_id": customers[i % customers.len()],
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
                slow_events.fetch_add(batch_size, Ordering::Relaxed);
                b += 1;
                tokio::time::sleep(batch_every).await;
            }
        })
    };

    let mut committed: HashMap<String, (Instant, u64)> = HashMap::new();
    let started = Instant::now();
    for i in 0..events {
        let reference = format!("other-{i}");
        let reply = other
            .entry(
                &other_customer,
                json!({"amount": 1, "currency": "USD", "entry_type": "credit", "reference_object_id": reference}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        committed.insert(reference, (Instant::now(), Timestamp::now().unix_ms));
        tokio::time::sleep(every).await;
    }
    running.store(false, Ordering::Relaxed);
    batches.await.expect("the slow business's batches");
    let credits_took = started.elapsed();

    let mine = |r: &integration_tests::webhooks::Received| {
        r.json()["data"]["customer_id"] == other_customer.as_str()
    };
    let received = receiver.wait_for(events, timeout, mine).await;
    let mut delays = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in &received {
        let reference = r.json()["data"]["ledger_entry"]["reference_object_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        *seen.entry(reference.clone()).or_default() += 1;
        if let Some((at, _)) = committed.get(&reference) {
            delays.push(r.at.saturating_duration_since(*at).as_secs_f64() * 1000.0);
        }
    }
    delays.sort_by(|a, b| a.total_cmp(b));
    // Where the time goes: commit -> delivery recorded by the dispatcher (the stream's and the
    // dispatcher's share), recorded -> arrival (the deliverer's).
    let other_business = BusinessId::parse(&other.business_id).unwrap();
    let other_endpoint = EndpointId::parse(&other_endpoint).unwrap();
    let recorded_at: HashMap<String, u64> = other
        .service()
        .store()
        .inner()
        .list_deliveries(
            &other_business,
            &other_endpoint,
            &DeliveryQuery {
                limit: 10_000,
                ..DeliveryQuery::default()
            },
        )
        .await
        .expect("list deliveries")
        .into_iter()
        .map(|d| (d.id.to_string(), d.created_at.unix_ms))
        .collect();
    let (mut to_record, mut to_arrive) = (Vec::new(), Vec::new());
    for r in &received {
        let reference = r.json()["data"]["ledger_entry"]["reference_object_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let (Some((at, at_ms)), Some(recorded)) = (
            committed.get(&reference),
            recorded_at.get(r.header("webhook-id")),
        ) else {
            continue;
        };
        let arrived_ms = *at_ms as f64 + r.at.saturating_duration_since(*at).as_secs_f64() * 1000.0;
        to_record.push(*recorded as f64 - *at_ms as f64);
        to_arrive.push(arrived_ms - *recorded as f64);
    }
    to_record.sort_by(|a, b| a.total_cmp(b));
    to_arrive.sort_by(|a, b| a.total_cmp(b));
    let slow_total = slow_events.load(Ordering::Relaxed);
    println!(
        "isolation: {hanging_count} {} endpoints, {slow_total} slow-business events in batches of {batch_size} \
         ({} deliveries), {events} other-business events over {:.1} s",
        if baseline { "healthy (baseline)" } else { "hanging" },
        slow_total * hanging_count,
        credits_took.as_secs_f64()
    );
    println!(
        "other business's event delay (commit -> receiver): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} of {events} arrived)",
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        delays.last().copied().unwrap_or(f64::NAN),
        delays.len(),
    );

    println!(
        "  commit -> recorded by the dispatcher: p50 {:.0} ms, p99 {:.0} ms; recorded -> receiver: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&to_record, 50.0),
        percentile(&to_record, 99.0),
        percentile(&to_arrive, 50.0),
        percentile(&to_arrive, 99.0),
    );
    let mut ok = received.len() == events && seen.values().all(|&n| n == 1);
    if !ok {
        eprintln!(
            "FAILED: {} of the other business's events arrived, {} repeated",
            received.len(),
            seen.values().filter(|&&n| n > 1).count()
        );
    }
    let store = slow.service().store().inner();
    let business = BusinessId::parse(&slow.business_id).unwrap();
    let query = DeliveryQuery {
        limit: u32::try_from(slow_total + 10).unwrap_or(u32::MAX),
        event_type: Some(EventType::ToppedUp),
        ..DeliveryQuery::default()
    };
    let mut recorded = 0;
    for _ in 0..300 {
        recorded = 0;
        for id in &endpoints {
            let endpoint = EndpointId::parse(id).unwrap();
            recorded += store
                .list_deliveries(&business, &endpoint, &query)
                .await
                .expect("list deliveries")
                .len();
        }
        if recorded == slow_total * hanging_count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "slow business: {recorded} of {} deliveries recorded; {} connections to its hanging endpoints",
        slow_total * hanging_count,
        hanging.iter().map(Hanging::connections).sum::<usize>()
    );
    if recorded != slow_total * hanging_count {
        eprintln!("FAILED: deliveries of the slow business were dropped");
        ok = false;
    }
    std::process::exit(i32::from(!ok));
}
