//! Sweep benchmark: what one run of the scheduled sweep (`sweep_top_ups_and_holds`) costs when a
//! few wallets among many need an auto top-up, against DynamoDB Local and localstripe.
//!
//! Set-up: `BENCH_WALLETS` customers (default 10,000), of which `BENCH_DUE` (default 10) need a
//! top-up: USD balance 0 and auto top-up at threshold 100 of 500 on a good localstripe card
//! (`4242424242424242`, sent without a gateway customer: the settings create one owned by the
//! business and customer, as for a card made by Stripe.js). Of the others, half have a
//! low-balance threshold of 100 and a balance of 1,000, above it (an auto top-up setting would
//! need a card of their own at the gateway), and half have no setting. The top-up index is sparse: only the due wallet sets are
//! in it, whatever the number of wallets. Created by [`SETUP_TASKS`] tasks at once.
//!
//! Then, each time with the metered store reset first (`take_usage`):
//! 1. one sweep (`limit` 200, budget 45 s): its time, its report, the DynamoDB calls, read units
//!    and write units it used (the meter counts calls and capacity; it does not count the items a
//!    read returned, so the items in the top-up index are counted apart, with an unmetered query);
//! 2. a second sweep with nothing due: what an idle sweep reads;
//! 3. checks: every due wallet was credited exactly once (balance 500, one credit entry, one
//!    PaymentIntent of 500 at the gateway);
//! 4. `BENCH_DUE` fresh due wallets, then two sweeps at once (`tokio::join!`), the same figures
//!    (the meter sums both), and the same checks: each need served once between them.
//!
//! A benchmark: it asserts no time. It exits 1 if a check fails.
//!
//! Run: `./infra/bench.sh sweep` (starts DynamoDB Local and localstripe, builds with
//! `--release`), or with `DYNAMODB_ENDPOINT` and `STRIPE_BASE_URL` set:
//! `cargo run --release -p integration-tests --bin sweep_bench`.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use integration_tests::{json, Harness, Route, Usage, TEST_TABLE};
use lambda_http::http::StatusCode;
use shared::adapters::dynamo::keys::{TOP_UP_SHARDS, TOP_UP_SHARD_PREFIX};
use shared::adapters::dynamo::table::{GSI_EXPIRY, GSI_EXPIRY_PK};
use shared::adapters::stripe::{Flavor, StripeGateway};
use shared::kernel::Timestamp;
use shared::sweep::SweepReport;

/// Customers created at once during the set-up.
const SETUP_TASKS: usize = 32;
const THRESHOLD: i64 = 100;
const TOP_UP: i64 = 500;
/// The balance of the wallets that have a setting but are above its threshold.
const ABOVE: i64 = 1_000;
const GOOD_CARD: &str = "4242424242424242";
/// The sweep's arguments, as the scheduled function passes them.
const LIMIT: usize = 200;
const BUDGET: Duration = Duration::from_secs(45);

/// What a bench customer is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Balance 0, setting at 100 on a good card (this payment method, saved to a gateway
    /// customer by the settings): needs a top-up.
    Due { payment_method: String },
    /// Balance 1,000, low-balance threshold at 100: not due.
    Above,
    /// No setting.
    Plain,
}

/// A due customer: its id and its gateway customer.
#[derive(Debug, Clone)]
struct DueWallet {
    customer: String,
    gateway_customer: String,
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}={raw} is not a valid value")),
        Err(_) => default,
    }
}

fn gateway() -> StripeGateway {
    let base_url = std::env::var("STRIPE_BASE_URL").expect(
        "the sweep bench needs localstripe: run ./infra/bench.sh sweep (it starts it and sets STRIPE_BASE_URL)",
    );
    let key = std::env::var("STRIPE_SECRET_KEY").unwrap_or_else(|_| "sk_test_local".to_owned());
    StripeGateway::new(&base_url, &key)
        .expect("gateway")
        .with_flavor(Flavor::Localstripe)
}

