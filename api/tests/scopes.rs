//! Key scopes against the in-memory store: a `read_only` key reads like a `full` one and is
//! refused every state-changing route with 403 `insufficient_scope` before the route's handler
//! runs (so before its body or ids are even looked at). The same walk with real bodies and ids, on
//! DynamoDB Local, is `tests/tests/scopes.rs`.

use std::collections::HashMap;

use api::{handle, Route, ROUTES};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, RequestExt};
use serde_json::{json, Value};
use shared::adapters::memory::{FixedClock, MemoryStore};
use shared::{Config, Service};

type App = Service<MemoryStore, FixedClock>;

async fn app_and_key() -> (App, String) {
    let config = Config::build("memory".into(), None, "USD,INR", None).expect("config");
    let app = Service::new(
        MemoryStore::new(),
        FixedClock::at(1_800_000_000_000),
        config,
    );
    let (_, key) = app.create_business("Scopes").await.expect("business");
    (app, key)
}

/// Sends `route` with `key`, every path parameter set to `id`, and `body` (empty when `None`).
async fn send(
    app: &App,
    route: Route,
    key: &str,
    id: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let spec = route.spec();
    let mut params = HashMap::new();
    let mut path = spec.path.to_owned();
    for name in [
        "customer_id",
        "hold_id",
        "invoice_id",
        "key_id",
        "webhook_id",
        "delivery_id",
    ] {
        if path.contains(&format!("{{{name}}}")) {
            path = path.replace(&format!("{{{name}}}"), id);
            params.insert(name.to_owned(), id.to_owned());
        }
    }
    let request = lambda_http::http::Request::builder()
        .method(Method::from_bytes(spec.method.as_bytes()).unwrap())
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .body(body.map_or(Body::Empty, |b| Body::from(b.to_string())))
        .unwrap()
        .with_path_parameters(params);
    let response = handle(app, route, request).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("a JSON text body, got {other:?}"),
    };
    (response.status(), body)
}

/// A new key of the business of `key`, made with `key`: its id and secret.
async fn new_key(app: &App, key: &str, body: Value) -> (Value, String) {
    let (status, created) = send(app, Route::CreateApiKey, key, "", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let secret = created["key_secret"].as_str().unwrap().to_owned();
    (created, secret)
}

fn assert_insufficient_scope(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
    assert_eq!(body["code"], "insufficient_scope", "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn a_key_is_full_unless_made_read_only_and_its_scope_is_listed() {
    let (app, key) = app_and_key().await;
    let (full, _) = new_key(&app, &key, json!({"name": "default"})).await;
    assert_eq!(full["scope"], "full");
    let (read_only, _) = new_key(&app, &key, json!({"name": "ro", "scope": "read_only"})).await;
    assert_eq!(read_only["scope"], "read_only");
    let (status, listed) = send(&app, Route::ListApiKeys, &key, "", None).await;
    assert_eq!(status, StatusCode::OK);
    let scope_of = |id: &Value| {
        let items = listed["items"].as_array().unwrap();
        items.iter().find(|k| k["id"] == *id).unwrap()["scope"].clone()
    };
    assert_eq!(listed["items"].as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(scope_of(&full["id"]), "full");
    assert_eq!(scope_of(&read_only["id"]), "read_only");
    let (status, refused) = send(
        &app,
        Route::CreateApiKey,
        &key,
        "",
        Some(json!({"scope": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "invalid_scope");
}

#[tokio::test]
async fn a_read_only_key_is_refused_every_state_changing_route_before_its_handler_runs() {
    let (app, key) = app_and_key().await;
    let (_, read_only) = new_key(&app, &key, json!({"scope": "read_only"})).await;
    // Stripe's webhook takes no key (its signature authenticates it).
    let changing: Vec<_> = ROUTES
        .iter()
        .filter(|s| s.method != "GET" && s.takes_key())
        .collect();
    assert!(
        changing.len() >= 15,
        "the table's POST, PATCH and DELETE routes"
    );
    for spec in changing {
        // No body and made-up ids: the handler would answer 422 or 404; the scope answers first.
        let (status, body) = send(&app, spec.route, &read_only, "nope", None).await;
        assert_insufficient_scope(status, &body, spec.function);
        // The full key reaches the handler with the same request.
        let (status, body) = send(&app, spec.route, &key, "nope", None).await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{}: {body}", spec.function);
    }
    let (status, customers) = send(&app, Route::ListCustomers, &read_only, "", None).await;
    assert_eq!((status, &customers["items"]), (StatusCode::OK, &json!([])));
}

#[tokio::test]
async fn a_read_only_key_cannot_mint_a_full_key_nor_rotate_itself_into_one() {
    let (app, key) = app_and_key().await;
    let (made, read_only) = new_key(&app, &key, json!({"scope": "read_only"})).await;
    let id = made["id"].as_str().unwrap();
    for body in [
        json!({"scope": "full"}),
        json!({}),
        json!({"scope": "read_only"}),
    ] {
        let (status, refused) = send(&app, Route::CreateApiKey, &read_only, "", Some(body)).await;
        assert_insufficient_scope(status, &refused, "create");
    }
    let (status, refused) = send(&app, Route::RotateApiKey, &read_only, id, None).await;
    assert_insufficient_scope(status, &refused, "rotate");
    let (status, refused) = send(&app, Route::RevokeApiKey, &read_only, id, None).await;
    assert_insufficient_scope(status, &refused, "revoke");
    let (_, listed) = send(&app, Route::ListApiKeys, &read_only, "", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
}

#[tokio::test]
async fn a_rotated_key_keeps_its_scope() {
    let (app, key) = app_and_key().await;
    let (made, _) = new_key(&app, &key, json!({"name": "reports", "scope": "read_only"})).await;
    let id = made["id"].as_str().unwrap();
    let (status, rotated) = send(&app, Route::RotateApiKey, &key, id, None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["new_key"]["scope"], "read_only");
    assert_eq!(rotated["old_key"]["scope"], "read_only");
    let secret = rotated["new_key"]["key_secret"].as_str().unwrap();
    let credit = json!({"amount": 1, "currency": "USD", "entry_type": "credit"});
    let (status, body) = send(
        &app,
        Route::CreateLedgerEntry,
        secret,
        "cus_x",
        Some(credit),
    )
    .await;
    assert_insufficient_scope(status, &body, "the rotated key");
}
