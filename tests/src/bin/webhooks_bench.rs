//! Webhook delivery benchmark, on one DynamoDB Local: credits made through the real handler, the
//! table's stream read by a [`Pump`] (from its latest position) that calls the real dispatcher,
//! the real HTTP sender, and a real HTTP [`Receiver`] on 127.0.0.1 registered as the business's
//! one endpoint (filter `wallet.topped_up`).
//!
//! 1. **Latency**, commit to receiver: `BENCH_EVENTS` credits one at a time, each waited for
//!    until its event arrived before the next: from the instant the API call returned (the commit)
//!    to the instant the receiver had the whole request of the credit's event. The API answers
//!    with the wallet, not the entry: each credit carries its own `reference_object_id`, and its
//!    event is the one whose `data.ledger_entry.reference_object_id` is that. An idle pipeline:
//!    it includes the pump's polling of the stream (every 50 ms when idle) and DynamoDB Local's
//!    stream latency.
//! 2. **Throughput**: `BENCH_BURST` credits as fast as 16 writers can make them (each its own
//!    service instance, one request at a time, as Lambda), spread over 50 customers, with the pump
//!    running: the rate the API committed them, and the rate events were delivered from the first
//!    commit to the last delivery. The dispatcher keeps up if delivered/s ≈ committed/s.
//! 3. **Verification**: every credit's event (the warm-up's included) arrived exactly once, with
//!    its own `webhook-id` and its own `data.ledger_entry.id`.
//!
//! A benchmark, not a timed test: it asserts no speed; it exits 1 only if the verification fails.
//!
//! Settings (environment): `BENCH_EVENTS` (default 200), `BENCH_BURST` (default 1000),
//! `BENCH_WARMUP` (sequential credits before the latency run, not reported; default 20),
//! `BENCH_TIMEOUT_SECONDS` (how long to wait for deliveries, per event of the latency run and for
//! the whole burst; default 120).
//!
//! Run: `./infra/bench.sh webhooks` (starts DynamoDB Local, builds with `--release`), or with
//! `DYNAMODB_ENDPOINT` set: `cargo run --release -p integration-tests --bin webhooks_bench`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::webhooks::{Pump, Receiver};
use integration_tests::{json, Harness, Route};
use lambda_http::http::StatusCode;

/// The one event type the endpoint listens to.
const EVENT_TYPE: &str = "wallet.topped_up";
/// Concurrent writers of the burst.
const WRITERS: usize = 16;
/// Customers the burst's credits are spread over (credit `i` goes to customer `i % CUSTOMERS`).
const CUSTOMERS: usize = 50;
/// Waited after the last expected event, to see any duplicate arrive.
const SETTLE: Duration = Duration::from_secs(2);

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}={raw} is not a valid value")),
        Err(_) => default,
    }
}

/// One event of this business's as the receiver got it.
struct Arrival {
    at: Instant,
    webhook_id: String,
}

/// The receiver's requests, indexed by the credit of their event (its ledger entry's
/// `reference_object_id`); parses each request once.
struct Tracker {
    business_id: String,
    /// Requests of the receiver looked at so far.
    seen: usize,
    by_credit: HashMap<String, Vec<Arrival>>,
    /// The `data.ledger_entry.id` of every event in `by_credit`.
    entry_ids: HashSet<String>,
    /// Requests that are not a `wallet.topped_up` of this business with a ledger entry.
    other: usize,
}

impl Tracker {
    fn new(business_id: &str) -> Tracker {
        Tracker {
            business_id: business_id.to_owned(),
            seen: 0,
            by_credit: HashMap::new(),
            entry_ids: HashSet::new(),
            other: 0,
        }
    }

    /// Takes in the requests that arrived since the last call.
    fn update(&mut self, receiver: &Receiver) {
        let received = receiver.received();
        for request in &received[self.seen..] {
            let event = request.json();
            let entry = &event["data"]["ledger_entry"];
            match (entry["reference_object_id"].as_str(), entry["id"].as_str()) {
                (Some(reference), Some(id))
                    if event["type"] == EVENT_TYPE && event["business_id"] == *self.business_id =>
                {
                    self.entry_ids.insert(id.to_owned());
                    self.by_credit
                        .entry(reference.to_owned())
                        .or_default()
                        .push(Arrival {
                            at: request.at,
                            webhook_id: request.header("webhook-id").to_owned(),
                        });
                }
                _ => self.other += 1,
            }
        }
        self.seen = received.len();
    }

