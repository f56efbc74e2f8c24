//! Dashboard benchmark (issue 20, item 7), on DynamoDB Local: server time of the main pages
//! beside the JSON routes that read the same data, the DynamoDB calls and read units of each,
//! and each page's weight.
//!
//! One business with realistic data ([`Seed::REALISTIC`]: 30 customers, one with 300 ledger
//! entries in USD and INR and 5 pending holds, 5 webhook endpoints, 5 API keys), signed in.
//! Server time is the handler's time in this process: `web::handle` for a page (with its session
//! cookie), `api::handle` for a JSON route (with the API key), each request built before the
//! clock starts and answered 200. Warm: `BENCH_WARMUP` rounds first, not reported; then
//! `BENCH_REQUESTS` rounds, one request at a time. A round sends the page and then each of its
//! JSON routes, so a drift of DynamoDB Local's speed touches both sides alike; the "sum" of a
//! round is the time of its JSON routes one after another, as one client calling them.
//!
//! Beside them, measured in the same run: the raw DynamoDB floor, one consistent `GetItem` of a
//! 600-byte item and one consistent `Query` of 25 such items with the SDK client directly.
//!
//! Page weight: gzip -9 of the page's HTML plus each CSS and JS asset it links (the system's
//! `gzip`), against the 60 KB budget; the test `tests/dashboard_weight.rs` checks the same.
//!
//! A benchmark, not a timed test: it asserts no speed; it exits 1 only if a page is over the
//! weight budget.
//!
//! Run: `./infra/bench.sh dashboard` (starts DynamoDB Local, builds with `--release`), or with
//! `DYNAMODB_ENDPOINT` set: `cargo run --release -p integration-tests --bin dashboard_bench`
//! (it prints which build it was; a debug build works too).

use std::str::FromStr;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::dashboard::{self, Seed, PAGE_WEIGHT_BUDGET};
use integration_tests::{Harness, Route, TEST_TABLE};
use lambda_http::http::StatusCode;
use lambda_http::Request;

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .unwrap_or_else(|_| panic!("{name}={raw} is not a valid value")),
        Err(_) => default,
    }
}

/// Times of one request kind, in ms, and what it cost in DynamoDB.
#[derive(Default, Clone)]
struct Series {
    ms: Vec<f64>,
    calls: u64,
    rcu: f64,
}

impl Series {
    fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    }
    fn p50(&self) -> f64 {
        self.quantile(0.50)
    }
    fn p99(&self) -> f64 {
        self.quantile(0.99)
    }
    fn calls_per(&self) -> f64 {
        self.calls as f64 / self.ms.len() as f64
    }
    fn rcu_per(&self) -> f64 {
        self.rcu / self.ms.len() as f64
    }
}

/// A JSON route with its request (built anew for each round).
struct Json {
    label: &'static str,
    make: Box<dyn Fn() -> (Route, Request)>,
}

