//! The route table, the cargo-lambda router, `template.yaml` and the function crates agree, and
//! the template's table is the one `shared::adapters::dynamo::table` creates.

use shared::payins::stripe_events::signature_header;
use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{KeySchemaElement, Projection};
use integration_tests::policies::{
    binary, condition_values, grants, index_arn, list, refusal, resources, template, text, Grant,
    TABLE,
};
use integration_tests::workspace_root as root;
use shared::adapters::dynamo::table;
use yaml_rust2::Yaml;

type RouteSet = BTreeSet<(String, String, String)>;

/// The functions that serve no route, with the one event that triggers each.
const TRIGGERED: &[(&str, &str)] = &[("webhook-dispatcher", "DynamoDB"), ("sweep", "ScheduleV2")];

/// The function that no event triggers: the dispatcher invokes it.
const INVOKED: &str = "webhook-deliverer";

/// (method, path, what serves it) of every route of the code; `serves` names the server.
fn from_code(serves: impl Fn(&api::routes::RouteSpec) -> String) -> RouteSet {
    api::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned(), serves(r)))
        .collect()
}

/// `create-ledger-entry` → `CreateLedgerEntryFunction`: the route's function in the template.
fn logical_id(spec: &api::routes::RouteSpec) -> String {
    logical_id_of(spec.function)
}

/// A function's logical id in the template: `get-customer` → `GetCustomerFunction`.
fn logical_id_of(function: &str) -> String {
    let mut id: String = function
        .split('-')
        .map(|word| word[..1].to_uppercase() + &word[1..])
        .collect();
    id.push_str("Function");
    id
}

fn from_cargo_router() -> RouteSet {
    router_entries(|path| !is_dashboard(path))
}

