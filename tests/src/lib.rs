//! Test harness: the real handlers ([`api::handle`]) against DynamoDB Local.
//!
//! Needs `DYNAMODB_ENDPOINT` (set by `infra/test.sh`, which starts DynamoDB Local). Each test
//! creates its own business, so tests share one table and run in parallel, isolated by tenancy.
//!
//! - [`Harness::request`]: the one way to send a request ([`RequestBuilder`]).
//! - `fixtures`: the requests tests share (`customer`, `credit`, `hold`, `all_entries`, …), as
//!   methods of [`Harness`].
//! - `assertions`: the checks tests share ([`assert_error`], [`assert_chain`], …).
//!
//! This file is the only one that touches the service itself: [`service`] builds it, and the
//! methods beside it ([`Harness::take_usage`], [`Harness::dynamodb_client`], …) reach into it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Request, Response};
use serde_json::Value;
use shared::adapters::dynamo::{table, DynamoStore};
use shared::adapters::faulty::{FaultCounts, Faults, FaultyStore};
use shared::holds::model::HoldRef;
use shared::kernel::{SystemClock, Timestamp};
use shared::ports::HoldStore;
use shared::{Config, DomainResult, Service};

mod assertions;
pub mod cards;
pub mod dashboard;
mod fixtures;
pub mod gateways;
pub mod policies;
mod request;
pub mod webhooks;

pub use api::Route;
pub use assertions::{
    assert_chain, assert_error, assert_only, item_strings, pending_and_available, successes,
};
pub use lambda_http::Body;
pub use request::RequestBuilder;
pub use serde_json::json;
pub use shared::adapters::dynamo::meter::Usage;

/// The service under test: the real one on DynamoDB Local, behind a fault injector that injects
/// nothing unless a test asks ([`Harness::with_faults`]).
pub type App = Service<FaultyStore<DynamoStore>, SystemClock>;

/// The Stripe webhook signing secret of the services under test.
pub const STRIPE_WEBHOOK_TEST_SECRET: &str = "whsec_integration_tests";

/// Table the integration tests use.
pub const TEST_TABLE: &str = "customer-wallets-test";

/// The service under test and one business with its API key.
#[derive(Clone)]
pub struct Harness {
    app: Arc<App>,
    pub key: String,
    pub business_id: String,
}

/// A response: status and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

/// `app` on the same store, injecting no faults.
fn calm(app: &App) -> App {
    let store = FaultyStore::new(app.store().inner().clone(), 0, Faults::NONE);
    Service::new(store, SystemClock, app.config().clone())
}

/// Builds the service under test on [`TEST_TABLE`] at `endpoint`, creating the table if it is
/// missing. The one place that constructs the service from scratch ([`calm`] and
/// [`Harness::instance`] derive theirs from it).
async fn service(endpoint: String, seed: u64, faults: Faults) -> App {
    service_on(TEST_TABLE, Stream::On, endpoint, seed, faults).await
}

/// The portal signing key of the service under test.
pub const TEST_PORTAL_SIGNING_KEY: &str = "test-portal-signing-key-0123456789abcdef";

/// The mailbox of the service under test: `MAILBOX_DIR` when set (infra/test.sh), else a
/// directory under the system's temporary one. Tests find their mails by the address.
pub fn mailbox_dir() -> PathBuf {
    std::env::var("MAILBOX_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("customer-wallets-test-mailbox"))
}

/// Whether a table the harness creates has the table's stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    On,
    /// For a test that writes very many items and needs no stream: DynamoDB Local keeps every
    /// stream record 24 hours (in memory, even after its table is deleted) and, on every call
    /// to a table whose stream it opened later, walks all the records written before that
    /// table's first (docs/testing.md): 100,000 records made every later call about ten times
    /// slower, and the SDK tests' race failed.
    Off,
}

/// [`service`] on `table_name`, created if missing (with the stream or without it).
async fn service_on(
    table_name: &str,
    stream: Stream,
    endpoint: String,
    seed: u64,
    faults: Faults,
) -> App {
    let mut config = Config::build(table_name.to_owned(), Some(endpoint), "USD,INR", None)
        .expect("test configuration");
    // The tests' webhook receivers listen on 127.0.0.1.
    config.webhook_targets.allow_private = true;
    // Stripe's webhooks to `POST /stripe/webhooks` are signed with this (card_top_ups.rs).
    config.stripe_webhook_secret = Some(shared::config::Redacted(
        STRIPE_WEBHOOK_TEST_SECRET.to_owned(),
    ));
    // Settings check payment methods at the gateway: localstripe, when the run has one.
    if let Ok(base_url) = std::env::var("STRIPE_BASE_URL") {
        config.gateway = Some(shared::config::GatewayConfig {
            base_url,
            secret_key: "sk_test_local".to_owned(),
            flavor: "localstripe".to_owned(),
        });
    }
    // The portal: a test signing key, the local run's base URL, and a file mailbox.
    config.portal = shared::config::PortalConfig {
        signing_key: Some(
            shared::portal::tokens::SigningKey::parse(TEST_PORTAL_SIGNING_KEY).expect("test key"),
        ),
        public_base_url: Some("http://127.0.0.1:9000".to_owned()),
        mailer: shared::config::MailerConfig::Mailbox(mailbox_dir()),
    };
    let store = DynamoStore::connect(&config).await.metered();
    match stream {
        Stream::On => {
            table::create_table(store.client(), table_name)
                .await
                .expect("create test table");
        }
        Stream::Off => create_table_without_stream(store.client(), table_name).await,
    }
    Service::new(FaultyStore::new(store, seed, faults), SystemClock, config)
}

