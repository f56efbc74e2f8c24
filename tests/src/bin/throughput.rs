//! Throughput benchmark: debits of 1 USD minor unit, each with its own idempotency key, on one
//! DynamoDB Local, measured three ways in the same run:
//!
//! - **raw**: the DynamoDB ceiling for the same work, with the SDK client directly (no service):
//!   a consistent `GetItem` of the wallet set, then one `TransactWriteItems` of the same three
//!   items with the same conditions as the service writes (see [`raw_debit`]); a refused
//!   transaction (the version raced, or a transaction conflict) reads again after the service's
//!   own jittered backoff ([`shared::change::backoff`]), up to [`ATTEMPTS_MAX`] attempts. Its
//!   items live under their own partition keys, apart from the API's.
//! - **API, one instance per task**: each concurrent task has its own service instance (own
//!   DynamoDB client and connections) and sends one request at a time through the real handler,
//!   as Lambda runs one request per instance.
//! - **API, one shared instance**: every task sends through one service instance at once, as one
//!   process serving many requests concurrently (Lambda Managed Instances, `lambda_runtime`'s
//!   concurrent mode).
//!
//! Each at 1, 8 and 64 concurrent writers, on one (hot) wallet and on 1,000 wallets (each
//! operation picks a wallet uniformly at random), for a fixed time per cell. Then it checks every
//! wallet the API wrote: balance = credit − successful debits, as many entries as requests that
//! succeeded (plus the credit), and the ledger chains (`assert_chain`); and every raw wallet's
//! balance and version. It is a benchmark, not a timed test: it asserts no speed.
//!
//! Then batches (`POST /wallets/ledger-entries/batch`): the raw ceiling of a batch's transaction
//! (the wallet set and 33 debits with their currency copies and idempotency items) on one wallet, and batches of
//! `BENCH_BATCH` (default 1,000) debits through the real handler on one wallet and on the pool,
//! in entries per second.
//!
//! Settings (environment): `BENCH_SECONDS` per cell (default 8), `BENCH_WALLETS` (default 1000),
//! `BENCH_CONCURRENCY` (default `1,8,64`), `BENCH_WARMUP_SECONDS` per mode before the first cell
//! (default 3; not reported).
//!
//! Run: `./infra/bench.sh throughput` (starts DynamoDB Local, builds with `--release`), or with
//! `DYNAMODB_ENDPOINT` set: `cargo run --release -p integration-tests --bin throughput`.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use integration_tests::{assert_chain, json, Harness, Route, TEST_TABLE};
use lambda_http::http::StatusCode;
use serde_json::Value;
use shared::adapters::dynamo::keys::LEDGER_CHUNK;
use shared::change::{backoff, ATTEMPTS_MAX};
use shared::kernel::ids::change_token;
use shared::kernel::{CustomerId, EntryId, Timestamp};

/// What every wallet is credited before the runs, in minor units: far more than any run debits.
const CREDIT: i64 = 100_000_000;
/// Concurrent requests of the set-up and the verification.
const SETUP_TASKS: usize = 16;

/// The three ways an operation is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Raw,
    PerInstance,
    Shared,
}

const MODES: [Mode; 3] = [Mode::Raw, Mode::PerInstance, Mode::Shared];

/// Which wallets a cell writes: `len` wallets from index `first` (the same indexes for the API's
/// customers and for the raw wallets).
#[derive(Debug, Clone, Copy)]
struct Pool {
    first: usize,
    len: usize,
}

/// Everything the tasks share: the API's customers, the raw wallets, and the successes per
/// wallet (for the verification).
struct Bench {
    h: Harness,
    customers: Vec<String>,
    api_ok: Vec<AtomicU64>,
    raw: Raw,
}

/// The raw side: the harness's DynamoDB client and its own wallet sets.
struct Raw {
    client: Client,
    /// Stands in for the business id in the raw items' keys: `raw` + the run's business id.
    namespace: String,
    customers: Vec<String>,
    ok: Vec<AtomicU64>,
    /// Transactions that landed per wallet (a batch's transaction holds 33 debits).
    commits: Vec<AtomicU64>,
}

/// One task's measurements.
#[derive(Default)]
struct Tally {
    /// Every request's latency in microseconds, errors included.
    latencies_us: Vec<u32>,
    ok: u64,
    /// Attempts (read + transaction) the successful raw operations took.
    tries: u64,
    errors: BTreeMap<String, u64>,
}

/// One cell of the table: one mode under one load.
struct Cell {
    tally: Tally,
    elapsed: Duration,
}