/// (Method, Path, function) of the cargo-lambda router's entries whose path `keep`s.
fn router_entries(keep: impl Fn(&str) -> bool) -> RouteSet {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("router table");
    let mut routes = RouteSet::new();
    for (path, targets) in router.iter().filter(|(path, _)| keep(path)) {
        for target in targets
            .as_array()
            .expect("each path lists method/function pairs")
        {
            routes.insert((
                target["method"].as_str().unwrap().to_owned(),
                path.clone(),
                target["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    routes
}

/// Whether a path is a page of the web crate (the dashboard's, the customer portal's and a
/// top-up link's; checked in `dashboard_pages_*`).
fn is_dashboard(path: &str) -> bool {
    ["/dashboard", "/portal", "/pay"]
        .iter()
        .any(|root| path == *root || path.starts_with(&format!("{root}/")))
}

/// Whether a binary serves a family of web pages (`web::Family`).
fn is_web_function(binary: &str) -> bool {
    web::Family::ALL.iter().any(|f| f.function() == binary)
}

/// (Method, Path, function) of every dashboard page in the cargo-lambda router.
fn dashboard_from_cargo_router() -> RouteSet {
    router_entries(is_dashboard)
}

/// (Method, Path, function) of every page of `web::PAGES`.
fn dashboard_from_code() -> RouteSet {
    web::PAGES
        .iter()
        .map(|p| {
            (
                p.method.to_owned(),
                p.path.to_owned(),
                p.family.function().to_owned(),
            )
        })
        .collect()
}

/// `dashboard-customers` → `DashboardCustomersFunction`.
fn dashboard_logical_id(function: &str) -> String {
    logical_id_of(function)
}

#[test]
fn dashboard_pages_are_routed_to_their_familys_function_locally_and_on_aws() {
    assert_eq!(dashboard_from_cargo_router(), dashboard_from_code());
    let mut on_aws = RouteSet::new();
    for (id, function) in dashboard_functions() {
        let binary = binary(&function, &id);
        assert_eq!(id, dashboard_logical_id(&binary), "{id} runs {binary}");
        for (_, event) in function["Properties"]["Events"].as_hash().expect("Events") {
            let properties = &event["Properties"];
            on_aws.insert((
                text(&properties["Method"], &id),
                text(&properties["Path"], &id),
                binary.clone(),
            ));
        }
    }
    assert_eq!(on_aws, dashboard_from_code());
    for family in web::Family::ALL {
        let main = root()
            .join("functions")
            .join(family.function())
            .join("src/main.rs");
        let text = std::fs::read_to_string(&main).unwrap();
        assert!(
            text.contains(&format!("web::serve(web::Family::{family:?})")),
            "{main:?}"
        );
    }
}

/// The assets need nothing of the table: their function has no policy at all.
#[test]
fn the_dashboard_assets_function_has_no_access_to_anything() {
    let (id, assets) = dashboard_functions()
        .into_iter()
        .find(|(id, f)| binary(f, id) == web::Family::Assets.function())
        .expect("the assets function");
    assert!(assets["Properties"]["Policies"].is_badvalue(), "{id}");
}

/// The template's functions that serve web pages (`dashboard-<family>`, `customer-portal`).
fn dashboard_functions() -> Vec<(String, Yaml)> {
    resources(&template(), "AWS::Serverless::Function")
        .into_iter()
        .filter(|(id, f)| is_web_function(&binary(f, id)))
        .collect()
}

/// The template's functions that serve routes.
fn http_functions() -> Vec<(String, Yaml)> {
    resources(&template(), "AWS::Serverless::Function")
        .into_iter()
        .filter(|(id, f)| {
            let binary = binary(f, id);
            binary != INVOKED
                && !is_web_function(&binary)
                && !TRIGGERED.iter().any(|(name, _)| *name == binary)
        })
        .collect()
}

/// (Method, Path, logical id) of every route of the template.
fn from_template() -> RouteSet {
    let mut routes = RouteSet::new();
    for (id, function) in http_functions() {
        for (_, event) in function["Properties"]["Events"].as_hash().expect("Events") {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"), "{id}'s event");
            let properties = &event["Properties"];
            routes.insert((
                text(&properties["Method"], &id),
                text(&properties["Path"], &id),
                id.clone(),
            ));
        }
    }
    routes
}

#[test]
fn the_stream_and_schedule_functions_have_their_crate_and_their_one_trigger() {
    let functions = resources(&template(), "AWS::Serverless::Function");
    for (binary, event_type) in TRIGGERED {
        assert!(root()
            .join("functions")
            .join(binary)
            .join("src/main.rs")
            .exists());
        let (id, function) = functions
            .iter()
            .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
            .unwrap_or_else(|| panic!("{binary} is in template.yaml"));
        let events: Vec<&str> = function["Properties"]["Events"]
            .as_hash()
            .expect("Events")
            .values()
            .map(|e| e["Type"].as_str().unwrap())
            .collect();
        assert_eq!(events, [*event_type], "{id}");
    }
}

#[test]
fn cargo_lambda_router_sends_each_route_of_the_code_to_its_own_binary() {
    assert_eq!(from_cargo_router(), from_code(|r| r.function.to_owned()));
}

#[test]
fn sam_template_has_one_function_per_route_of_the_code() {
    assert_eq!(from_template(), from_code(logical_id));
}

/// Each route's function runs its route's own binary, built alike from the workspace.
#[test]
fn every_http_function_runs_its_routes_own_binary() {
    let functions = http_functions();
    assert_eq!(functions.len(), api::ROUTES.len(), "one function per route");
    let (first_id, first) = &functions[0];
    for (id, function) in &functions {
        let spec = api::ROUTES
            .iter()
            .find(|spec| logical_id(spec) == *id)
            .unwrap_or_else(|| panic!("{id} is the function of a route"));
        assert_eq!(binary(function, id), spec.function, "{id}");
        for property in ["CodeUri", "Runtime", "Handler", "Architectures"] {
            assert_eq!(
                function["Properties"][property], first["Properties"][property],
                "{id}'s {property}"
            );
        }
    }
    assert_eq!(first["Properties"]["CodeUri"].as_str(), Some("."));
    assert_eq!(first_id, &logical_id(&api::ROUTES[0]));
}

#[test]
fn the_function_crates_are_one_per_route_and_the_triggered_ones() {
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected: BTreeSet<String> = TRIGGERED
        .iter()
        .map(|(name, _)| name.to_string())
        .chain(api::ROUTES.iter().map(|r| r.function.to_owned()))
        .chain(web::Family::ALL.iter().map(|f| f.function().to_owned()))
        .chain([INVOKED.to_owned()])
        .collect();
    assert_eq!(crates, expected);
}

/// A route's crate is named after its function, and its `main` serves that route's endpoint
/// (`api::endpoints::<Route>`) and no other.
#[test]
fn each_route_crate_serves_its_own_endpoint() {
    for spec in api::ROUTES {
        let dir = root().join("functions").join(spec.function);
        let manifest: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some(spec.function),
            "{}'s package name",
            spec.function
        );
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        let served: Vec<&str> = main
            .match_indices("api::endpoints::")
            .map(|(at, prefix)| {
                let rest = &main[at + prefix.len()..];
                &rest[..rest
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len())]
            })
            .collect();
        assert_eq!(
            served,
            [format!("{:?}", spec.route)],
            "functions/{}/src/main.rs",
            spec.function
        );
        assert!(
            main.contains(&format!("`{} {}`", spec.method, spec.path)),
            "functions/{}/src/main.rs names its route",
            spec.function
        );
    }
}

/// A table or index definition in the vocabulary both sides share (DynamoDB's API names, which
/// CloudFormation uses too); lists sorted where order carries no meaning.
#[derive(Debug, PartialEq)]
struct TableShape {
    billing_mode: String,
    /// (AttributeName, AttributeType)
    attributes: Vec<(String, String)>,
    /// (AttributeName, KeyType), in order: HASH first.
    key: Vec<(String, String)>,
    local_indexes: Vec<IndexShape>,
    global_indexes: Vec<IndexShape>,
    /// The stream's view type; `None` without a stream.
    stream: Option<String>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct IndexShape {
    name: String,
    key: Vec<(String, String)>,
    projection_type: String,
    non_key_attributes: Vec<String>,
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort();
    items
}

fn code_key(key: &[KeySchemaElement]) -> Vec<(String, String)> {
    key.iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect()
}

fn code_index(name: &str, key: &[KeySchemaElement], projection: Option<&Projection>) -> IndexShape {
    let projection = projection.expect("every index has a projection");
    IndexShape {
        name: name.to_owned(),
        key: code_key(key),
        projection_type: projection
            .projection_type()
            .expect("projection type")
            .as_str()
            .to_owned(),
        non_key_attributes: sorted(projection.non_key_attributes().iter().cloned()),
    }
}

/// What `table::create_table` sends.
fn table_from_code() -> TableShape {
    TableShape {
        billing_mode: table::BILLING_MODE.as_str().to_owned(),
        attributes: sorted(table::attribute_definitions().iter().map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })),
        key: code_key(&table::key_schema()),
        // None: a local index would cap a customer's items at 10 GB (the ledger is chunked).
        local_indexes: Vec::new(),
        global_indexes: sorted(
            table::global_secondary_indexes()
                .iter()
                .map(|i| code_index(i.index_name(), i.key_schema(), i.projection())),
        ),
        stream: Some(table::stream_specification())
            .filter(|s| s.stream_enabled())
            .map(|s| {
                s.stream_view_type()
                    .expect("an enabled stream has a view type")
                    .as_str()
                    .to_owned()
            }),
    }
}

fn template_key(key: &Yaml) -> Vec<(String, String)> {
    list(key, "KeySchema")
        .iter()
        .map(|k| {
            (
                text(&k["AttributeName"], "AttributeName"),
                text(&k["KeyType"], "KeyType"),
            )
        })
        .collect()
}

fn template_indexes(indexes: &Yaml) -> Vec<IndexShape> {
    if indexes.is_badvalue() {
        return Vec::new(); // none declared
    }
    sorted(list(indexes, "indexes").iter().map(|index| {
        IndexShape {
            name: text(&index["IndexName"], "IndexName"),
            key: template_key(&index["KeySchema"]),
            projection_type: text(&index["Projection"]["ProjectionType"], "ProjectionType"),
            non_key_attributes: match &index["Projection"]["NonKeyAttributes"] {
                Yaml::BadValue => Vec::new(),
                names => sorted(
                    list(names, "NonKeyAttributes")
                        .iter()
                        .map(|n| text(n, "name")),
                ),
            },
        }
    }))
}

/// The template's one `AWS::DynamoDB::Table`.
fn template_table() -> Yaml {
    let tables = resources(&template(), "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table: {tables:?}");
    tables.into_iter().next().unwrap().1
}

fn table_from_template() -> TableShape {
    let properties = &template_table()["Properties"];
    TableShape {
        billing_mode: text(&properties["BillingMode"], "BillingMode"),
        attributes: sorted(
            list(&properties["AttributeDefinitions"], "AttributeDefinitions")
                .iter()
                .map(|a| {
                    (
                        text(&a["AttributeName"], "AttributeName"),
                        text(&a["AttributeType"], "AttributeType"),
                    )
                }),
        ),
        key: template_key(&properties["KeySchema"]),
        local_indexes: template_indexes(&properties["LocalSecondaryIndexes"]),
        global_indexes: template_indexes(&properties["GlobalSecondaryIndexes"]),
        // CloudFormation turns the stream on when StreamSpecification is present.
        stream: match &properties["StreamSpecification"] {
            Yaml::BadValue => None,
            spec => Some(text(&spec["StreamViewType"], "StreamViewType")),
        },
    }
}

#[test]
fn sam_template_declares_the_table_that_the_code_creates() {
    assert_eq!(table_from_template(), table_from_code());
}

#[test]
fn sam_template_table_keeps_its_data() {
    let template = template();
    let table = template_table();
    let properties = &table["Properties"];
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Yaml::Boolean(true),
        "point-in-time recovery"
    );
    // `!Ref DeletionProtection`, a parameter that defaults to on.
    let parameter = text(
        &properties["DeletionProtectionEnabled"],
        "DeletionProtectionEnabled",
    );
    assert_eq!(
        template["Parameters"][parameter.as_str()]["Default"].as_str(),
        Some("true"),
        "deletion protection is on unless the deployer turns it off"
    );
}

/// Least privilege: every function names its DynamoDB actions one by one, on the table and on
/// indexes that exist, never `*`.
#[test]
fn sam_template_policies_name_actions_and_existing_indexes() {
    let indexes: BTreeSet<String> = table::global_secondary_indexes()
        .iter()
        .map(|i| i.index_name().to_owned())
        .collect();
    let known_actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        "ses:SendEmail",
    ];
    let functions = resources(&template(), "AWS::Serverless::Function");
    assert!(!functions.is_empty());
    let template = template();
    for (id, function) in functions {
        if binary(&function, &id) == web::Family::Assets.function() {
            continue;
        }
        let grants = grants(&template, &id, &function);
        assert!(!grants.is_empty(), "{id} has a policy");
        for grant in grants {
            for action in &grant.actions {
                assert!(
                    known_actions.contains(&action.as_str()),
                    "{id}: action {action}"
                );
            }
            for resource in &grant.resources {
                let ok = resource == "WalletsTable.Arn"
                    || resource == "DispatcherFailures.Arn"
                    || resource == "StripeSecretArn"
                    // The Stripe webhook's signing secret (its one reader: stripe-webhook).
                    || (resource == "StripeWebhookSecretValue" && id == "StripeWebhookFunction")
                    || resource == "PortalSigningKeySecret"
                    || resource
                        == "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"
                    || resource
                        .strip_prefix("${WalletsTable.Arn}/index/")
                        .is_some_and(|index| indexes.contains(index));
                assert!(ok, "{id}: resource {resource} (indexes: {indexes:?})");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Every store call a route can make is allowed by its function's policy.
//
// Each route's function runs with its own process (its own key cache and wallet hints), so each
// route gets its own service over one shared in-memory store, wrapped in a store that records the
// port methods called. Each route runs calm, with its commit's answer lost (tokens forgotten, so
// the resend is refused and `landed()` looks for the change), with its first commit refused as a
// conflict, and sent twice with the same idempotency key. The methods it called, through
// `adapters::dynamo::permissions` (what each method asks of DynamoDB), must be allowed by the
// function's policy: actions, index resources, and the conditions of an `UpdateItem`.

use std::collections::{BTreeMap, HashMap};

use api::Route;
use lambda_http::http::{Method, Request, StatusCode};
use lambda_http::{Body, RequestExt};
use serde_json::{json, Value};
use shared::adapters::dynamo::permissions::{store_access, QUERY, UPDATE_ITEM};
use shared::adapters::memory::MemoryStore;
use shared::adapters::recording::RecordingStore;
use shared::kernel::{BusinessId, EndpointId, EventId, SystemClock};
use shared::ports::Store;
use shared::webhooks::model::{Delivery, DeliveryStatus, EventType};
use shared::{Config, Service};

type Recorded<S> = Service<RecordingStore<S>, SystemClock>;

/// The Stripe webhook secret of the services under test.
const STRIPE_WEBHOOK_SECRET: &str = "whsec_routes";

fn with_stripe_secret(mut config: Config) -> Config {
    config.stripe_webhook_secret = Some(shared::config::Redacted(STRIPE_WEBHOOK_SECRET.into()));
    config
}

/// One request: route, path parameters, query parameters, body.
struct Call {
    route: Route,
    path: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Call {
    fn new(route: Route) -> Call {
        Call {
            route,
            path: Vec::new(),
            query: Vec::new(),
            body: None,
        }
    }
    fn path(mut self, name: &'static str, value: &str) -> Call {
        self.path.push((name, value.to_owned()));
        self
    }
    fn query(mut self, name: &'static str, value: &str) -> Call {
        self.query.push((name, value.to_owned()));
        self
    }
    fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }
}

async fn send<S: Store>(app: &Recorded<S>, key: &str, call: &Call) -> (StatusCode, Value) {
    let spec = call.route.spec();
    let path = call.path.iter().fold(spec.path.to_owned(), |path, (n, v)| {
        path.replace(&format!("{{{n}}}"), v)
    });
    let body = match &call.body {
        Some(body) => Body::from(body.to_string()),
        None => Body::from(String::new()),
    };
    let mut builder = Request::builder()
        .method(Method::from_bytes(spec.method.as_bytes()).unwrap())
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    if call.route == Route::StripeWebhook {
        // Stripe signs instead of sending a key.
        let raw = call.body.as_ref().map(Value::to_string).unwrap_or_default();
        let now_s = shared::kernel::Timestamp::now().unix_ms / 1000;
        let signed = signature_header(STRIPE_WEBHOOK_SECRET, now_s, raw.as_bytes());
        builder = builder.header("stripe-signature", signed);
    }
    let request: lambda_http::Request = builder.body(body).unwrap();
    let request = request
        .with_path_parameters(
            call.path
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect::<HashMap<_, _>>(),
        )
        .with_query_string_parameters(
            call.query
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect::<HashMap<_, _>>(),
        );
    let response = api::handle(app, call.route, request).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (response.status(), body)
}

/// What one route's scenarios need, made fresh (through an unrecorded service) for each.
struct Fixture {
    n: u32,
    business_id: String,
    customer: String,
    hold: String,
    invoice: String,
    webhook: String,
    delivery: String,
    key_id: String,
    top_up_link: String,
}

struct World<S> {
    /// The store of the routes' function instances.
    store: S,
    config: Config,
    /// The service of the fixtures (its records are not looked at), on the same data.
    setup: Recorded<S>,
    business_id: BusinessId,
    key: String,
    made: std::cell::Cell<u32>,
}

impl<S: Store + Clone> World<S> {
    /// `setup` and `store` hold the same data (`store` may count its calls).
    async fn new(config: Config, setup: S, store: S) -> World<S> {
        let setup = Service::new(RecordingStore::new(setup), SystemClock, config.clone());
        let (business_id, key) = setup.create_business("Policies").await.unwrap();
        World {
            store,
            config,
            setup,
            business_id,
            key,
            made: std::cell::Cell::new(0),
        }
    }

    /// A function instance of its own, as each route's Lambda function has.
    fn instance(&self) -> Recorded<S> {
        Service::new(
            RecordingStore::new(self.store.clone()),
            SystemClock,
            self.config.clone(),
        )
    }

    async fn ok(&self, call: Call) -> Value {
        let (status, body) = send(&self.setup, &self.key, &call).await;
        assert!(status.is_success(), "{:?}: {status} {body}", call.route);
        body
    }

    async fn fixture(&self) -> Fixture {
        let n = self.made.get() + 1;
        self.made.set(n);
        let customer = self
            .ok(Call::new(Route::CreateCustomer)
                .body(json!({"email": format!("c{n}@example.com"), "name": "Ada"})))
            .await["customer_id"]
            .as_str()
            .unwrap()
            .to_owned();
        for (amount, currency) in [(1000, "USD"), (500, "INR")] {
            self.ok(Call::new(Route::CreateLedgerEntry)
                .path("customer_id", &customer)
                .body(json!({"amount": amount, "currency": currency, "entry_type": "credit"})))
                .await;
        }
        let hold = self
            .ok(Call::new(Route::CreateHold)
                .path("customer_id", &customer)
                .body(json!({"amount": 100, "currency": "USD"})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let invoice = format!("inv_paid_{n}");
        self.ok(Call::new(Route::PayInvoice)
            .path("customer_id", &customer)
            .body(json!({"invoice_id": invoice, "currency": "USD", "amount_due": 100})))
            .await;
        let webhook = self
            .ok(Call::new(Route::CreateWebhook).body(json!({"url": "http://127.0.0.1:9/hook"})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let now = self.setup.now();
        let delivery = Delivery {
            id: EventId::derived(now.unix_ms, &format!("event {n}")),
            endpoint_id: EndpointId::parse(&webhook).unwrap(),
            business_id: self.business_id.clone(),
            event_type: EventType::ALL[0],
            payload: "{}".to_owned(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: Some(now),
            lease_until: None,
            created_at: now,
            updated_at: now,
        };
        assert!(self
            .setup
            .store()
            .inner()
            .insert_delivery(&delivery)
            .await
            .unwrap());
        let key_id = self
            .ok(Call::new(Route::CreateApiKey).body(json!({"name": format!("key {n}")})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let top_up_link = self
            .ok(Call::new(Route::CreateTopUpLink)
                .path("customer_id", &customer)
                .body(json!({"amount": 100, "currency": "USD"})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Fixture {
            n,
            business_id: self.business_id.to_string(),
            customer,
            hold,
            invoice,
            webhook,
            delivery: delivery.id.to_string(),
            key_id,
            top_up_link,
        }
    }

    /// Deletes the fixture's webhook (a business may have 20).
    async fn clean_up(&self, fixture: &Fixture) {
        let call = Call::new(Route::DeleteWebhook).path("webhook_id", &fixture.webhook);
        send(&self.setup, &self.key, &call).await;
    }

    /// A key of its own for one function instance: its first request looks it up and records
    /// its use.
    async fn new_key(&self) -> String {
        self.ok(Call::new(Route::CreateApiKey).body(json!({"name": "instance"})))
            .await["key_secret"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The requests that exercise `route` on `f`.
fn calls(route: Route, f: &Fixture) -> Vec<Call> {
    let n = f.n;
    let customer = |route| Call::new(route).path("customer_id", &f.customer);
    let webhook = |route| Call::new(route).path("webhook_id", &f.webhook);
    let key = format!("key-{n}-{route:?}");
    match route {
        Route::CreateCustomer => vec![Call::new(route)
            .body(json!({"email": format!("new{n}@example.com"), "name": "Bo"}))],
        Route::ListCustomers => vec![
            Call::new(route),
            Call::new(route).query("email", &format!("c{n}@example.com")),
        ],
        Route::GetCustomer | Route::GetWalletSettings => vec![customer(route)],
        Route::ListWallets => vec![
            customer(route),
            customer(route).query("as_of", &shared::kernel::Timestamp::now().rfc3339()),
        ],
        Route::GetWalletStatement => vec![customer(route)
            .query("currency", "USD")
            .query("from", "2020-01-01T00:00:00Z")
            .query("to", &shared::kernel::Timestamp::now().rfc3339())],
        Route::GetLiabilityReport => vec![Call::new(route)
            .query("currency", "USD")
            .query("from", "2027-01-01")
            .query("to", "2027-01-31")],
        Route::GetLedgerEntriesReport => vec![
            Call::new(route)
                .query("from", "2020-01-01T00:00:00Z")
                .query("to", &shared::kernel::Timestamp::now().rfc3339()),
            Call::new(route)
                .query("from", "2020-01-01T00:00:00Z")
                .query("to", &shared::kernel::Timestamp::now().rfc3339())
                .query("format", "csv")
                .query("page_size", "1"),
        ],
        Route::UpdateCustomer => vec![customer(route).body(json!({"name": "Bea"}))],
        Route::CreateLedgerEntry => vec![customer(route).body(
            json!({"amount": 500, "currency": "USD", "entry_type": "debit", "idempotency_key": key}),
        )],
        Route::ListLedgerEntries => vec![customer(route), customer(route).query("currency", "USD")],
        Route::CreateLedgerEntriesBatch => vec![Call::new(route).body(json!({"items": [
            {"customer_id": f.customer, "amount": 500, "currency": "USD", "entry_type": "debit", "idempotency_key": key},
            {"customer_id": f.customer, "amount": 10, "currency": "INR", "entry_type": "credit", "idempotency_key": format!("{key}-2")},
        ]}))],
        Route::CreateHold => vec![customer(route)
            .body(json!({"amount": 500, "currency": "USD", "idempotency_key": key}))],
        Route::ListHolds => vec![customer(route), customer(route).query("status", "pending")],
        Route::CreateTopUpLink => vec![customer(route).body(
            json!({"amount": 500, "currency": "USD", "idempotency_key": key}),
        )],
        Route::ListTopUpLinks => vec![customer(route)],
        Route::GetTopUpLink | Route::CancelTopUpLink => {
            vec![customer(route).path("link_id", &f.top_up_link)]
        }
        Route::GetHold | Route::CaptureHold | Route::ReleaseHold => {
            vec![customer(route).path("hold_id", &f.hold)]
        }
        Route::PayInvoice => vec![customer(route).body(
            json!({"invoice_id": format!("inv_new_{n}"), "currency": "USD", "amount_due": 100}),
        )],
        Route::GetInvoicePayment => vec![customer(route).path("invoice_id", &f.invoice)],
        Route::ReverseInvoicePayment => vec![customer(route)
            .path("invoice_id", &f.invoice)
            .body(json!({"amount": 100, "idempotency_key": key}))],
        Route::CloseWallet => vec![customer(route)
            .body(json!({"currency": "INR", "reason": "customer left", "reference_object_id": "po_9"}))],
        Route::UpdateWalletSettings => vec![customer(route)
            .body(json!({"currency": "USD", "low_balance_threshold": 50}))],
        Route::CreateApiKey => vec![Call::new(route).body(json!({"name": "more"}))],
        Route::ListApiKeys => vec![Call::new(route)],
        Route::RevokeApiKey | Route::RotateApiKey => {
            vec![Call::new(route).path("key_id", &f.key_id)]
        }
        Route::CreateWebhook => vec![Call::new(route)
            .body(json!({"url": "http://127.0.0.1:9/other", "idempotency_key": key}))],
        Route::ListWebhooks => vec![Call::new(route)],
        Route::GetWebhook
        | Route::DeleteWebhook
        | Route::GetWebhookSecret
        | Route::GetWebhookHeaders => vec![webhook(route)],
        Route::UpdateWebhook => vec![webhook(route).body(json!({"description": "changed"}))],
        Route::UpdateWebhookHeaders => {
            vec![webhook(route).body(json!({"headers": {"x-team": "wallets"}}))]
        }
        Route::ListWebhookDeliveries => vec![
            webhook(route),
            webhook(route).query("status", "pending"),
        ],
        Route::GetWebhookDelivery | Route::ResendWebhookDelivery => {
            vec![webhook(route).path("delivery_id", &f.delivery)]
        }
        // A top-up's PaymentIntent event (of no top-up the store holds), and another event.
        Route::StripeWebhook => vec![
            Call::new(route).body(json!({
                "id": format!("evt_routes_{n}"), "type": "payment_intent.succeeded",
                "data": {"object": {"id": format!("pi_routes_{n}"), "amount": 100, "currency": "usd",
                    "status": "succeeded", "metadata": {"card_top_up": format!("ctu_routes_{n}"),
                    "business_id": f.business_id, "customer_id": f.customer}}}
            })),
            Call::new(route).body(json!({"id": format!("evt_other_{n}"), "type": "customer.created", "data": {"object": {}}})),
        ],
        Route::CreateCustomerPortalSession => vec![
            customer(route),
            customer(route)
                .query("send_email", "true")
                .query("return_url", "https://shop.example.com/back"),
        ],
        Route::RevokeCustomerPortalSessions => vec![customer(route)],
        Route::GetCustomerPortalSettings => vec![Call::new(route)],
        Route::UpdateCustomerPortalSettings => vec![Call::new(route).body(json!({
            "session_ttl_seconds": 3600,
            "top_up_limits": {"USD": {"min_amount": 500, "max_amount": 5000, "max_balance": 20000}},
        }))],
    }
}

/// The portal of the routes' functions: a key, a base URL and the tests' mailbox.
fn portal_config() -> shared::config::PortalConfig {
    shared::config::PortalConfig {
        signing_key: Some(
            shared::portal::tokens::SigningKey::parse(integration_tests::TEST_PORTAL_SIGNING_KEY)
                .unwrap(),
        ),
        public_base_url: Some("http://127.0.0.1:9000".to_owned()),
        mailer: shared::config::MailerConfig::Mailbox(integration_tests::mailbox_dir()),
    }
}

/// The ways a route's requests run.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Calm,
    /// The commit lands and its answer is lost; the resend is refused: `landed()`.
    AnswerLost,
    /// The first commit is refused as a conflict: the race path.
    Conflict,
    /// Each request sent twice, as a client retrying: a taken key, a paid invoice.
    SentTwice,
}

/// The store methods each route called in `modes` (`inject` sets a mode's faults before each
/// request, and clears them with `None`), and what `probe` says after each route (and clears).
async fn store_calls_per_route<S: Store + Clone, P>(
    world: &World<S>,
    modes: &[Mode],
    inject: impl Fn(Option<Mode>),
    probe: impl Fn() -> P,
) -> BTreeMap<String, (BTreeSet<&'static str>, P)> {
    let mut called = BTreeMap::new();
    for spec in api::ROUTES {
        let instance = world.instance();
        let key = world.new_key().await;
        probe();
        for mode in modes {
            let fixture = world.fixture().await;
            for call in calls(spec.route, &fixture) {
                inject(Some(*mode));
                let (status, body) = send(&instance, &key, &call).await;
                if let Mode::Calm = mode {
                    assert!(status.is_success(), "{:?}: {status} {body}", spec.route);
                }
                if let Mode::SentTwice = mode {
                    send(&instance, &key, &call).await;
                }
                inject(None);
            }
            world.clean_up(&fixture).await;
        }
        called.insert(logical_id(spec), (instance.store().take(), probe()));
    }
    called
}

/// The same on the in-memory store, in every mode.
async fn store_calls_in_memory() -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut config = with_stripe_secret(
        Config::build("unused".to_owned(), None, "USD,INR", None).expect("configuration"),
    );
    config.webhook_targets.allow_private = true;
    config.portal = portal_config();
    let memory = MemoryStore::new();
    // Every resend is checked as a new change, as DynamoDB does once a token is forgotten: a
    // lost answer then makes `landed()` look for the change.
    memory.forget_tokens();
    let world = World::new(config, memory.clone(), memory.clone()).await;
    let inject = |mode: Option<Mode>| match mode {
        Some(Mode::AnswerLost) => memory.lose_next_answers(1),
        Some(Mode::Conflict) => memory.fail_next_commits(1),
        Some(Mode::Calm | Mode::SentTwice) => {}
        None => {
            memory.lose_next_answers(0);
            memory.fail_next_commits(0);
        }
    };
    let modes = [
        Mode::Calm,
        Mode::AnswerLost,
        Mode::Conflict,
        Mode::SentTwice,
    ];
    store_calls_per_route(&world, &modes, inject, || ())
        .await
        .into_iter()
        .map(|(id, (methods, ()))| (id, methods))
        .collect()
}

#[tokio::test]
async fn every_store_call_a_route_can_make_is_allowed_by_its_function_policy() {
    let template = template();
    let functions: BTreeMap<String, Yaml> = http_functions().into_iter().collect();
    let mut denied = Vec::new();
    for (id, methods) in store_calls_in_memory().await {
        let grants = grants(&template, &id, &functions[&id]);
        // No more in-place updates than its store calls make.
        let updated: BTreeSet<String> = methods
            .iter()
            .filter_map(|m| store_access(m).and_then(|a| a.update))
            .flat_map(|reach| reach.attributes.iter().map(|a| a.to_string()))
            .collect();
        for grant in grants.iter().filter(|g| g.actions.contains(UPDATE_ITEM)) {
            let named = condition_values(
                &grant.condition,
                "ForAllValues:StringEquals",
                "dynamodb:Attributes",
            )
            .unwrap_or_default();
            if !named.is_subset(&updated) {
                denied.push(format!(
                    "{id}: may update {named:?}, its calls update {updated:?}"
                ));
            }
        }
        for method in &methods {
            let access = store_access(method).unwrap_or_else(|| {
                panic!("{method}: no line in shared/src/adapters/dynamo/permissions.rs")
            });
            let mut needs: Vec<(&str, String)> = access
                .actions
                .iter()
                .map(|a| (*a, TABLE.to_owned()))
                .collect();
            needs.extend(access.indexes.iter().map(|i| (QUERY, index_arn(i))));
            for (action, resource) in needs {
                let refusals: Vec<String> = grants
                    .iter()
                    .map(|g| refusal(g, action, &resource, access))
                    .collect::<Option<Vec<_>>>()
                    .unwrap_or_default();
                let allowed = grants
                    .iter()
                    .any(|g| refusal(g, action, &resource, access).is_none());
                if !allowed {
                    let why: BTreeSet<_> = refusals
                        .into_iter()
                        .filter(|w| w != "not granted")
                        .collect();
                    denied.push(format!(
                        "{id}: {method} needs {action} on {resource} {why:?}"
                    ));
                }
            }
        }
    }
    assert!(
        denied.is_empty(),
        "policy and store calls differ:\n{}",
        denied.join("\n")
    );
}

/// Route functions update items in place only to record a key's use (and to end a key): each
/// `UpdateItem` grant is a statement of its own, limited to API keys' partitions
/// (`dynamodb:LeadingKeys`) and to attributes that a store method updates (`dynamodb:Attributes`).
#[test]
fn update_item_is_granted_only_on_api_keys_and_their_updated_attributes() {
    let template = template();
    let reaches: Vec<_> = shared::adapters::dynamo::permissions::STORE_ACCESS
        .iter()
        .filter_map(|access| access.update)
        .collect();
    let prefixes: BTreeSet<String> = reaches
        .iter()
        .map(|r| format!("{}*", r.partition_key_prefix))
        .collect();
    let attributes: BTreeSet<String> = reaches
        .iter()
        .flat_map(|r| r.attributes.iter().map(|a| a.to_string()))
        .collect();
    let mut loose = Vec::new();
    for (id, function) in resources(&template, "AWS::Serverless::Function") {
        if function["Properties"]["Policies"].is_badvalue() {
            continue;
        }
        for grant in grants(&template, &id, &function) {
            if !grant.actions.contains(UPDATE_ITEM) {
                continue;
            }
            if grant.actions.len() > 1 {
                loose.push(format!(
                    "{id}: UpdateItem shares a statement: {:?}",
                    grant.actions
                ));
            }
            let leading = condition_values(
                &grant.condition,
                "ForAllValues:StringLike",
                "dynamodb:LeadingKeys",
            );
            if !leading.is_some_and(|p| !p.is_empty() && p.is_subset(&prefixes)) {
                loose.push(format!("{id}: UpdateItem on any partition"));
            }
            let named = condition_values(
                &grant.condition,
                "ForAllValues:StringEquals",
                "dynamodb:Attributes",
            );
            if !named.is_some_and(|a| !a.is_empty() && a.is_subset(&attributes)) {
                loose.push(format!("{id}: UpdateItem of any attribute"));
            }
        }
    }
    assert!(loose.is_empty(), "{}", loose.join("\n"));
}

/// The product's metrics that must page someone: (metric, its `Function` dimension), as
/// `api/src/metrics.rs` lines emit them.
const ALARMED_METRICS: &[(&str, &str)] = &[
    ("StreamRecordsFailed", "webhook-dispatcher"),
    ("WebhookDeliveriesFailed", "webhook-deliverer"),
    ("TopUpsUnknown", "sweep"),
];

/// Log lines that must page someone: counted by a metric filter on the functions' logs.
const ALARMED_LOG_LINES: &[&str] = &["charged but not credited"];

/// The text of every source file of the functions (`api/src`, `shared/src`).
fn sources() -> Vec<(std::path::PathBuf, String)> {
    ["api/src", "shared/src"]
        .iter()
        .flat_map(|dir| integration_tests::rust_files(&root().join(dir)))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

/// Whether the code emits `metric` on an EMF line with dimension `Function` = `function`.
fn emitted(sources: &[(std::path::PathBuf, String)], metric: &str, function: &str) -> bool {
    sources.iter().any(|(_, text)| {
        text.contains(&format!("\"{metric}\"")) && {
            let function = format!("(\"Function\", \"{function}\")");
            text.contains(&function)
        }
    })
}

/// (namespace, metric, `Function` dimension) of every alarm.
fn alarms(template: &Yaml) -> Vec<(String, String, Option<String>)> {
    resources(template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, alarm)| {
            let properties = &alarm["Properties"];
            let function = match &properties["Dimensions"] {
                Yaml::BadValue => None,
                dimensions => list(dimensions, &id)
                    .iter()
                    .find(|d| d["Name"].as_str() == Some("Function"))
                    .map(|d| text(&d["Value"], &id)),
            };
            (
                text(&properties["Namespace"], &id),
                text(&properties["MetricName"], &id),
                function,
            )
        })
        .collect()
}

#[test]
fn the_products_failure_metrics_and_log_lines_are_alarmed_and_exist_in_the_code() {
    let template = template();
    let sources = sources();
    let alarms = alarms(&template);
    let namespace = api::metrics::NAMESPACE;
    for (metric, function) in ALARMED_METRICS {
        assert!(
            emitted(&sources, metric, function),
            "the code emits no {metric} for {function}"
        );
        assert!(
            alarms.contains(&(
                namespace.to_owned(),
                metric.to_string(),
                Some(function.to_string())
            )),
            "no alarm on {metric} of {function}"
        );
    }
    // Metric filters on the functions' logs: (phrase, namespace, metric).
    let filters: Vec<(String, String, String)> = resources(&template, "AWS::Logs::MetricFilter")
        .into_iter()
        .map(|(id, filter)| {
            let properties = &filter["Properties"];
            assert_eq!(
                properties["LogGroupName"].as_str(),
                Some("FunctionLogs"),
                "{id}"
            );
            let transformation = &list(&properties["MetricTransformations"], &id)[0];
            (
                text(&properties["FilterPattern"], &id),
                text(&transformation["MetricNamespace"], &id),
                text(&transformation["MetricName"], &id),
            )
        })
        .collect();
    for line in ALARMED_LOG_LINES {
        assert!(
            sources.iter().any(|(_, text)| text.contains(line)),
            "no log line of the code says {line:?}"
        );
        let (_, namespace, metric) = filters
            .iter()
            .find(|(pattern, _, _)| *pattern == format!("\"{line}\""))
            .unwrap_or_else(|| panic!("no metric filter for {line:?}"));
        assert!(
            alarms.contains(&(namespace.clone(), metric.clone(), None)),
            "no alarm on {metric}, the count of {line:?}"
        );
    }
    // Every alarm on the product's namespace reads a metric that the code or a filter makes.
    for (alarm_namespace, metric, function) in &alarms {
        if alarm_namespace != namespace {
            continue;
        }
        let made = match function {
            Some(function) => emitted(&sources, metric, function),
            None => filters
                .iter()
                .any(|(_, n, m)| n == alarm_namespace && m == metric),
        };
        assert!(made, "alarm on {metric} ({function:?}): nothing emits it");
    }
}

/// SAM's Rust builder copies `<CodeUri>/target/lambda/<binary>/bootstrap` (CodeUri: the root),
/// while cargo-lambda builds in cargo's target directory. With the caller's `CARGO_TARGET_DIR`
/// and `CARGO_BUILD_TARGET_DIR` pointing elsewhere, the environment `infra/sam.sh` gives SAM
/// still makes cargo (so cargo-lambda) build into `<root>/target`: the bootstrap SAM packages is
/// the one just built. (A focused check of the script's environment: a whole `sam build` takes
/// minutes.)
#[test]
fn sam_sh_builds_where_sam_copies_the_bootstrap_whatever_the_callers_target_dir() {
    let script = std::fs::read_to_string(root().join("infra/sam.sh")).unwrap();
    let defines = script.find("sam_cargo_env() {");
    let guard = script.find("return 0");
    let first_work = script.find("\nensure_").expect("sam.sh installs its tools");
    assert!(
        defines.is_some() && guard.is_some_and(|g| g < first_work),
        "infra/sam.sh defines sam_cargo_env and runs nothing when sourced"
    );
    let called = script
        .find("\nsam_cargo_env\n")
        .expect("sam.sh calls sam_cargo_env");
    let exec = script.find("exec ").expect("sam.sh runs sam");
    assert!(called < exec, "sam_cargo_env comes before sam runs");

    let elsewhere = std::env::temp_dir().join("not-where-sam-reads");
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg("source infra/sam.sh && sam_cargo_env && cargo metadata --no-deps --format-version 1")
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &elsewhere)
        .env("CARGO_BUILD_TARGET_DIR", &elsewhere)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        metadata["target_directory"]
            .as_str()
            .map(std::path::PathBuf::from),
        Some(root().join("target")),
        "cargo-lambda would build where SAM reads"
    );
}

/// The Stripe secret key is never in a function's environment: the functions that charge read
/// it at cold start from the Secrets Manager secret named by `STRIPE_SECRET_ID`, through the
/// Parameters and Secrets extension layer, with a grant to read that one secret only.
#[test]
fn the_stripe_key_is_read_from_secrets_manager_not_the_environment() {
    use shared::adapters::secrets::{SECRET_ID_VAR, SECRET_KEY_VAR};
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert!(
        globals[SECRET_KEY_VAR].is_badvalue(),
        "Globals hold the key"
    );
    let secret_parameters: Vec<String> = template["Parameters"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["NoEcho"] == Yaml::Boolean(true))
        .map(|(name, _)| text(name, "parameter"))
        .collect();
    let mut readers = 0;
    for (id, function) in resources(&template, "AWS::Serverless::Function") {
        let variables = &function["Properties"]["Environment"]["Variables"];
        if let Some(variables) = variables.as_hash() {
            for (name, value) in variables {
                let name = text(name, &id);
                assert_ne!(name, SECRET_KEY_VAR, "{id} has the key in its environment");
                assert!(
                    !value
                        .as_str()
                        .is_some_and(|v| secret_parameters.iter().any(|p| p == v)),
                    "{id}: {name} holds a secret parameter"
                );
            }
        }
        let Some(secret) = variables[SECRET_ID_VAR].as_str() else {
            continue;
        };
        readers += 1;
        // Layers: `!If [HasStripeSecret, [!Ref SecretsExtensionLayerArn], !Ref AWS::NoValue]`.
        let layers = format!("{:?}", function["Properties"]["Layers"]);
        assert!(
            layers.contains("SecretsExtensionLayerArn"),
            "{id} has the secrets extension layer: {layers}"
        );
        // Besides the Stripe key, a function may read the portal signing key (its own policy).
        let reads: Vec<Grant> = grants(&template, &id, &function)
            .into_iter()
            .filter(|g| g.actions.iter().any(|a| a.starts_with("secretsmanager:")))
            .filter(|g| g.resources != BTreeSet::from(["PortalSigningKeySecret".to_owned()]))
            .collect();
        assert_eq!(reads.len(), 1, "{id}: one statement reads the Stripe key");
        assert_eq!(
            reads[0].actions,
            BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()]),
            "{id}"
        );
        assert_eq!(
            reads[0].resources,
            BTreeSet::from([secret.to_owned()]),
            "{id} reads only its secret"
        );
    }
    assert_eq!(
        readers, 9,
        "the dispatcher and the sweep charge cards; the settings function and the dashboard's \
         settings pages check whose card it is; issue 22: paying an invoice charges the saved \
         cards, a reversal refunds them, a customer patch checks them; issue 21: the customer \
         portal's card top-ups"
    );
}

// ---------------------------------------------------------------------------------------------
// On DynamoDB Local: the requests each route really sends (an interceptor on the DynamoDB client
// notes each one's action, index, and for an update its partition key and attributes) are
// allowed by its function's policy, and each is one that `permissions.rs` declares for the store
// methods the route called: the table the in-memory run relies on says what the adapter does.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use shared::adapters::dynamo::DynamoStore;

/// One DynamoDB request as IAM judges it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SdkCall {
    action: &'static str,
    resource: String,
    /// An update's partition key value and the top-level attributes it names.
    update: Option<(String, BTreeSet<String>)>,
}

/// Every DynamoDB request the client sends, noted before it is sent.
#[derive(Debug, Clone, Default)]
struct SdkCalls(Arc<Mutex<BTreeSet<SdkCall>>>);

impl SdkCalls {
    fn take(&self) -> BTreeSet<SdkCall> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The attribute names an expression uses: its `#name` placeholders' values, and the names it
/// writes out (not functions, keywords, `:values`).
fn expression_names(
    expressions: &[Option<&str>],
    names: Option<&HashMap<String, String>>,
) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "size",
        "if_not_exists",
        "list_append",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
    ];
    let mut found = BTreeSet::new();
    for expression in expressions.iter().flatten() {
        for token in expression.split(|c: char| !(c.is_alphanumeric() || "_#:".contains(c))) {
            if let Some(placeholder) = token.strip_prefix('#') {
                let name = names.and_then(|n| n.get(&format!("#{placeholder}")));
                found.insert(name.cloned().unwrap_or_else(|| token.to_owned()));
            } else if !token.is_empty()
                && !token.starts_with(':')
                && !token.starts_with(|c: char| c.is_ascii_digit())
                && !WORDS.contains(&token)
            {
                found.insert(token.to_owned());
            }
        }
    }
    found
}

fn update_reach(
    key: Option<&HashMap<String, AttributeValue>>,
    expressions: &[Option<&str>],
    names: Option<&HashMap<String, String>>,
) -> (String, BTreeSet<String>) {
    let key = key.expect("an update names its item");
    let partition = key
        .get(table::PK)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let mut attributes = expression_names(expressions, names);
    attributes.extend(key.keys().cloned());
    (partition, attributes)
}

impl Intercept for SdkCalls {
    fn name(&self) -> &'static str {
        "SdkCalls"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let on_table = |action| SdkCall {
            action,
            resource: TABLE.to_owned(),
            update: None,
        };
        let mut calls = self.0.lock().unwrap();
        if input.downcast_ref::<GetItemInput>().is_some() {
            calls.insert(on_table("dynamodb:GetItem"));
        } else if input.downcast_ref::<PutItemInput>().is_some() {
            calls.insert(on_table("dynamodb:PutItem"));
        } else if input.downcast_ref::<DeleteItemInput>().is_some() {
            calls.insert(on_table("dynamodb:DeleteItem"));
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            calls.insert(SdkCall {
                action: QUERY,
                resource: query
                    .index_name()
                    .map(index_arn)
                    .unwrap_or(TABLE.to_owned()),
                update: None,
            });
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            let reach = update_reach(
                update.key(),
                &[update.update_expression(), update.condition_expression()],
                update.expression_attribute_names(),
            );
            calls.insert(SdkCall {
                update: Some(reach),
                ..on_table(UPDATE_ITEM)
            });
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in transaction.transact_items() {
                if item.put().is_some() {
                    calls.insert(on_table("dynamodb:PutItem"));
                } else if item.delete().is_some() {
                    calls.insert(on_table("dynamodb:DeleteItem"));
                } else if item.condition_check().is_some() {
                    calls.insert(on_table("dynamodb:ConditionCheckItem"));
                } else if let Some(Update {
                    key,
                    update_expression,
                    condition_expression,
                    expression_attribute_names,
                    ..
                }) = item.update()
                {
                    let reach = update_reach(
                        Some(key),
                        &[Some(update_expression), condition_expression.as_deref()],
                        expression_attribute_names.as_ref(),
                    );
                    calls.insert(SdkCall {
                        update: Some(reach),
                        ..on_table(UPDATE_ITEM)
                    });
                }
            }
        } else {
            calls.insert(on_table("dynamodb:(an action this check does not know)"));
        }
        Ok(())
    }
}

/// Whether `grant` allows `call`.
fn allows(grant: &Grant, call: &SdkCall) -> bool {
    if !grant.actions.contains(call.action) || !grant.resources.contains(&call.resource) {
        return false;
    }
    let Some((partition, attributes)) = &call.update else {
        return true;
    };
    let leading = condition_values(
        &grant.condition,
        "ForAllValues:StringLike",
        "dynamodb:LeadingKeys",
    );
    let named = condition_values(
        &grant.condition,
        "ForAllValues:StringEquals",
        "dynamodb:Attributes",
    );
    leading.is_none_or(|patterns| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => partition.starts_with(prefix),
            None => partition == p,
        })
    }) && named.is_none_or(|allowed| attributes.is_subset(&allowed))
}

/// Whether `permissions.rs` declares `call` for one of `methods`.
fn declared(methods: &BTreeSet<&'static str>, call: &SdkCall) -> bool {
    methods
        .iter()
        .filter_map(|m| store_access(m))
        .any(|access| {
            access.actions.contains(&call.action)
                && (call.resource == TABLE
                    || access.indexes.iter().any(|i| index_arn(i) == call.resource))
                && match (&call.update, access.update) {
                    (None, _) => true,
                    (Some((partition, attributes)), Some(reach)) => {
                        partition.starts_with(reach.partition_key_prefix)
                            && attributes
                                .iter()
                                .all(|a| reach.attributes.contains(&a.as_str()))
                    }
                    (Some(_), None) => false,
                }
        })
}

#[tokio::test]
async fn every_dynamodb_request_a_route_sends_is_allowed_and_declared() {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .expect("this test needs DynamoDB Local: run ./infra/test.sh (it sets DYNAMODB_ENDPOINT)");
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
    let table_name = integration_tests::TEST_TABLE;
    let mut config = with_stripe_secret(
        Config::build(table_name.to_owned(), Some(endpoint), "USD,INR", None)
            .expect("configuration"),
    );
    config.webhook_targets.allow_private = true;
    config.portal = portal_config();
    let plain = DynamoStore::connect(&config).await;
    table::create_table(plain.client(), table_name)
        .await
        .expect("create test table");
    let calls = SdkCalls::default();
    let noted = plain
        .client()
        .config()
        .to_builder()
        .interceptor(calls.clone())
        .build();
    let noted = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(noted), table_name);
    let world = World::new(config, plain, noted).await;
    let routes = store_calls_per_route(
        &world,
        &[Mode::Calm, Mode::SentTwice],
        |_| {},
        || calls.take(),
    )
    .await;

    let template = template();
    let functions: BTreeMap<String, Yaml> = http_functions().into_iter().collect();
    let mut wrong = Vec::new();
    for (id, (methods, sent)) in routes {
        assert!(!sent.is_empty(), "{id} sent nothing");
        let grants = grants(&template, &id, &functions[&id]);
        for call in sent {
            if !grants.iter().any(|g| allows(g, &call)) {
                wrong.push(format!("{id}: its policy denies {call:?}"));
            }
            if !declared(&methods, &call) {
                wrong.push(format!(
                    "{id}: permissions.rs declares {call:?} for none of {methods:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `permissions.rs` has a line for every store method, as the recording store names them (a new
/// port method must say what it asks of DynamoDB before any policy can be checked against it).
#[test]
fn permissions_rs_has_a_line_for_every_store_method() {
    // The recording store, and the ports it passes through in files of its own.
    let mut recording =
        std::fs::read_to_string(root().join("shared/src/adapters/recording.rs")).unwrap();
    for file in std::fs::read_dir(root().join("shared/src/adapters/recording")).unwrap() {
        recording += &std::fs::read_to_string(file.unwrap().path()).unwrap();
    }
    let noted: BTreeSet<&str> = recording
        .split("self.note(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    let declared: BTreeSet<&str> = shared::adapters::dynamo::permissions::STORE_ACCESS
        .iter()
        .map(|a| a.method)
        .collect();
    assert_eq!(noted, declared);
}

/// The webhook deliverer has no trigger of its own: the dispatcher invokes it (asynchronously),
/// by the name the template gives it, and may do so.
#[test]
fn the_dispatcher_names_and_may_invoke_the_webhook_deliverer() {
    let template = template();
    let functions = resources(&template, "AWS::Serverless::Function");
    assert!(root()
        .join("functions")
        .join(INVOKED)
        .join("src/main.rs")
        .exists());
    let (id, deliverer) = functions
        .iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(INVOKED))
        .expect("webhook-deliverer is in template.yaml");
    assert!(deliverer["Properties"]["Events"].is_badvalue(), "{id}");
    let dispatcher = &functions
        .iter()
        .find(|(_, f)| {
            f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some("webhook-dispatcher")
        })
        .expect("webhook-dispatcher")
        .1;
    assert_eq!(
        text(
            &dispatcher["Properties"]["Environment"]["Variables"]["DELIVERER_FUNCTION"],
            "dispatcher"
        ),
        *id
    );
    let grants = resources(&template, "AWS::IAM::Policy");
    assert!(
        grants.iter().any(|(_, p)| {
            let statement = &p["Properties"]["PolicyDocument"]["Statement"][0];
            text(&p["Properties"]["Roles"][0], "roles") == "WebhookDispatcherFunctionRole"
                && text(&statement["Action"][0], "action") == "lambda:InvokeFunction"
                && text(&statement["Resource"][0], "resource") == format!("{id}.Arn")
        }),
        "the dispatcher's role may invoke {id}"
    );
}