/// The table's definition ([`table`]) without its stream, unless the table exists.
async fn create_table_without_stream(client: &aws_sdk_dynamodb::Client, table_name: &str) {
    let result = client
        .create_table()
        .table_name(table_name)
        .billing_mode(table::BILLING_MODE)
        .set_attribute_definitions(Some(table::attribute_definitions()))
        .set_key_schema(Some(table::key_schema()))
        .set_global_secondary_indexes(Some(table::global_secondary_indexes()))
        .send()
        .await;
    if let Err(err) = result {
        let exists = err
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception());
        assert!(exists, "create table {table_name}: {err:?}");
    }
}

impl Harness {
    /// Connects to DynamoDB Local, makes sure the table exists, and creates a fresh business.
    pub async fn new() -> Harness {
        Harness::with_faults(0, Faults::NONE).await
    }

    /// A harness whose store fails as `faults` says, driven by `seed` (see `FaultyStore`).
    pub async fn with_faults(seed: u64, faults: Faults) -> Harness {
        let app = service(endpoint(), seed, faults).await;
        Harness::with_business(Arc::new(app), "Test business").await
    }

    /// A harness on a table of its own, `table_name`, created without the stream: for a test
    /// that writes a great many items straight to the table (see [`Stream::Off`]). Remove the
    /// table with [`Harness::delete_table`] at the end.
    pub async fn on_table_without_stream(table_name: &str) -> Harness {
        let app = service_on(table_name, Stream::Off, endpoint(), 0, Faults::NONE).await;
        Harness::with_business(Arc::new(app), "Test business").await
    }

    /// Deletes the harness's table (one of [`Harness::on_table_without_stream`]).
    pub async fn delete_table(&self) {
        let table_name = self.table_name();
        assert_ne!(table_name, TEST_TABLE, "the shared test table stays");
        self.dynamodb_client()
            .delete_table()
            .table_name(table_name)
            .send()
            .await
            .expect("delete the table");
    }

    /// The table the harness's service uses.
    pub fn table_name(&self) -> &str {
        &self.app.config().table_name
    }
}

/// DynamoDB Local's endpoint; sets the AWS variables the SDK needs if they are missing.
fn endpoint() -> String {
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
    endpoint
}

impl Harness {
    /// The same business and table through a store that injects no faults: for reading the
    /// state a faulty run left behind.
    pub fn without_faults(&self) -> Harness {
        Harness {
            app: Arc::new(calm(&self.app)),
            key: self.key.clone(),
            business_id: self.business_id.clone(),
        }
    }

    /// Another service instance for the same business and table, as a second Lambda instance
    /// would be: its own DynamoDB client (own connections), unmetered, injecting no faults. For
    /// the throughput benchmark (`src/bin/throughput.rs`).
    pub async fn instance(&self) -> Harness {
        let config = self.app.config().clone();
        let store = FaultyStore::new(DynamoStore::connect(&config).await, 0, Faults::NONE);
        let app = Service::new(store, SystemClock, config);
        Harness {
            app: Arc::new(app),
            key: self.key.clone(),
            business_id: self.business_id.clone(),
        }
    }

    /// The faults injected so far (none unless [`Harness::with_faults`]).
    pub fn fault_counts(&self) -> &FaultCounts {
        self.app.store().counts()
    }

    /// Another business on the same table, for tenancy tests.
    pub async fn other_business(&self) -> Harness {
        Harness::with_business(self.app.clone(), "Other business").await
    }

    /// A new business (created without faults) served by `app`.
    async fn with_business(app: Arc<App>, name: &str) -> Harness {
        let (business_id, key) = calm(&app)
            .create_business(name)
            .await
            .expect("create business");
        Harness {
            app,
            key,
            business_id: business_id.to_string(),
        }
    }

    /// Runs one request through the real handler of `route` ([`RequestBuilder::send`]).
    async fn handle(&self, route: Route, request: Request) -> Response<Body> {
        api::handle(&self.app, route, request).await
    }

    /// The DynamoDB capacity used since the last call.
    pub fn take_usage(&self) -> Usage {
        self.app.store().inner().take_usage()
    }

    /// The DynamoDB client the service uses.
    /// The same business and table through a service whose every commit lands and then never
    /// answers: a function killed between its commit and its answer.
    pub fn dying_after_commit(&self) -> Harness {
        let store = FaultyStore::new(self.app.store().inner().clone(), 0, Faults::NONE)
            .dying_after_commit();
        Harness {
            app: Arc::new(Service::new(store, SystemClock, self.app.config().clone())),
            key: self.key.clone(),
            business_id: self.business_id.clone(),
        }
    }

    /// The service under test, for operations that have no route (the dispatcher, the sweep).
    pub fn service(&self) -> &App {
        &self.app
    }

    /// The same service without faults, shared, for a background worker.
    pub fn calm_service(&self) -> Arc<App> {
        Arc::new(calm(&self.app))
    }

    pub fn dynamodb_client(&self) -> &aws_sdk_dynamodb::Client {
        self.app.store().inner().client()
    }

    /// The expiry sweep: expires up to `limit` holds (of every business) lapsed at `now`.
    pub async fn expire_holds(&self, now: Timestamp, limit: usize) -> DomainResult<usize> {
        self.app.expire_holds(now, limit).await
    }

    /// The store's expiry index: pending holds (of every business) lapsed at `now_ms`.
    pub async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        self.app.store().expired_holds(now_ms, limit).await
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

/// The workspace root, for tests that read its files (`Cargo.toml`, `template.yaml`, …).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

/// Every `.rs` file under `dir`, for tests that read the code.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}