impl Cell {
    fn ops_per_s(&self) -> f64 {
        self.tally.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile of the latencies, in milliseconds (nearest rank).
    fn quantile_ms(&self, q: f64) -> f64 {
        let sorted = &self.tally.latencies_us;
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        f64::from(sorted[rank - 1]) / 1000.0
    }

    fn errors(&self) -> String {
        self.tally
            .errors
            .iter()
            .map(|(what, n)| format!("{n}× {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}={raw} is not a valid value")),
        Err(_) => default,
    }
}

/// xorshift64*: the wallet each operation picks; no need for more.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as usize % n
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// Size of an item as DynamoDB counts it (attribute names plus values; strings and numbers only).
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(text) => text.len(),
                    AttributeValue::N(number) => number.len().div_ceil(2) + 1,
                    _ => 0,
                }
        })
        .sum()
}

/// The error of a failed SDK call, as a short label.
fn sdk_label<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "dispatch failure".to_owned(),
        SdkError::ServiceError(service) => service.err().code().unwrap_or("service").to_owned(),
        _ => "sdk error".to_owned(),
    }
}

/// The raw wallet set of one customer: a document shaped like the service's (both currencies the
/// service enables) and its version.
fn raw_wallets_doc(customer: &str, entry_count: u64, usd_balance: i64, usd_count: u64) -> Value {
    let now = Timestamp::now().rfc3339();
    json!({
        "customer_id": customer,
        "entry_count": entry_count,
        "wallets": {
            "INR": {"balance": 0, "pending_charges": 0, "entry_count": 0, "status": "active",
                    "created_at": now, "updated_at": now},
            "USD": {"balance": usd_balance, "pending_charges": 0, "entry_count": usd_count,
                    "status": "active", "created_at": now, "updated_at": now},
        }
    })
}

impl Raw {
    fn wallet_pk(&self, wallet: usize) -> String {
        format!("CUS#{}#{}", self.namespace, self.customers[wallet])
    }

    /// Creates the wallet sets (version 1, `CREDIT` USD, no entries).
    async fn create(&self, wallet: usize) {
        let mut item = key(self.wallet_pk(wallet), "#WALLETS");
        item.insert("ver".into(), n(1));
        let doc = raw_wallets_doc(&self.customers[wallet], 0, CREDIT, 0);
        item.insert("doc".into(), s(doc.to_string()));
        self.client
            .put_item()
            .table_name(TEST_TABLE)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .expect("create a raw wallet set");
    }