/// Creates one customer of `kind`; answers its id and, when due, its gateway customer.
async fn create(h: &Harness, kind: &Kind, n: usize) -> Result<(String, Option<String>), String> {
    let customer = h.customer().await;
    let settings = match kind {
        Kind::Plain => return Ok((customer, None)),
        Kind::Due { payment_method } => json!({
            "currency": "USD",
            "auto_top_up": {
                "threshold": THRESHOLD, "amount": TOP_UP, "max_per_day": 5,
                "payment_method": {"payment_method_id": payment_method}
            }
        }),
        Kind::Above => {
            h.credit(&customer, ABOVE).await;
            json!({"currency": "USD", "low_balance_threshold": THRESHOLD})
        }
    };
    let set = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .json(settings)
        .send()
        .await;
    if set.status != StatusCode::OK {
        return Err(format!("settings {n}: {} {}", set.status, set.body));
    }
    let gateway_customer = set.body["auto_top_up"]["payment_method"]["gateway_customer_id"]
        .as_str()
        .map(str::to_owned);
    Ok((customer, gateway_customer))
}

/// `count` due kinds, each with its own good card at localstripe (saved to no customer yet). Made
/// here, one after the other: the gateway's test-card future is not `Send`, so not in the
/// set-up's tasks.
async fn due_kinds(gateway: &StripeGateway, count: usize) -> Vec<Kind> {
    let mut kinds = Vec::with_capacity(count);
    for _ in 0..count {
        let payment_method = gateway
            .create_test_card(GOOD_CARD)
            .await
            .expect("a localstripe card");
        kinds.push(Kind::Due { payment_method });
    }
    kinds
}

