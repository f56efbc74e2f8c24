//! Test harness: the real handlers ([`api::handle`]) against DynamoDB Local.
//!
//! Needs `DYNAMODB_ENDPOINT` (set by `infra/test.sh`, which starts DynamoDB Local). Each test
//! creates its own business, so tests share one table and run in parallel, isolated by tenancy.

use std::collections::HashMap;
use std::sync::Arc;

use api::{App, Route};
use lambda_http::http::{Method, StatusCode};
pub use lambda_http::Body;
use lambda_http::{Request, RequestExt};
use serde_json::Value;
use shared::{Config, DynamoStore, Wallets};

pub use serde_json::json;

/// Table the integration tests use.
pub const TEST_TABLE: &str = "customer-wallets-test";

/// The service under test and one business with its API key.
#[derive(Clone)]
pub struct Harness {
    pub app: Arc<App>,
    pub key: String,
    pub business_id: String,
}

/// A response: status and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Harness {
    /// Connects to DynamoDB Local, makes sure the table exists, and creates a fresh business.
    pub async fn new() -> Harness {
        let endpoint = std::env::var("DYNAMODB_ENDPOINT")
            .expect("integration tests need DynamoDB Local: run ./infra/test.sh (it starts it and sets DYNAMODB_ENDPOINT)");
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var(name).is_err() {
                // SAFETY: set before any thread of this test reads the environment.
                unsafe { std::env::set_var(name, value) };
            }
        }
        let config = Config::build(TEST_TABLE.to_owned(), Some(endpoint), "USD,INR", None)
            .expect("test configuration");
        let client = config.dynamodb_client().await;
        shared::store::table::create_table(&client, TEST_TABLE)
            .await
            .expect("create test table");
        let app = Wallets::new(DynamoStore::new(client, TEST_TABLE), config);
        let (business_id, key) = app
            .create_business("Test business")
            .await
            .expect("create business");
        Harness {
            app: Arc::new(app),
            key,
            business_id: business_id.to_string(),
        }
    }

    /// Another business on the same table, for tenancy tests.
    pub async fn other_business(&self) -> Harness {
        let (business_id, key) = self
            .app
            .create_business("Other business")
            .await
            .expect("create business");
        Harness {
            app: self.app.clone(),
            key,
            business_id: business_id.to_string(),
        }
    }

    /// Calls a route through the real handler with this business's key.
    pub async fn call(
        &self,
        route: Route,
        customer_id: Option<&str>,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.call_raw(route, customer_id, query, raw.as_deref(), Some(&self.key))
            .await
    }

    /// Calls a route with a raw body and any (or no) key.
    pub async fn call_raw(
        &self,
        route: Route,
        customer_id: Option<&str>,
        query: &[(&str, &str)],
        body: Option<&str>,
        key: Option<&str>,
    ) -> Reply {
        let body = Body::from(body.unwrap_or("").to_owned());
        self.call_with_body(route, customer_id, query, body, key)
            .await
    }

    /// Calls a route with any body, e.g. bytes that are not UTF-8 (`Body::Binary`, as API Gateway
    /// delivers a base64-encoded body).
    pub async fn call_with_body(
        &self,
        route: Route,
        customer_id: Option<&str>,
        query: &[(&str, &str)],
        body: Body,
        key: Option<&str>,
    ) -> Reply {
        let params: Vec<(&str, &str)> = customer_id
            .map(|id| ("customer_id", id))
            .into_iter()
            .collect();
        self.send_body(route, &params, query, body, key).await
    }

    /// Calls a route with path parameters (`customer_id`, `hold_id`, `invoice_id`).
    pub async fn call_at(
        &self,
        route: Route,
        params: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let raw = body.map(|b| b.to_string());
        self.send(route, params, &[], raw.as_deref(), Some(&self.key))
            .await
    }

    /// Sends one request with a text body through the real handler.
    pub async fn send(
        &self,
        route: Route,
        params: &[(&str, &str)],
        query: &[(&str, &str)],
        body: Option<&str>,
        key: Option<&str>,
    ) -> Reply {
        let body = Body::from(body.unwrap_or("").to_owned());
        self.send_body(route, params, query, body, key).await
    }

    /// Sends one request through the real handler.
    pub async fn send_body(
        &self,
        route: Route,
        params: &[(&str, &str)],
        query: &[(&str, &str)],
        body: Body,
        key: Option<&str>,
    ) -> Reply {
        let spec = route.spec();
        let path = params
            .iter()
            .fold(spec.path.to_owned(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value)
            });
        let mut builder = lambda_http::http::Request::builder()
            .method(Method::from_bytes(spec.method.as_bytes()).expect("route method"))
            .uri(path);
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        let request: Request = builder.body(body).expect("request");
        let params: HashMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let query: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let request = request
            .with_path_parameters(params)
            .with_query_string_parameters(query);
        let response = api::handle(&self.app, route, request).await;
        let status = response.status();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Reply { status, body }
    }

    /// Places a hold on the customer's USD wallet.
    pub async fn hold(&self, customer_id: &str, amount: i64) -> Reply {
        self.call_at(
            Route::CreateHold,
            &[("customer_id", customer_id)],
            Some(json!({"amount": amount, "currency": "USD"})),
        )
        .await
    }

    /// Captures a hold (all of it when `amount` is `None`).
    pub async fn capture(&self, customer_id: &str, hold_id: &str, amount: Option<i64>) -> Reply {
        let body = amount.map(|a| json!({ "amount": a }));
        self.call_at(
            Route::CaptureHold,
            &[("customer_id", customer_id), ("hold_id", hold_id)],
            body,
        )
        .await
    }

    /// The USD wallet as the API shows it.
    pub async fn usd_wallet(&self, customer_id: &str) -> Value {
        let wallets = self.wallets(customer_id).await;
        wallets["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|w| w["currency"] == "USD")
            .expect("USD wallet")
            .clone()
    }

    /// Every hold of the customer (all pages).
    pub async fn all_holds(&self, customer_id: &str) -> Vec<Value> {
        self.all_pages(Route::ListHolds, customer_id, &[]).await
    }

    /// Every item of a paged list route, page by page.
    pub async fn all_pages(
        &self,
        route: Route,
        customer_id: &str,
        filters: &[(&str, &str)],
    ) -> Vec<Value> {
        let mut all = Vec::new();
        for page in 0.. {
            let page = page.to_string();
            let mut query = vec![("page_number", page.as_str()), ("page_size", "100")];
            query.extend_from_slice(filters);
            let reply = self
                .send(
                    route,
                    &[("customer_id", customer_id)],
                    &query,
                    None,
                    Some(&self.key),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            let items = reply.body["items"].as_array().expect("items").clone();
            if items.is_empty() {
                return all;
            }
            all.extend(items);
        }
        unreachable!()
    }

    /// Creates a customer and returns its id.
    pub async fn customer(&self) -> String {
        let reply = self
            .call(
                Route::CreateCustomer,
                None,
                &[],
                Some(json!({"email": "ada@example.com", "name": "Ada"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body["customer_id"]
            .as_str()
            .expect("customer_id")
            .to_owned()
    }

    /// Posts a ledger entry.
    pub async fn entry(&self, customer_id: &str, body: Value) -> Reply {
        self.call(Route::CreateLedgerEntry, Some(customer_id), &[], Some(body))
            .await
    }

    /// Credits `amount` USD, asserting success.
    pub async fn credit(&self, customer_id: &str, amount: i64) {
        let reply = self
            .entry(
                customer_id,
                json!({"amount": amount, "currency": "USD", "entry_type": "credit"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    /// The customer's wallets as the API shows them.
    pub async fn wallets(&self, customer_id: &str) -> Value {
        let reply = self
            .call(Route::ListWallets, Some(customer_id), &[], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body
    }

    /// The balance of one currency.
    pub async fn balance(&self, customer_id: &str, currency: &str) -> i64 {
        let wallets = self.wallets(customer_id).await;
        wallets["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|w| w["currency"] == currency)
            .expect("wallet")["balance"]
            .as_i64()
            .expect("balance")
    }

    /// Every ledger entry of the customer, newest first, read page by page.
    pub async fn all_entries(&self, customer_id: &str, currency: Option<&str>) -> Vec<Value> {
        let filters: Vec<(&str, &str)> = currency.map(|c| ("currency", c)).into_iter().collect();
        self.all_pages(Route::ListLedgerEntries, customer_id, &filters)
            .await
    }
}

/// Runs `count` requests at once (each on its own task) and returns their replies in order.
pub async fn race<F, Fut>(count: usize, make: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let tasks: Vec<_> = (0..count).map(|i| tokio::spawn(make(i))).collect();
    let mut replies = Vec::with_capacity(count);
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    replies
}

/// Asserts an error reply: the status, a `code` and a non-empty `message`.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.body["code"], code, "body: {}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {}",
        reply.body
    );
}

/// Asserts that the entries chain (each before = the next older after) and sum to `balance`.
pub fn assert_chain(entries_newest_first: &[Value], balance: i64) {
    let mut expected_before = 0;
    let mut sum = 0;
    for entry in entries_newest_first.iter().rev() {
        let amount = entry["amount"].as_i64().expect("amount");
        let signed = if entry["is_credit"].as_bool().expect("is_credit") {
            amount
        } else {
            -amount
        };
        assert_eq!(
            entry["before_balance"].as_i64(),
            Some(expected_before),
            "chain broken at {entry}"
        );
        assert_eq!(
            entry["after_balance"].as_i64(),
            Some(expected_before + signed),
            "after != before + amount at {entry}"
        );
        expected_before += signed;
        sum += signed;
    }
    assert_eq!(sum, balance, "sum of entries differs from the balance");
}