    /// The wallet set: (version, document).
    async fn read(&self, wallet: usize) -> Result<(u64, Value), String> {
        let got = self
            .client
            .get_item()
            .table_name(TEST_TABLE)
            .set_key(Some(key(self.wallet_pk(wallet), "#WALLETS")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("GetItem {}", sdk_label(&e)))?;
        let item = got.item.ok_or("no raw wallet set")?;
        let version = item["ver"].as_n().expect("ver").parse().expect("ver");
        let doc = serde_json::from_str(item["doc"].as_s().expect("doc")).expect("doc");
        Ok((version, doc))
    }
}

/// One raw debit of 1 USD minor unit with idempotency key `key`: what the service does for
/// `POST .../ledger-entries`, without the service (and without its API-key lookup):
///
/// 1. `GetItem` (consistent) of the wallet set `CUS#<ns>#<customer>`/`#WALLETS`;
/// 2. one `TransactWriteItems` (with a `ClientRequestToken`) of three puts:
///    the wallet set, balance − 1 and counts + 1, condition `ver = <version read>`, version + 1;
///    the entry `LED#<position>` in its ledger chunk and its copy `USD#<position in USD>` in
///    the USD ledger's chunk, condition `attribute_not_exists(pk)`; the idempotency item
///    `IDEM#<ns>#<key>`/`#IDEM` holding the entry, condition `attribute_not_exists(pk)`;
/// 3. if DynamoDB cancels it for a failed condition or a transaction conflict (another writer
///    came first): the service's backoff, then again from 1, up to [`ATTEMPTS_MAX`] attempts.
///
/// Returns the attempts it took.
async fn raw_debit(raw: &Raw, wallet: usize, idempotency_key: &str) -> Result<u64, String> {
    raw_debits(raw, wallet, &[idempotency_key.to_owned()]).await
}

/// Debits of 1, one per key, in one transaction as [`raw_debit`] writes one: the wallet set once,
/// then each entry, its currency copy and its idempotency item (a batch's transaction: 1 + 3 ×
/// keys items).
async fn raw_debits(raw: &Raw, wallet: usize, keys: &[String]) -> Result<u64, String> {
    let pk = raw.wallet_pk(wallet);
    let count = keys.len() as i64;
    for attempt in 0..ATTEMPTS_MAX {
        let (version, mut doc) = raw.read(wallet).await?;
        let balance = doc["wallets"]["USD"]["balance"].as_i64().expect("balance");
        if balance < count {
            return Err("insufficient balance".to_owned());
        }
        let now = Timestamp::now();
        let position = doc["entry_count"].as_u64().expect("entry_count");
        let usd_position = doc["wallets"]["USD"]["entry_count"]
            .as_u64()
            .expect("count");
        doc["entry_count"] = json!(position + keys.len() as u64);
        doc["wallets"]["USD"]["balance"] = json!(balance - count);
        doc["wallets"]["USD"]["entry_count"] = json!(usd_position + keys.len() as u64);
        doc["wallets"]["USD"]["updated_at"] = json!(now.rfc3339());
        let mut wallets = key(pk.clone(), "#WALLETS");
        wallets.insert("ver".into(), n(version + 1));
        wallets.insert("doc".into(), s(doc.to_string()));

        let put = |item, condition: &str, expected: Option<AttributeValue>| {
            let put = Put::builder()
                .table_name(TEST_TABLE)
                .set_item(Some(item))
                .condition_expression(condition);
            let put = match expected {
                Some(value) => put
                    .expression_attribute_names("#guard", "ver")
                    .expression_attribute_values(":expected", value),
                None => put,
            };
            TransactWriteItem::builder()
                .put(put.build().expect("put"))
                .build()
        };
        let mut items = vec![put(wallets, "#guard = :expected", Some(n(version)))];
        for (i, idempotency_key) in keys.iter().enumerate() {
            let (position, usd_position) = (position + 1 + i as u64, usd_position + 1 + i as u64);
            let before = balance - i as i64;
            let entry_doc = json!({
                "id": EntryId::generate_at(now.unix_ms).as_str(),
                "customer_id": raw.customers[wallet], "business_id": raw.namespace,
                "currency": "USD", "amount": 1, "is_credit": false,
                "before_balance": before, "after_balance": before - 1, "event_type": "payment",
                "reason": null, "reference_object_id": null, "idempotency_key": idempotency_key,
                "created_at": now.rfc3339(), "customer_seq": position, "currency_seq": usd_position
            })
            .to_string();
            let mut entry = key(
                format!("{pk}#LED#{}", position / LEDGER_CHUNK),
                &format!("LED#{position:020}"),
            );
            entry.insert("doc".into(), s(entry_doc.clone()));
            let mut copy = key(
                format!("{pk}#USD#{}", usd_position / LEDGER_CHUNK),
                &format!("USD#{usd_position:020}"),
            );
            copy.insert("doc".into(), s(entry_doc.clone()));
            let mut claim = key(format!("IDEM#{}#{idempotency_key}", raw.namespace), "#IDEM");
            claim.insert("customer_id".into(), s(&raw.customers[wallet]));
            claim.insert("doc".into(), s(entry_doc));
            items.push(put(entry, "attribute_not_exists(pk)", None));
            items.push(put(copy, "attribute_not_exists(pk)", None));
            items.push(put(claim, "attribute_not_exists(pk)", None));
        }
        let result = raw
            .client
            .transact_write_items()
            .client_request_token(change_token(now.unix_ms))
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => return Ok(u64::from(attempt) + 1),
            Err(err) if raced(&err) => backoff(attempt).await,
            Err(err) => return Err(format!("TransactWriteItems {}", sdk_label(&err))),
        }
    }
    Err("gave up: contention".to_owned())
}

/// The raw ceiling of a batch on one wallet: one writer, transactions of the wallet set and 33
/// debits with their currency copies and idempotency items, for `seconds`. Entries per second.
async fn raw_batch_ceiling(bench: &Arc<Bench>, wallet: usize, seconds: f64, cell: usize) -> Cell {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tally = Tally::default();
    for round in 0u64.. {
        if Instant::now() >= deadline {
            break;
        }
        let keys: Vec<String> = (0..33).map(|i| format!("rb-{cell}-{round}-{i}")).collect();
        let sent = Instant::now();
        match raw_debits(&bench.raw, wallet, &keys).await {
            Ok(tries) => {
                tally.ok += keys.len() as u64;
                tally.tries += tries;
                bench.raw.ok[wallet].fetch_add(keys.len() as u64, Ordering::Relaxed);
                bench.raw.commits[wallet].fetch_add(1, Ordering::Relaxed);
            }
            Err(what) => *tally.errors.entry(what).or_default() += 1,
        }
        tally
            .latencies_us
            .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }
    let elapsed = start.elapsed();
    tally.latencies_us.sort_unstable();
    Cell { tally, elapsed }
}