/// A page and the JSON routes it is compared with.
struct Case {
    name: &'static str,
    path: String,
    json: Vec<Json>,
    /// Sums of several of `json` (a label and the routes' indexes).
    sums: Vec<(&'static str, Vec<usize>)>,
}

async fn time_page(h: &Harness, cookie: &str, path: &str, series: &mut Series) {
    let request = dashboard::page_request(path, cookie);
    h.take_usage();
    let started = Instant::now();
    let response = web::handle(h.service(), request).await;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let usage = h.take_usage();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    series.ms.push(elapsed);
    series.calls += u64::from(usage.calls);
    series.rcu += usage.read_units;
}

async fn time_json(h: &Harness, json: &Json, series: &mut Series) -> f64 {
    let (route, request) = (json.make)();
    h.take_usage();
    let started = Instant::now();
    let response = api::handle(h.service(), route, request).await;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    let usage = h.take_usage();
    assert_eq!(response.status(), StatusCode::OK, "{}", json.label);
    series.ms.push(elapsed);
    series.calls += u64::from(usage.calls);
    series.rcu += usage.read_units;
    elapsed
}

struct Measured {
    page: Series,
    json: Vec<Series>,
    sums: Vec<Series>,
}

async fn measure(h: &Harness, cookie: &str, case: &Case, warmup: usize, rounds: usize) -> Measured {
    let mut measured = Measured {
        page: Series::default(),
        json: vec![Series::default(); case.json.len()],
        sums: vec![Series::default(); case.sums.len()],
    };
    for round in 0..warmup + rounds {
        let mut page = Series::default();
        time_page(h, cookie, &case.path, &mut page).await;
        let mut json = vec![Series::default(); case.json.len()];
        for (route, series) in case.json.iter().zip(json.iter_mut()) {
            time_json(h, route, series).await;
        }
        if round < warmup {
            continue;
        }
        measured.page.ms.extend(page.ms);
        measured.page.calls += page.calls;
        measured.page.rcu += page.rcu;
        for (total, one) in measured.json.iter_mut().zip(&json) {
            total.ms.extend(&one.ms);
            total.calls += one.calls;
            total.rcu += one.rcu;
        }
        for ((_, members), sum) in case.sums.iter().zip(measured.sums.iter_mut()) {
            sum.ms.push(members.iter().map(|&i| json[i].ms[0]).sum());
            sum.calls += members.iter().map(|&i| json[i].calls).sum::<u64>();
            sum.rcu += members.iter().map(|&i| json[i].rcu).sum::<f64>();
        }
    }
    measured
}

/// The raw DynamoDB floor: consistent GetItem of one item, consistent Query of 25.
async fn raw_floor(h: &Harness, warmup: usize, rounds: usize) -> (Series, Series) {
    let client = h.dynamodb_client();
    let pk = format!("BENCH#{}", h.business_id);
    let filler = "x".repeat(520);
    for i in 0..25 {
        client
            .put_item()
            .table_name(TEST_TABLE)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("sk", AttributeValue::S(format!("ITEM#{i:03}")))
            .item("filler", AttributeValue::S(filler.clone()))
            .send()
            .await
            .expect("raw put");
    }
    let (mut get, mut query) = (Series::default(), Series::default());
    for round in 0..warmup + rounds {
        let started = Instant::now();
        let got = client
            .get_item()
            .table_name(TEST_TABLE)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S("ITEM#000".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("raw get");
        let get_ms = started.elapsed().as_secs_f64() * 1e3;
        assert!(got.item.is_some());
        let started = Instant::now();
        let found = client
            .query()
            .table_name(TEST_TABLE)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .limit(25)
            .send()
            .await
            .expect("raw query");
        let query_ms = started.elapsed().as_secs_f64() * 1e3;
        assert_eq!(found.count, 25);
        if round >= warmup {
            get.ms.push(get_ms);
            get.calls += 1;
            query.ms.push(query_ms);
            query.calls += 1;
        }
    }
    (get, query)
}

fn json_route(
    h: &Harness,
    label: &'static str,
    route: Route,
    customer: Option<&str>,
    query: &[(&str, &str)],
) -> Json {
    let h = h.clone();
    let customer = customer.map(str::to_owned);
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Json {
        label,
        make: Box::new(move || {
            let mut request = h.request(route);
            if let Some(customer) = &customer {
                request = request.customer(customer);
            }
            for (name, value) in &query {
                request = request.query(name, value);
            }
            (route, request.build())
        }),
    }
}

fn ratio(page: f64, json: f64) -> String {
    let r = page / json;
    if r > 1.5 {
        format!("**{r:.2}**")
    } else {
        format!("{r:.2}")
    }
}

#[tokio::main]
async fn main() {
    let rounds: usize = env_or("BENCH_REQUESTS", 200);
    let warmup: usize = env_or("BENCH_WARMUP", 20);
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    // A stand-in for the network: DynamoDB Local answers on loopback, and on its one SQLite
    // thread, so two calls at once cost as much as one after the other there. With
    // BENCH_CALL_LATENCY_MS = d, every store call (page and JSON alike) first waits a uniform
    // 0..2d ms (mean d), as a call to DynamoDB from Lambda waits on the network: reads a page
    // makes at once then overlap as they would on AWS.
    let latency_ms: u64 = env_or("BENCH_CALL_LATENCY_MS", 0);
    let h = if latency_ms == 0 {
        Harness::new().await
    } else {
        let faults = shared::adapters::faulty::Faults {
            latency: 1.0,
            latency_max: std::time::Duration::from_millis(2 * latency_ms),
            ..shared::adapters::faulty::Faults::NONE
        };
        Harness::with_faults(7, faults).await
    };
    if latency_ms > 0 {
        eprintln!(
            "every store call waits a uniform 0..{} ms first (mean {latency_ms} ms)",
            2 * latency_ms
        );
    }
    let seeding = Instant::now();
    let customer = dashboard::seed(&h, Seed::REALISTIC).await;
    let cookie = dashboard::session_cookie(&h).await;
    eprintln!(
        "seeded {:?} in {:.1} s; {rounds} rounds after {warmup} warm-up rounds ({build} build)",
        Seed::REALISTIC,
        seeding.elapsed().as_secs_f64()
    );
    let c = Some(customer.as_str());
    let cases = vec![
        Case {
            name: "Customers",
            path: "/dashboard/customers".into(),
            json: vec![json_route(
                &h,
                "GET /customers?page_size=25",
                Route::ListCustomers,
                None,
                &[("page_size", "25")],
            )],
            sums: vec![],
        },
        Case {
            name: "Customer",
            path: format!("/dashboard/customers/{customer}"),
            json: vec![
                json_route(&h, "GET /customers/{id}", Route::GetCustomer, c, &[]),
                json_route(&h, "GET …/wallets", Route::ListWallets, c, &[]),
                json_route(
                    &h,
                    "GET …/ledger-entries?page_size=20",
                    Route::ListLedgerEntries,
                    c,
                    &[("page_size", "20")],
                ),
                json_route(
                    &h,
                    "GET …/holds?status=pending&page_size=50",
                    Route::ListHolds,
                    c,
                    &[("status", "pending"), ("page_size", "50")],
                ),
                json_route(
                    &h,
                    "GET …/ledger-entries?currency=USD&page_size=100",
                    Route::ListLedgerEntries,
                    c,
                    &[("currency", "USD"), ("page_size", "100")],
                ),
                json_route(
                    &h,
                    "GET …/ledger-entries?currency=INR&page_size=100",
                    Route::ListLedgerEntries,
                    c,
                    &[("currency", "INR"), ("page_size", "100")],
                ),
            ],
            sums: vec![
                (
                    "sum: customer + wallets + ledger + holds (4 calls)",
                    vec![0, 1, 2, 3],
                ),
                (
                    "sum: the same data, with the charts' 100 entries per currency (6 calls)",
                    vec![0, 1, 2, 3, 4, 5],
                ),
            ],
        },
        Case {
            name: "Webhooks",
            path: "/dashboard/webhooks".into(),
            json: vec![json_route(
                &h,
                "GET /webhooks",
                Route::ListWebhooks,
                None,
                &[],
            )],
            sums: vec![],
        },
        Case {
            name: "API keys",
            path: "/dashboard/api-keys".into(),
            json: vec![json_route(
                &h,
                "GET /api-keys",
                Route::ListApiKeys,
                None,
                &[],
            )],
            sums: vec![],
        },
    ];

    let (raw_get, raw_query) = raw_floor(&h, warmup, rounds).await;
    let mut rows = Vec::new();
    let mut weights = Vec::new();
    for case in &cases {
        let measured = measure(&h, &cookie, case, warmup, rounds).await;
        let page = &measured.page;
        let mut compare = |label: &str, json: &Series| {
            rows.push(format!(
                "| {} | {:.1} | {:.1} | {label} | {:.1} | {:.1} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} |",
                case.name,
                page.p50(),
                page.p99(),
                json.p50(),
                json.p99(),
                ratio(page.p50(), json.p50()),
                ratio(page.p99(), json.p99()),
                page.calls_per(),
                json.calls_per(),
                page.rcu_per(),
                json.rcu_per(),
            ));
        };
        for (route, json) in case.json.iter().zip(&measured.json) {
            compare(route.label, json);
        }
        for ((label, _), sum) in case.sums.iter().zip(&measured.sums) {
            compare(label, sum);
        }
        let html = dashboard::page_html(&h, &cookie, &case.path).await;
        weights.push((case.name, html.len(), dashboard::weight(&html)));
    }

    println!(
        "\nServer time, {rounds} sequential requests each after {warmup} warm-up rounds ({build} build), DynamoDB Local; ratio = page / JSON (target ≤ 1.5, over it in bold)\n"
    );
    println!("| page | page p50 ms | page p99 ms | JSON route(s) | JSON p50 ms | JSON p99 ms | ratio p50 | ratio p99 | DynamoDB calls page / JSON | RCU page / JSON |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        println!("{row}");
    }
    println!(
        "| raw DynamoDB floor (same run) | | | consistent GetItem, 1 item of 600 B | {:.1} | {:.1} | | | {:.0} | |",
        raw_get.p50(),
        raw_get.p99(),
        raw_get.calls_per(),
    );
    println!(
        "| | | | consistent Query, 25 items of 600 B | {:.1} | {:.1} | | | {:.0} | |",
        raw_query.p50(),
        raw_query.p99(),
        raw_query.calls_per(),
    );

    println!(
        "\nPage weight, gzip -9 (budget {PAGE_WEIGHT_BUDGET} B: HTML + CSS + JS, without images)\n"
    );
    println!("| page | HTML bytes | HTML gzip | CSS + JS gzip (assets linked) | total gzip | of budget |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut over = false;
    for (name, raw, weight) in &weights {
        over |= weight.total() >= PAGE_WEIGHT_BUDGET;
        println!(
            "| {name} | {raw} | {} | {} ({}) | {} | {:.0} % |",
            weight.html,
            weight.assets,
            weight.linked,
            weight.total(),
            100.0 * weight.total() as f64 / PAGE_WEIGHT_BUDGET as f64
        );
    }
    if over {
        eprintln!("a page is over the weight budget");
        std::process::exit(1);
    }
}