    /// When the event of the credit `reference` first arrived, if it did.
    fn arrived(&self, reference: &str) -> Option<Instant> {
        self.by_credit.get(reference).map(|arrivals| arrivals[0].at)
    }

    /// Polls every `every` until the event of every credit of `references` has arrived or `timeout` has passed;
    /// whether they all arrived.
    async fn wait_all(
        &mut self,
        receiver: &Receiver,
        references: &[String],
        every: Duration,
        timeout: Duration,
    ) -> bool {
        let started = Instant::now();
        loop {
            self.update(receiver);
            if references.iter().all(|r| self.by_credit.contains_key(r)) {
                return true;
            }
            if started.elapsed() > timeout {
                return false;
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// Credits 1 USD minor unit with `reference` as the entry's `reference_object_id`; `reference`,
/// or what went wrong.
async fn credit(h: &Harness, customer: &str, reference: String) -> Result<String, String> {
    let reply = h
        .entry(
            customer,
            json!({"amount": 1, "currency": "USD", "entry_type": "credit", "reference_object_id": reference}),
        )
        .await;
    if reply.status == StatusCode::OK {
        Ok(reference)
    } else {
        Err(format!(
            "{} {}",
            reply.status.as_u16(),
            reply.body["code"].as_str().unwrap_or("(no code)")
        ))
    }
}

/// Registers `url` for [`EVENT_TYPE`]; the endpoint's id.
async fn register(h: &Harness, url: &str) -> String {
    let created = h
        .request(Route::CreateWebhook)
        .json(json!({"url": url, "filter_types": [EVENT_TYPE], "description": "bench"}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// Durations in ms, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn new(durations: impl IntoIterator<Item = Duration>) -> Latencies {
        let mut ms: Vec<f64> = durations
            .into_iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        Latencies(ms)
    }

    /// The `q` quantile (nearest rank).
    fn quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1]
    }

    fn summary(&self) -> String {
        format!(
            "median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
            self.quantile(0.5),
            self.quantile(0.9),
            self.quantile(0.99),
            self.0.last().copied().unwrap_or(f64::NAN),
            self.0.len()
        )
    }
}

/// Sequential credits to `customer` (references `<phase>-<n>`), each waited for: (reference,
/// commit instant, arrival instant or `None` if it did not arrive within `timeout`) of each
/// credit that succeeded, and the errors.
async fn sequential(
    h: &Harness,
    receiver: &Receiver,
    tracker: &mut Tracker,
    customer: &str,
    phase: &str,
    count: usize,
    timeout: Duration,
) -> (
    Vec<(String, Instant, Option<Instant>)>,
    BTreeMap<String, usize>,
) {
    let mut made = Vec::with_capacity(count);
    let mut errors = BTreeMap::new();
    for n in 0..count {
        match credit(h, customer, format!("{phase}-{n}")).await {
            Ok(reference) => {
                let committed = Instant::now();
                let wanted = std::slice::from_ref(&reference);
                tracker
                    .wait_all(receiver, wanted, Duration::from_millis(2), timeout)
                    .await;
                let arrived = tracker.arrived(&reference);
                made.push((reference, committed, arrived));
            }
            Err(what) => *errors.entry(what).or_default() += 1,
        }
    }
    (made, errors)
}

/// Commits and deliveries per second from `origin`: `second: committed/delivered`, each second
/// until the last event.
fn timeline(origin: Instant, commits: &[Instant], deliveries: &[Instant]) -> String {
    let second = |at: &Instant| at.saturating_duration_since(origin).as_secs() as usize;
    let seconds = commits
        .iter()
        .chain(deliveries)
        .map(second)
        .max()
        .map_or(0, |s| s + 1);
    let (mut committed, mut delivered) = (vec![0; seconds], vec![0; seconds]);
    for at in commits {
        committed[second(at)] += 1;
    }
    for at in deliveries {
        delivered[second(at)] += 1;
    }
    (0..seconds)
        .map(|s| format!("{}: {}/{}", s + 1, committed[s], delivered[s]))
        .collect::<Vec<_>>()
        .join(", ")
}

fn errors_label(errors: &BTreeMap<String, usize>) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    errors
        .iter()
        .map(|(what, n)| format!("{n}× {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    let events: usize = env_or("BENCH_EVENTS", 200);
    let burst: usize = env_or("BENCH_BURST", 1000);
    let warmup: usize = env_or("BENCH_WARMUP", 20);
    let timeout = Duration::from_secs_f64(env_or("BENCH_TIMEOUT_SECONDS", 120.0));

    eprintln!(
        "setting up: a business, a receiver registered for {EVENT_TYPE}, {} customers",
        CUSTOMERS + 1
    );
    let h = Harness::new().await;
    let receiver = Receiver::start().await;
    let endpoint = register(&h, &receiver.url()).await;
    let mut customers = Vec::with_capacity(CUSTOMERS + 1);
    for _ in 0..=CUSTOMERS {
        customers.push(h.customer().await);
    }
    // Customer 0 takes the sequential credits; 1..=CUSTOMERS the burst's.
    let customers = Arc::new(customers);
    // Opened after the set-up: the customers' wallet.created records are behind it.
    let pump = Pump::start(h.calm_service()).await;
    let mut tracker = Tracker::new(&h.business_id);
    let mut all_credits: Vec<String> = Vec::new();

    // Warm-up: DynamoDB Local's JIT, the stream's first shard, every code path.
    eprintln!("warming up: {warmup} sequential credits");
    let (made, warmup_errors) = sequential(
        &h,
        &receiver,
        &mut tracker,
        &customers[0],
        "warmup",
        warmup,
        timeout,
    )
    .await;
    all_credits.extend(made.into_iter().map(|(reference, _, _)| reference));

    // 1. Latency.
    eprintln!("latency: {events} sequential credits, each waited for");
    let (made, latency_errors) = sequential(
        &h,
        &receiver,
        &mut tracker,
        &customers[0],
        "latency",
        events,
        timeout,
    )
    .await;
    let late = made
        .iter()
        .filter(|(_, _, arrived)| arrived.is_none())
        .count();
    let latency = Latencies::new(made.iter().filter_map(|(_, committed, arrived)| {
        arrived.map(|a| a.saturating_duration_since(*committed))
    }));
    all_credits.extend(made.into_iter().map(|(reference, _, _)| reference));

    // 2. Throughput.
    eprintln!("throughput: {burst} credits, {WRITERS} writers, {CUSTOMERS} customers");
    let mut instances = Vec::with_capacity(WRITERS);
    for _ in 0..WRITERS {
        let instance = h.instance().await;
        // Opens its connections before the clock starts.
        instance
            .request(Route::ListWallets)
            .customer(&customers[1])
            .send()
            .await;
        instances.push(instance);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let writers: Vec<_> = instances
        .into_iter()
        .map(|instance| {
            let (next, customers) = (next.clone(), customers.clone());
            tokio::spawn(async move {
                let mut made = Vec::new();
                let mut errors: BTreeMap<String, usize> = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= burst {
                        break;
                    }
                    match credit(
                        &instance,
                        &customers[1 + i % CUSTOMERS],
                        format!("burst-{i}"),
                    )
                    .await
                    {
                        Ok(reference) => made.push((reference, Instant::now())),
                        Err(what) => *errors.entry(what).or_default() += 1,
                    }
                }
                (made, errors)
            })
        })
        .collect();
    let mut committed: Vec<(String, Instant)> = Vec::with_capacity(burst);
    let mut burst_errors: BTreeMap<String, usize> = BTreeMap::new();
    for writer in writers {
        let (made, errors) = writer.await.expect("writer task");
        committed.extend(made);
        for (what, n) in errors {
            *burst_errors.entry(what).or_default() += n;
        }
    }
    let writes_done = Instant::now();
    let burst_credits: Vec<String> = committed.iter().map(|(e, _)| e.clone()).collect();
    let all_burst_arrived = tracker
        .wait_all(
            &receiver,
            &burst_credits,
            Duration::from_millis(100),
            timeout,
        )
        .await;
    let first_commit = committed.iter().map(|(_, at)| *at).min();
    let last_commit = committed.iter().map(|(_, at)| *at).max();
    let burst_arrivals: Vec<Instant> = burst_credits
        .iter()
        .filter_map(|e| tracker.arrived(e))
        .collect();
    let last_delivery = burst_arrivals.iter().max().copied();
    let burst_latency = Latencies::new(
        committed
            .iter()
            .filter_map(|(e, at)| tracker.arrived(e).map(|a| a.saturating_duration_since(*at))),
    );
    all_credits.extend(burst_credits);

    // 3. Verification: wait a little for any duplicate, then count.
    let all_arrived = tracker
        .wait_all(&receiver, &all_credits, Duration::from_millis(100), timeout)
        .await;
    tokio::time::sleep(SETTLE).await;
    tracker.update(&receiver);
    let ours: HashSet<&str> = all_credits.iter().map(String::as_str).collect();
    let mut once = 0;
    let mut missing = 0;
    let mut twice = 0;
    for reference in &all_credits {
        match tracker.by_credit.get(reference).map_or(0, Vec::len) {
            0 => missing += 1,
            1 => once += 1,
            _ => twice += 1,
        }
    }
    let unexpected = tracker
        .by_credit
        .keys()
        .filter(|e| !ours.contains(e.as_str()))
        .count();
    let received: usize = tracker.by_credit.values().map(Vec::len).sum();
    let webhook_ids: HashSet<&str> = tracker
        .by_credit
        .values()
        .flatten()
        .map(|a| a.webhook_id.as_str())
        .collect();

    println!();
    println!("Webhooks on DynamoDB Local: credits through the real handler; the table's stream read by the pump (50 ms poll when idle, batches of up to 100 records) and given to the real dispatcher; the real HTTP sender; one receiver on 127.0.0.1 (endpoint {endpoint}, filter {EVENT_TYPE}).");
    println!();
    println!("1. Delivery latency, commit (the API call returned) → the receiver had the request; {events} credits one at a time, each waited for before the next (after {warmup} warm-up credits):");
    println!("   {}", latency.summary());
    if late > 0 {
        println!("   {late} did not arrive within {timeout:?} (not in the figures)");
    }
    println!("   errors: {}", errors_label(&latency_errors));
    println!();
    println!("2. Dispatcher throughput: {burst} credits, {WRITERS} writers (each its own service instance, one request at a time), over {CUSTOMERS} customers:");
    let ok = committed.len();
    let write_window = writes_done.duration_since(start);
    println!(
        "   API committed: {ok} in {:.2} s (start → last commit) = {:.1} credits/s",
        write_window.as_secs_f64(),
        ok as f64 / write_window.as_secs_f64()
    );
    match (first_commit, last_commit, last_delivery) {
        (Some(first), Some(last), Some(delivered)) => {
            let window = delivered.saturating_duration_since(first);
            println!(
                "   delivered: {} in {:.2} s (first commit → last delivery) = {:.1} events/s",
                burst_arrivals.len(),
                window.as_secs_f64(),
                burst_arrivals.len() as f64 / window.as_secs_f64()
            );
            let first_delivery = *burst_arrivals.iter().min().expect("a delivery");
            println!(
                "   first delivery {:.1} ms after the first commit; last delivery {:.1} ms after the last commit; while delivering (first → last delivery) {:.1} events/s",
                first_delivery.saturating_duration_since(first).as_secs_f64() * 1000.0,
                delivered.saturating_duration_since(last).as_secs_f64() * 1000.0,
                burst_arrivals.len() as f64
                    / delivered.saturating_duration_since(first_delivery).as_secs_f64()
            );
            let commits: Vec<Instant> = committed.iter().map(|(_, at)| *at).collect();
            println!(
                "   committed/delivered in each second from the first commit: {}",
                timeline(first, &commits, &burst_arrivals)
            );
        }
        _ => println!("   delivered: nothing to measure"),
    }
    println!(
        "   commit → delivery under this load: {}",
        burst_latency.summary()
    );
    if !all_burst_arrived {
        println!(
            "   {} of the burst's events did not arrive within {timeout:?}",
            ok - burst_arrivals.len()
        );
    }
    println!("   errors: {}", errors_label(&burst_errors));
    println!();
    println!(
        "3. Verification ({} warm-up + latency + burst credits that answered 200):",
        all_credits.len()
    );
    println!(
        "   events received {received}, distinct webhook-id {}, distinct data.ledger_entry.id {}, credits whose event arrived exactly once {once}, twice or more {twice}, never {missing}; events of no credit of this run {unexpected}; other requests {}",
        webhook_ids.len(),
        tracker.entry_ids.len(),
        tracker.other
    );
    println!(
        "   the dispatcher reported {} deliveries",
        pump.deliveries()
    );
    println!("   warm-up errors: {}", errors_label(&warmup_errors));
    let verified = all_arrived
        && once == all_credits.len()
        && received == all_credits.len()
        && webhook_ids.len() == all_credits.len()
        && tracker.entry_ids.len() == all_credits.len()
        && unexpected == 0
        && tracker.other == 0;
    if verified {
        println!(
            "   verified: every credit's event arrived exactly once, each with its own webhook-id and ledger entry"
        );
    } else {
        println!("   NOT verified");
        std::process::exit(1);
    }
}