/// A transaction cancelled because another writer came first: a failed condition or a conflict.
fn raced<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    matches!(
        err.as_service_error(),
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
            if cancelled.cancellation_reasons().iter().any(|r| {
                matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))
            })
    )
}

/// One debit through the real handler, as one API instance sends it.
async fn api_debit(
    instance: &Harness,
    customer: &str,
    idempotency_key: &str,
) -> Result<u64, String> {
    let reply = instance
        .request(Route::CreateLedgerEntry)
        .customer(customer)
        .json(json!({"amount": 1, "currency": "USD", "entry_type": "debit", "idempotency_key": idempotency_key}))
        .send()
        .await;
    if reply.status == StatusCode::OK {
        Ok(1)
    } else {
        Err(format!(
            "{} {}",
            reply.status.as_u16(),
            reply.body["code"].as_str().unwrap_or("(no code)")
        ))
    }
}

/// What a task sends through.
#[derive(Clone)]
enum Sender {
    Raw,
    Api(Harness),
}

/// Runs one cell: `concurrency` tasks, each sending one debit after the other until `seconds`
/// have passed; every task's service instance is built and warmed (one request) first.
async fn run_cell(
    bench: &Arc<Bench>,
    mode: Mode,
    pool: Pool,
    concurrency: usize,
    seconds: f64,
    cell: usize,
) -> Cell {
    let senders: Vec<Sender> = match mode {
        Mode::Raw => vec![Sender::Raw; concurrency],
        Mode::PerInstance => {
            let mut senders = Vec::with_capacity(concurrency);
            for _ in 0..concurrency {
                senders.push(Sender::Api(bench.h.instance().await));
            }
            senders
        }
        Mode::Shared => vec![Sender::Api(bench.h.instance().await); concurrency],
    };
    // Warm-up: one read per task, all at once, so that connections are open before the clock.
    let warmups: Vec<_> = senders
        .iter()
        .cloned()
        .map(|sender| {
            let bench = bench.clone();
            tokio::spawn(async move {
                match sender {
                    Sender::Raw => drop(bench.raw.read(pool.first).await.expect("warm-up")),
                    Sender::Api(instance) => {
                        instance
                            .request(Route::ListWallets)
                            .customer(&bench.customers[pool.first])
                            .send()
                            .await;
                    }
                }
            })
        })
        .collect();
    for warmup in warmups {
        warmup.await.expect("warm-up task");
    }

    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(task, sender)| {
            let bench = bench.clone();
            tokio::spawn(async move {
                let mut rng = Rng::new(((cell as u64) << 16) + task as u64);
                let mut tally = Tally::default();
                for op in 0u64.. {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let wallet = pool.first + rng.below(pool.len);
                    let idempotency_key = format!("tp-{cell}-{task}-{op}");
                    let sent = Instant::now();
                    let outcome = match &sender {
                        Sender::Raw => raw_debit(&bench.raw, wallet, &idempotency_key).await,
                        Sender::Api(instance) => {
                            api_debit(instance, &bench.customers[wallet], &idempotency_key).await
                        }
                    };
                    let took = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    tally.latencies_us.push(took);
                    match outcome {
                        Ok(tries) => {
                            tally.ok += 1;
                            tally.tries += tries;
                            let ok = match sender {
                                Sender::Raw => &bench.raw.ok,
                                Sender::Api(_) => &bench.api_ok,
                            };
                            ok[wallet].fetch_add(1, Ordering::Relaxed);
                            if matches!(sender, Sender::Raw) {
                                bench.raw.commits[wallet].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(what) => *tally.errors.entry(what).or_default() += 1,
                    }
                }
                tally
            })
        })
        .collect();
    collect_cell(tasks, start).await
}

/// One shape of batch load: `writers` tasks, each sending batches of `size` debits of 1 one after
/// the other through the real handler (one service instance per task); each batch picks `spread`
/// wallets of the pool at random and each item one of those.
#[derive(Debug, Clone, Copy)]
struct BatchLoad {
    pool: Pool,
    writers: usize,
    size: usize,
    spread: usize,
}

/// Entries applied per second by a batch load, with each batch's latency.
async fn run_batches(bench: &Arc<Bench>, load: BatchLoad, seconds: f64, cell: usize) -> Cell {
    let mut instances = Vec::with_capacity(load.writers);
    for _ in 0..load.writers {
        instances.push(bench.h.instance().await);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = instances
        .into_iter()
        .enumerate()
        .map(|(task, instance)| {
            let bench = bench.clone();
            tokio::spawn(async move {
                let mut rng = Rng::new(((cell as u64) << 16) + task as u64);
                let mut tally = Tally::default();
                for batch in 0u64.. {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let chosen: Vec<usize> = (0..load.spread.min(load.pool.len))
                        .map(|_| load.pool.first + rng.below(load.pool.len))
                        .collect();
                    let wallets: Vec<usize> = (0..load.size)
                        .map(|_| chosen[rng.below(chosen.len())])
                        .collect();
                    let items: Vec<Value> = wallets
                        .iter()
                        .enumerate()
                        .map(|(i, &wallet)| {
                            json!({"customer_id": bench.customers[wallet], "amount": 1, "currency": "USD", "entry_type": "debit", "idempotency_key": format!("tb-{cell}-{task}-{batch}-{i}")})
                        })
                        .collect();
                    let sent = Instant::now();
                    let reply = instance
                        .request(Route::CreateLedgerEntriesBatch)
                        .json(json!({ "items": items }))
                        .send()
                        .await;
                    let took = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    tally.latencies_us.push(took);
                    if reply.status != StatusCode::OK {
                        let code = reply.body["code"].as_str().unwrap_or("(no code)");
                        *tally.errors.entry(format!("{} {code}", reply.status.as_u16())).or_default() += 1;
                        continue;
                    }
                    tally.tries += 1;
                    for (item, &wallet) in reply.body["items"].as_array().expect("items").iter().zip(&wallets) {
                        if item["status"] == "applied" {
                            tally.ok += 1;
                            bench.api_ok[wallet].fetch_add(1, Ordering::Relaxed);
                        } else {
                            let code = item["code"].as_str().unwrap_or("(no code)").to_owned();
                            *tally.errors.entry(format!("item {code}")).or_default() += 1;
                        }
                    }
                }
                tally
            })
        })
        .collect();
    collect_cell(tasks, start).await
}

/// The cell of `tasks` started at `start`: their tallies summed, latencies sorted.
async fn collect_cell(tasks: Vec<tokio::task::JoinHandle<Tally>>, start: Instant) -> Cell {
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.expect("bench task");
        total.latencies_us.extend(tally.latencies_us);
        total.ok += tally.ok;
        total.tries += tally.tries;
        for (what, count) in tally.errors {
            *total.errors.entry(what).or_default() += count;
        }
    }
    let elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    Cell {
        tally: total,
        elapsed,
    }
}

/// Runs `work(i)` for every `i` in `0..count`, `SETUP_TASKS` at a time; the failures (panics
/// included), with their index.
async fn for_each<F, Fut>(count: usize, work: F) -> Vec<(usize, String)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let work = Arc::new(work);
    let mut failures = Vec::new();
    for chunk_start in (0..count).step_by(SETUP_TASKS) {
        let tasks: Vec<_> = (chunk_start..count.min(chunk_start + SETUP_TASKS))
            .map(|i| (i, tokio::spawn(work(i))))
            .collect();
        for (i, task) in tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failures.push((i, why)),
                Err(panic) => failures.push((i, format!("panicked: {panic}"))),
            }
        }
    }
    failures
}