/// Creates a customer per kind, [`SETUP_TASKS`] at a time, printing progress; answers the due
/// ones in order.
async fn create_all(h: &Harness, kinds: Vec<Kind>) -> Vec<DueWallet> {
    let count = kinds.len();
    let kinds = Arc::new(kinds);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let due = Arc::new(Mutex::new(BTreeMap::new()));
    let step = (count / 20).clamp(1, 1_000);
    let started = Instant::now();
    let workers: Vec<_> = (0..SETUP_TASKS.min(count))
        .map(|_| {
            let h = h.clone();
            let (kinds, next, done, due) = (kinds.clone(), next.clone(), done.clone(), due.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(kind) = kinds.get(i) else {
                        return Ok::<(), String>(());
                    };
                    let (customer, gateway_customer) = create(&h, kind, i)
                        .await
                        .map_err(|why| format!("customer {i} ({kind:?}): {why}"))?;
                    if let Some(gateway_customer) = gateway_customer {
                        due.lock().expect("due").insert(
                            i,
                            DueWallet {
                                customer,
                                gateway_customer,
                            },
                        );
                    }
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if finished % step == 0 || finished == count {
                        let elapsed = started.elapsed().as_secs_f64();
                        eprintln!(
                            "  created {finished}/{count} customers in {elapsed:.1} s ({:.0}/s)",
                            finished as f64 / elapsed
                        );
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => panic!("set-up failed: {why}"),
            Err(panic) => panic!("set-up task panicked: {panic}"),
        }
    }
    let due = std::mem::take(&mut *due.lock().expect("due"));
    due.into_values().collect()
}

/// The items in the top-up part of the expiry index (every `TOP#` shard, due or not), counted
/// with the harness's client directly: not metered.
async fn top_up_index_items(h: &Harness) -> usize {
    let client = h.dynamodb_client();
    let mut total = 0;
    for shard in 0..TOP_UP_SHARDS {
        let mut start_key = None;
        loop {
            let out = client
                .query()
                .table_name(TEST_TABLE)
                .index_name(GSI_EXPIRY)
                .key_condition_expression("#shard = :shard")
                .expression_attribute_names("#shard", GSI_EXPIRY_PK)
                .expression_attribute_values(
                    ":shard",
                    AttributeValue::S(format!("{TOP_UP_SHARD_PREFIX}{shard}")),
                )
                .select(Select::Count)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .expect("count the top-up index");
            total += out.count() as usize;
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
    }
    total
}

/// One sweep, as the scheduled function runs it; its report and how long it took.
async fn sweep(h: &Harness, gateway: &StripeGateway) -> (SweepReport, Duration) {
    let started = Instant::now();
    let report = h
        .service()
        .sweep_top_ups_and_holds(Some(gateway), Timestamp::now(), LIMIT, BUDGET)
        .await
        .expect("sweep");
    (report, started.elapsed())
}

fn print_report(label: &str, report: &SweepReport, elapsed: Duration) {
    println!(
        "  {label}: {:.1} ms; wallets_due {}, top_ups_credited {}, declined {}, unknown {}, holds_expired {}, webhook_deliveries {}, stopped_early {}",
        elapsed.as_secs_f64() * 1000.0,
        report.wallets_due,
        report.top_ups_credited,
        report.top_ups_declined,
        report.top_ups_unknown,
        report.holds_expired,
        report.webhook_deliveries,
        report.stopped_early
    );
}

fn print_usage(usage: &Usage) {
    let mut kinds: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (kind, bytes, _) in &usage.transaction_items {
        let entry = kinds.entry(kind.as_str()).or_default();
        entry.0 += 1;
        entry.1 += bytes;
    }
    let items: Vec<String> = kinds
        .iter()
        .map(|(kind, (count, bytes))| format!("{count}× {kind} ({} B avg)", bytes / count))
        .collect();
    println!(
        "  DynamoDB: {} calls (reads and writes); reads {:.1} RCU; writes {:.1} WCU billed ({:.1} WCU reported by single-item writes + {} WCU for {} transactional items{})",
        usage.calls,
        usage.read_units,
        usage.billed_wcu(),
        usage.write_units,
        usage.transactional_wcu(),
        usage.transaction_items.len(),
        if items.is_empty() {
            String::new()
        } else {
            format!(": {}", items.join(", "))
        }
    );
}

/// Checks that every due wallet was credited exactly once; answers what differs.
async fn verify(h: &Harness, gateway: &StripeGateway, due: &[DueWallet]) -> Vec<String> {
    let mut failures = Vec::new();
    for wallet in due {
        let balance = h.balance(&wallet.customer, "USD").await;
        let credits: Vec<i64> = h
            .all_entries(&wallet.customer, Some("USD"))
            .await
            .iter()
            .filter(|e| e["is_credit"] == true)
            .map(|e| e["amount"].as_i64().unwrap_or(-1))
            .collect();
        let intents = gateway
            .payment_intents_of(&wallet.gateway_customer, None)
            .await
            .unwrap_or_else(|e| panic!("payment intents of {}: {e}", wallet.gateway_customer));
        let charged: Vec<(i64, &str)> = intents
            .iter()
            .map(|pi| (pi.amount, pi.status.as_str()))
            .collect();
        if balance != TOP_UP || credits != [TOP_UP] || charged != [(TOP_UP, "succeeded")] {
            failures.push(format!(
                "customer {} (gateway {}): balance {balance}, credits {credits:?}, PaymentIntents {charged:?}; expected {TOP_UP}, [{TOP_UP}], [({TOP_UP}, \"succeeded\")]",
                wallet.customer, wallet.gateway_customer
            ));
        }
    }
    failures
}

fn check(failures: &mut Vec<String>, ok: bool, what: String) {
    if !ok {
        failures.push(what);
    }
}

#[tokio::main]
async fn main() {
    let wallets: usize = env_or("BENCH_WALLETS", 10_000);
    let due_count: usize = env_or("BENCH_DUE", 10);
    assert!(
        due_count >= 1 && due_count <= wallets,
        "1 ≤ BENCH_DUE ≤ BENCH_WALLETS"
    );
    let h = Harness::new().await;
    let gateway = gateway();
    let mut failures = Vec::new();

    // The due wallets spread evenly among the others; the rest alternate Above / Plain.
    let spacing = wallets / due_count;
    let mut cards = due_kinds(&gateway, due_count).await.into_iter();
    let mut rest = 0;
    let kinds: Vec<Kind> = (0..wallets)
        .map(|i| {
            if i % spacing == 0 && i / spacing < due_count {
                cards.next().expect("one due kind per due wallet")
            } else {
                rest += 1;
                if rest % 2 == 1 {
                    Kind::Above
                } else {
                    Kind::Plain
                }
            }
        })
        .collect();
    let above = kinds.iter().filter(|k| **k == Kind::Above).count();
    let plain = kinds.iter().filter(|k| **k == Kind::Plain).count();
    eprintln!(
        "setting up {wallets} customers ({due_count} due, {above} with a setting above its threshold, {plain} without a setting), {SETUP_TASKS} at a time"
    );
    let setup_started = Instant::now();
    let due = create_all(&h, kinds).await;
    let setup = setup_started.elapsed();
    assert_eq!(due.len(), due_count);

    println!();
    println!(
        "Sweep bench: {wallets} customers ({due_count} due: balance 0, auto top-up {TOP_UP} at threshold {THRESHOLD} on a good localstripe card; {above} with the same setting but balance {ABOVE}; {plain} without a setting), created in {:.1} s ({:.0} customers/s, {SETUP_TASKS} tasks). Sweep: limit {LIMIT}, budget {} s.",
        setup.as_secs_f64(),
        wallets as f64 / setup.as_secs_f64(),
        BUDGET.as_secs()
    );
    let indexed = top_up_index_items(&h).await;
    println!("Top-up index before the sweep: {indexed} items (of {wallets} wallet sets)");
    check(
        &mut failures,
        indexed == due_count,
        format!("the top-up index holds {indexed} items, not the {due_count} due"),
    );

    println!();
    println!("1. One sweep, {due_count} due:");
    h.take_usage();
    let (report, elapsed) = sweep(&h, &gateway).await;
    let usage = h.take_usage();
    print_report("sweep", &report, elapsed);
    print_usage(&usage);
    check(
        &mut failures,
        report.wallets_due == due_count && report.top_ups_credited == due_count,
        format!(
            "sweep 1 found {} and credited {}, not {due_count}",
            report.wallets_due, report.top_ups_credited
        ),
    );
    let indexed = top_up_index_items(&h).await;
    println!("  top-up index after: {indexed} items");

    println!();
    println!("2. A second sweep, nothing due (an idle sweep):");
    let (report, elapsed) = sweep(&h, &gateway).await;
    let usage = h.take_usage();
    print_report("sweep", &report, elapsed);
    print_usage(&usage);
    check(
        &mut failures,
        report.wallets_due == 0 && report.top_ups_credited == 0,
        format!(
            "the idle sweep found {} and credited {}",
            report.wallets_due, report.top_ups_credited
        ),
    );

    let differ = verify(&h, &gateway, &due).await;
    println!();
    println!(
        "3. Checked the {due_count} due wallets: {}",
        if differ.is_empty() {
            format!("each credited exactly once (balance {TOP_UP}, one credit entry of {TOP_UP}, one succeeded PaymentIntent of {TOP_UP} at localstripe)")
        } else {
            format!("{} differ", differ.len())
        }
    );
    failures.extend(differ);

    println!();
    eprintln!("setting up {due_count} fresh due customers");
    let fresh = create_all(&h, due_kinds(&gateway, due_count).await).await;
    let indexed = top_up_index_items(&h).await;
    println!("4. Two sweeps at once (tokio::join!, one service instance, one meter), on {due_count} fresh due wallets (top-up index: {indexed} items):");
    h.take_usage();
    let started = Instant::now();
    let ((a, a_elapsed), (b, b_elapsed)) = tokio::join!(sweep(&h, &gateway), sweep(&h, &gateway));
    let both = started.elapsed();
    let usage = h.take_usage();
    print_report("sweep A", &a, a_elapsed);
    print_report("sweep B", &b, b_elapsed);
    println!(
        "  both done in {:.1} ms; together:",
        both.as_secs_f64() * 1000.0
    );
    print_usage(&usage);
    let credited = a.top_ups_credited + b.top_ups_credited;
    let other = a.top_ups_declined + b.top_ups_declined + a.top_ups_unknown + b.top_ups_unknown;
    check(
        &mut failures,
        credited == due_count && other == 0,
        format!(
            "the two sweeps credited {credited} (and {other} declined or unknown), not {due_count}"
        ),
    );
    let differ = verify(&h, &gateway, &fresh).await;
    println!(
        "  checked the {due_count} fresh wallets: {}",
        if differ.is_empty() {
            format!("each need served once between the two sweeps ({} + {} credited; balance {TOP_UP}, one credit entry, one PaymentIntent each)", a.top_ups_credited, b.top_ups_credited)
        } else {
            format!("{} differ", differ.len())
        }
    );
    failures.extend(differ);
    let indexed = top_up_index_items(&h).await;
    println!("  top-up index after: {indexed} items");

    println!();
    if failures.is_empty() {
        println!("verified: every check passed");
    } else {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        eprintln!("NOT verified: {} checks failed", failures.len());
        std::process::exit(1);
    }
}
