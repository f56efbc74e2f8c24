//! What the dashboard bench (`src/bin/dashboard_bench.rs`) and the page-weight test
//! (`tests/dashboard_weight.rs`) share: a business with realistic data, pages fetched through
//! the real page handler ([`web::handle`]) with a session cookie, and a page's weight as a
//! browser downloads it (gzip -9 of the HTML and of each asset it links).

use std::io::Write;
use std::process::{Command, Stdio};

use api::Route;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde_json::json;

use crate::Harness;

/// The budget of a page: HTML + CSS + JS, gzip -9, without images (issue 20, item 7).
pub const PAGE_WEIGHT_BUDGET: usize = 60 * 1024;

/// How much data [`seed`] makes.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    /// Customers besides the seeded one (the list page shows 25).
    pub other_customers: usize,
    /// Ledger entries of the seeded customer, over USD and INR (an opening credit in each, then
    /// two of three in USD).
    pub entries: usize,
    /// Pending holds of the seeded customer, alternating USD and INR.
    pub holds: usize,
    /// Webhook endpoints of the business.
    pub webhooks: usize,
    /// API keys of the business besides its first.
    pub keys: usize,
}

impl Seed {
    /// A realistic business: 30 customers, one of them with 300 entries in two currencies and
    /// 5 pending holds, 5 webhook endpoints, 5 API keys.
    pub const REALISTIC: Seed = Seed {
        other_customers: 29,
        entries: 300,
        holds: 5,
        webhooks: 5,
        keys: 4,
    };
}

fn ok(reply: &crate::Reply, what: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
}

/// Makes `seed`'s data for `h`'s business through the API; the seeded customer's id.
pub async fn seed(h: &Harness, seed: Seed) -> String {
    // Emails differ between seeds of one business.
    let tag = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    for i in 0..seed.other_customers {
        let reply = h
            .request(Route::CreateCustomer)
            .json(json!({"email": format!("customer{i}.{tag}@example.com"), "name": format!("Customer {i}")}))
            .send()
            .await;
        ok(&reply, "create customer");
    }
    let reply = h
        .request(Route::CreateCustomer)
        .json(json!({
            "email": format!("ada.{tag}@example.com"), "name": "Ada Lovelace", "phone_number": "+14155550100",
            "metadata": {"plan": "pro", "region": "eu-west-1"}
        }))
        .send()
        .await;
    ok(&reply, "create the seeded customer");
    let customer = reply.body["customer_id"].as_str().unwrap().to_owned();
    // Opening balances, then small debits and credits: every debit fits.
    for currency in ["USD", "INR"].into_iter().take(seed.entries) {
        let body = json!({"amount": 10_000_000, "currency": currency, "entry_type": "credit", "reason": "opening balance"});
        ok(&h.entry(&customer, body).await, "opening credit");
    }
    for i in 2..seed.entries {
        let currency = if i % 3 == 2 { "INR" } else { "USD" };
        let (entry_type, event_type) = match i % 4 {
            0 => ("credit", "merchant_adjustment"),
            1 => ("debit", "payment"),
            2 => ("debit", "payment"),
            _ => ("credit", "refund"),
        };
        let body = json!({
            "amount": 100 + (i as i64 * 37) % 5_000, "currency": currency, "entry_type": entry_type,
            "event_type": event_type, "reason": format!("order #{} for Ada", 10_000 + i),
            "reference_object_id": format!("inv_{:08}", 40_000 + i),
        });
        ok(&h.entry(&customer, body).await, "ledger entry");
    }
    for i in 0..seed.holds {
        let currency = if i % 2 == 0 { "USD" } else { "INR" };
        let reply = h
            .request(Route::CreateHold)
            .customer(&customer)
            .json(json!({"amount": 500 + i as i64, "currency": currency, "reason": format!("ride {i} in progress")}))
            .send()
            .await;
        ok(&reply, "hold");
    }
    for i in 0..seed.webhooks {
        let reply = h
            .request(Route::CreateWebhook)
            .json(json!({"url": format!("http://127.0.0.1:9/hook-{i}"), "description": format!("endpoint {i}")}))
            .send()
            .await;
        ok(&reply, "webhook");
    }
    for i in 0..seed.keys {
        let reply = h
            .request(Route::CreateApiKey)
            .json(json!({"name": format!("key {i}")}))
            .send()
            .await;
        ok(&reply, "api key");
    }
    customer
}

/// Signs the business in with its key; the `cookie` header a browser then sends.
pub async fn session_cookie(h: &Harness) -> String {
    let (id, _) = h.service().sign_in(Some(&h.key)).await.expect("sign in");
    format!("cw_session={id}")
}

/// A `GET` of `path` (with its query) as the browser sends it.
pub fn page_request(path: &str, cookie: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("GET")
        .uri(path)
        .header("host", "127.0.0.1:3000")
        .header("cookie", cookie)
        .body(Body::Empty)
        .expect("request")
}

/// A page's HTML through the real page handler, asserting a 200.
pub async fn page_html(h: &Harness, cookie: &str, path: &str) -> String {
    // Boxed: a page handler is a deep future, too deep for a test thread's stack in a debug build.
    let response = Box::pin(web::handle(h.service(), page_request(path, cookie))).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    body_text(response.body())
}

pub fn body_text(body: &Body) -> String {
    match body {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Body::Empty => String::new(),
        _ => String::new(),
    }
}

/// The size of `bytes` after `gzip -9` (the system's gzip binary: no compression crate in the
/// workspace).
pub fn gzip_size(bytes: &[u8]) -> usize {
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the gzip binary (apt-get install gzip)");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).expect("write to gzip"));
    let output = child.wait_with_output().expect("gzip");
    writer.join().expect("writer");
    assert!(output.status.success(), "gzip failed");
    output.stdout.len()
}

/// A page's weight as a browser first downloads it, each part gzip -9.
#[derive(Debug, Clone, Copy)]
pub struct Weight {
    pub html: usize,
    /// The CSS and JS assets the page links.
    pub assets: usize,
    /// How many assets it links.
    pub linked: usize,
}

impl Weight {
    pub fn total(&self) -> usize {
        self.html + self.assets
    }
}

/// The weight of a page whose HTML is `html`: the HTML and each of [`web::assets::ALL`] whose
/// path it names (a page links its CSS and JS by path; there are no other files to fetch but
/// images, which the budget leaves out).
pub fn weight(html: &str) -> Weight {
    let linked: Vec<_> = web::assets::ALL
        .iter()
        .filter(|asset| html.contains(&asset.path()))
        .collect();
    Weight {
        html: gzip_size(html.as_bytes()),
        assets: linked.iter().map(|asset| gzip_size(asset.bytes)).sum(),
        linked: linked.len(),
    }
}