/// Checks every API wallet (balance, entry count, chain) and every raw wallet (balance,
/// version) against the successes counted during the runs.
async fn verify(bench: &Arc<Bench>) -> Vec<(usize, String)> {
    let count = bench.customers.len();
    let api = {
        let bench = bench.clone();
        for_each(count, move |wallet| {
            let bench = bench.clone();
            async move {
                let (h, customer) = (&bench.h, &bench.customers[wallet]);
                let debits = bench.api_ok[wallet].load(Ordering::Relaxed) as i64;
                let balance = h.balance(customer, "USD").await;
                let entries = h.all_entries(customer, Some("USD")).await;
                if balance != CREDIT - debits || entries.len() as i64 != 1 + debits {
                    return Err(format!(
                        "API wallet: balance {balance}, {} entries; expected {} and {} (credit, then {debits} debits that answered 200)",
                        entries.len(),
                        CREDIT - debits,
                        1 + debits
                    ));
                }
                assert_chain(&entries, balance);
                Ok(())
            }
        })
        .await
    };
    let raw = {
        let bench = bench.clone();
        for_each(count, move |wallet| {
            let bench = bench.clone();
            async move {
                let debits = bench.raw.ok[wallet].load(Ordering::Relaxed);
                let commits = bench.raw.commits[wallet].load(Ordering::Relaxed);
                let (version, doc) = bench.raw.read(wallet).await?;
                let balance = doc["wallets"]["USD"]["balance"].as_i64().expect("balance");
                if balance != CREDIT - debits as i64 || version != 1 + commits {
                    return Err(format!(
                        "raw wallet: balance {balance}, version {version}; expected {} and {}",
                        CREDIT - debits as i64,
                        1 + commits
                    ));
                }
                Ok(())
            }
        })
        .await
    };
    api.into_iter().chain(raw).collect()
}

/// The sizes of one API debit's three items and of one raw debit's, to show they match.
async fn item_sizes(bench: &Bench) -> String {
    let client = &bench.raw.client;
    let get = |pk: String, sk: String| async move {
        client
            .get_item()
            .table_name(TEST_TABLE)
            .set_key(Some(key(pk, &sk)))
            .send()
            .await
            .expect("get item")
            .item
            .unwrap_or_default()
    };
    let mut sizes = Vec::new();
    for (pk, namespace) in [
        (
            format!("CUS#{}#{}", bench.h.business_id, bench.customers[0]),
            bench.h.business_id.clone(),
        ),
        (bench.raw.wallet_pk(0), bench.raw.namespace.clone()),
    ] {
        let wallets = get(pk.clone(), "#WALLETS".into()).await;
        // The API's position 1 is the credit; the raw side has no credit entry.
        let mut entry = get(format!("{pk}#LED#0"), format!("LED#{:020}", 2)).await;
        if entry.is_empty() {
            entry = get(format!("{pk}#LED#0"), format!("LED#{:020}", 1)).await;
        }
        let doc: Value = entry
            .get("doc")
            .and_then(|d| d.as_s().ok())
            .map(|d| serde_json::from_str(d).expect("doc"))
            .unwrap_or(Value::Null);
        let claim = match doc["idempotency_key"].as_str() {
            Some(k) => get(format!("IDEM#{namespace}#{k}"), "#IDEM".into()).await,
            None => HashMap::new(),
        };
        sizes.push(format!(
            "wallet set {} B, entry {} B, idempotency item {} B",
            item_size(&wallets),
            item_size(&entry),
            item_size(&claim)
        ));
    }
    format!("API: {}; raw: {}", sizes[0], sizes[1])
}

fn load_label(pool: Pool, concurrency: usize) -> String {
    let wallets = if pool.len == 1 {
        "1 wallet".to_owned()
    } else {
        format!("{} wallets", pool.len)
    };
    format!(
        "{wallets}, {concurrency} writer{}",
        if concurrency == 1 { "" } else { "s" }
    )
}

#[tokio::main]
async fn main() {
    let seconds: f64 = env_or("BENCH_SECONDS", 8.0);
    let wallets: usize = env_or("BENCH_WALLETS", 1000);
    let warmup: f64 = env_or("BENCH_WARMUP_SECONDS", 3.0);
    let concurrency: Vec<usize> = env_or("BENCH_CONCURRENCY", "1,8,64".to_owned())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("BENCH_CONCURRENCY: numbers, comma-separated")
        })
        .collect();
    assert!(
        wallets >= 1 && seconds > 0.0,
        "BENCH_WALLETS ≥ 1, BENCH_SECONDS > 0"
    );

    // Wallet 0 is the hot one; wallets 1..=N are the spread pool.
    let count = wallets + 1;
    eprintln!("setting up: {count} customers credited {CREDIT} USD minor units each, and {count} raw wallet sets");
    let h = Harness::new().await;
    let raw = Raw {
        client: h.dynamodb_client().clone(),
        namespace: format!("raw{}", h.business_id),
        customers: (0..count)
            .map(|_| CustomerId::generate().to_string())
            .collect(),
        ok: (0..count).map(|_| AtomicU64::new(0)).collect(),
        commits: (0..count).map(|_| AtomicU64::new(0)).collect(),
    };
    let setup_instance = Arc::new(h.instance().await);
    let customers = Arc::new(std::sync::Mutex::new(vec![String::new(); count]));
    let failures = {
        let (instance, customers) = (setup_instance.clone(), customers.clone());
        for_each(count, move |i| {
            let (instance, customers) = (instance.clone(), customers.clone());
            async move {
                let customer = instance.customer().await;
                instance.credit(&customer, CREDIT).await;
                customers.lock().expect("customers")[i] = customer;
                Ok(())
            }
        })
        .await
    };
    assert!(failures.is_empty(), "set-up failed: {failures:?}");
    let customers = std::mem::take(&mut *customers.lock().expect("customers"));
    let bench = Arc::new(Bench {
        h,
        api_ok: (0..count).map(|_| AtomicU64::new(0)).collect(),
        customers,
        raw,
    });
    let failures = {
        let bench = bench.clone();
        for_each(count, move |i| {
            let bench = bench.clone();
            async move {
                bench.raw.create(i).await;
                Ok(())
            }
        })
        .await
    };
    assert!(failures.is_empty(), "raw set-up failed: {failures:?}");

    let pools = [
        Pool { first: 0, len: 1 },
        Pool {
            first: 1,
            len: wallets,
        },
    ];
    // Warm-up, not reported (its debits are verified too): DynamoDB Local's JIT and every code
    // path, so that the first cell is not the one that pays for them.
    let mut cell_id = 0;
    if warmup > 0.0 {
        eprintln!("warming up: {warmup} s per mode, 8 writers on the {wallets} wallets");
        for mode in MODES {
            cell_id += 1;
            run_cell(&bench, mode, pools[1], 8, warmup, cell_id).await;
        }
    }
    let mut rows = Vec::new();
    for pool in pools {
        for &writers in &concurrency {
            let mut cells = Vec::new();
            for mode in MODES {
                cell_id += 1;
                let cell = run_cell(&bench, mode, pool, writers, seconds, cell_id).await;
                eprintln!(
                    "{:<28} {:<12} {:>8.1} ops/s  p50 {:>7.1} ms  p99 {:>7.1} ms  {}",
                    load_label(pool, writers),
                    format!("{mode:?}"),
                    cell.ops_per_s(),
                    cell.quantile_ms(0.5),
                    cell.quantile_ms(0.99),
                    cell.errors()
                );
                cells.push(cell);
            }
            rows.push((load_label(pool, writers), cells));
        }
    }

    println!();
    println!("Debits of 1 USD minor unit, each with its own idempotency key; each writer starts operations for {seconds} s per cell, one after the other; ops/s = successes ÷ time until the last one finished; latency per operation, end to end, in ms, every request counted (errors too); ops/s counts successes.");
    println!("- raw: per operation, a consistent GetItem of the wallet set, then one TransactWriteItems of four puts: the wallet set (balance − 1, version + 1; condition `ver = <read>`), the entry `LED#<n>` in its ledger chunk and its copy in the USD ledger's chunk (condition `attribute_not_exists(pk)`), the idempotency item (condition `attribute_not_exists(pk)`); cancelled by a failed condition or a conflict, it backs off as the service does (full jitter, 2 ms doubling to 50 ms) and reads again, up to {ATTEMPTS_MAX} attempts. No API-key read. tries/op: attempts per successful operation.");
    println!("- API per instance: each writer has its own service instance (own DynamoDB client) and sends through the real handler one request at a time (Lambda). The API key comes from the instance's key cache (a GetItem per key every 5 s); the wallets from a consistent GetItem, or without one from what the instance saw in the last second (its own last write of them, or the stored wallets a refused write answered).");
    println!("- API shared: all writers send through one service instance at once (Lambda Managed Instances / concurrent mode); its requests for one customer take turns (one lane per customer), each planned from the instance's last write.");
    println!("- ratio: API ops/s ÷ raw ops/s.");
    println!();
    println!("| load | raw ops/s | raw p50 | raw p99 | raw tries/op | API/instance ops/s | p50 | p99 | ratio | API shared ops/s | p50 | p99 | ratio | errors |");
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
    for (load, cells) in &rows {
        let [raw, per_instance, shared] = cells.as_slice() else {
            unreachable!("three modes")
        };
        let ratio = |cell: &Cell| cell.ops_per_s() / raw.ops_per_s();
        let errors: Vec<String> = [
            ("raw", raw),
            ("per instance", per_instance),
            ("shared", shared),
        ]
        .iter()
        .filter(|(_, cell)| !cell.tally.errors.is_empty())
        .map(|(mode, cell)| format!("{mode}: {}", cell.errors()))
        .collect();
        println!(
            "| {load} | {:.0} | {:.1} | {:.1} | {:.2} | {:.0} | {:.1} | {:.1} | {:.2} | {:.0} | {:.1} | {:.1} | {:.2} | {} |",
            raw.ops_per_s(),
            raw.quantile_ms(0.5),
            raw.quantile_ms(0.99),
            raw.tally.tries as f64 / raw.tally.ok.max(1) as f64,
            per_instance.ops_per_s(),
            per_instance.quantile_ms(0.5),
            per_instance.quantile_ms(0.99),
            ratio(per_instance),
            shared.ops_per_s(),
            shared.quantile_ms(0.5),
            shared.quantile_ms(0.99),
            ratio(shared),
            if errors.is_empty() { "none".to_owned() } else { errors.join("; ") }
        );
    }
    // Batches: entries per second through POST /wallets/ledger-entries/batch, against the
    // single-entry API on one wallet (one writer) and the raw single-entry ceiling on the pool.
    let batch_size: usize = env_or("BENCH_BATCH", 1000);
    let single_hot = rows
        .iter()
        .find(|(load, _)| load == &load_label(pools[0], 1))
        .map(|(_, cells)| cells[1].ops_per_s());
    let raw_ceiling = rows
        .iter()
        .filter(|(load, _)| load.starts_with(&format!("{wallets} wallets")))
        .map(|(_, cells)| cells[0].ops_per_s())
        .fold(0.0, f64::max);
    let batch_loads = [
        (
            "1 wallet, 1 writer",
            BatchLoad {
                pool: pools[0],
                writers: 1,
                size: batch_size,
                spread: 1,
            },
        ),
        (
            &*format!("{wallets} wallets, 1 writer, items over all"),
            BatchLoad {
                pool: pools[1],
                writers: 1,
                size: batch_size,
                spread: wallets,
            },
        ),
        (
            &*format!("{wallets} wallets, 8 writers, items over all"),
            BatchLoad {
                pool: pools[1],
                writers: 8,
                size: batch_size,
                spread: wallets,
            },
        ),
        (
            &*format!("{wallets} wallets, 8 writers, each batch over 100"),
            BatchLoad {
                pool: pools[1],
                writers: 8,
                size: batch_size,
                spread: 100,
            },
        ),
    ]
    .map(|(label, load)| (label.to_owned(), load));
    cell_id += 1;
    let raw_batch = raw_batch_ceiling(&bench, pools[0].first, seconds, cell_id).await;
    eprintln!(
        "raw batch ceiling, 1 wallet, 1 writer       {:>8.1} entries/s  transaction p50 {:>7.1} ms  {}",
        raw_batch.ops_per_s(),
        raw_batch.quantile_ms(0.5),
        raw_batch.errors()
    );
    let mut batch_rows = Vec::new();
    for (label, load) in batch_loads {
        cell_id += 1;
        let cell = run_batches(&bench, load, seconds, cell_id).await;
        eprintln!(
            "batch {label:<40} {:>8.1} entries/s  batch p50 {:>7.1} ms  p99 {:>7.1} ms  {}",
            cell.ops_per_s(),
            cell.quantile_ms(0.5),
            cell.quantile_ms(0.99),
            cell.errors()
        );
        batch_rows.push((label, load, cell));
    }
    println!();
    println!("Batches of {batch_size} debits of 1 (POST /wallets/ledger-entries/batch, real handler, one service instance per writer, each item its own idempotency key): entries applied per second; latency per batch. vs single: ÷ the API's single-entry ops/s on one wallet with one writer (per instance) above; vs raw: ÷ the best raw single-entry ops/s on the {wallets} wallets above.");
    println!();
    println!("Raw batch ceiling: one writer on one raw wallet, each transaction the wallet set and 33 debits with their currency copies and idempotency items (100 puts, after a consistent GetItem), as the service writes a batch: {:.0} entries/s (transaction p50 {:.1} ms). vs raw batch: ÷ that.", raw_batch.ops_per_s(), raw_batch.quantile_ms(0.5));
    println!();
    println!("| batch load | entries/s | batch p50 ms | batch p99 ms | vs single (1 wallet) | vs raw ({wallets} wallets) | vs raw batch | not applied |");
    println!("|---|--:|--:|--:|--:|--:|--:|---|");
    for (label, load, cell) in &batch_rows {
        let versus = |base: Option<f64>| {
            base.map_or("-".to_owned(), |b| format!("{:.1}x", cell.ops_per_s() / b))
        };
        println!(
            "| {label} | {:.0} | {:.1} | {:.1} | {} | {} | {:.2} | {} |",
            cell.ops_per_s(),
            cell.quantile_ms(0.5),
            cell.quantile_ms(0.99),
            if load.pool.len == 1 {
                versus(single_hot)
            } else {
                "-".to_owned()
            },
            if load.pool.len == 1 {
                "-".to_owned()
            } else {
                versus(Some(raw_ceiling))
            },
            cell.ops_per_s() / raw_batch.ops_per_s(),
            if cell.tally.errors.is_empty() {
                "none".to_owned()
            } else {
                cell.errors()
            }
        );
    }
    println!();
    println!("Item sizes of one debit: {}", item_sizes(&bench).await);

    let failures = verify(&bench).await;
    let api_debits: u64 = bench.api_ok.iter().map(|n| n.load(Ordering::Relaxed)).sum();
    let raw_debits: u64 = bench.raw.ok.iter().map(|n| n.load(Ordering::Relaxed)).sum();
    if !failures.is_empty() {
        for (wallet, why) in &failures {
            eprintln!("wallet {wallet}: {why}");
        }
        eprintln!("NOT verified: {} wallets differ", failures.len());
        std::process::exit(1);
    }
    println!(
        "verified: all {count} API wallets (balance = credit − the {api_debits} debits that answered 200; one entry per success plus the credit; every ledger chains, `assert_chain` over all its entries) and all {count} raw wallets (balance and version match the {raw_debits} raw debits)"
    );
}
