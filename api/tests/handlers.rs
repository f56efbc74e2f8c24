//! The handlers against the in-memory store: parsing, the error mapping and the views, without
//! DynamoDB. (Every behaviour that touches storage is also proven on DynamoDB Local in `tests/`.)

use std::collections::HashMap;

use api::{handle, Route};
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
    let (_, key) = app.create_business("Handlers").await.expect("business");
    (app, key)
}

async fn send(
    app: &App,
    route: Route,
    key: Option<&str>,
    customer_id: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let spec = route.spec();
    let path = spec
        .path
        .replace("{customer_id}", customer_id.unwrap_or(""));
    let mut builder = lambda_http::http::Request::builder()
        .method(Method::from_bytes(spec.method.as_bytes()).unwrap())
        .uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
    let params: HashMap<String, String> = customer_id
        .map(|id| ("customer_id".to_owned(), id.to_owned()))
        .into_iter()
        .collect();
    let request = builder.body(body).unwrap().with_path_parameters(params);
    let response = handle(app, route, request).await;
    let status = response.status();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("a JSON text body, got {other:?}"),
    };
    (status, body)
}

async fn customer(app: &App, key: &str) -> String {
    let body = json!({"email": "ada@example.com", "name": "Ada"});
    let (status, created) = send(app, Route::CreateCustomer, Some(key), None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created["customer_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_request_without_a_valid_key_is_401_with_code_and_message() {
    let (app, _) = app_and_key().await;
    for key in [None, Some("cw_not_a_key")] {
        let (status, body) = send(&app, Route::ListCustomers, key, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "unauthenticated");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_credit_answers_the_wallet_and_the_ledger_lists_it_in_dodos_shape() {
    let (app, key) = app_and_key().await;
    let id = customer(&app, &key).await;
    let credit = json!({"amount": 250, "currency": "USD", "entry_type": "credit"});
    let (status, wallet) = send(
        &app,
        Route::CreateLedgerEntry,
        Some(&key),
        Some(&id),
        Some(credit),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{wallet}");
    assert_eq!(
        wallet,
        json!({"customer_id": id, "currency": "USD", "balance": 250, "pending_charges": 0,
            "available_balance": 250, "status": "active",
            "created_at": "2027-01-15T08:00:00.000Z", "updated_at": "2027-01-15T08:00:00.000Z"})
    );
    let (status, page) = send(&app, Route::ListLedgerEntries, Some(&key), Some(&id), None).await;
    assert_eq!(status, StatusCode::OK);
    let entry = &page["items"][0];
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            entry["amount"].clone(),
            entry["is_credit"].clone(),
            entry["after_balance"].clone()
        ),
        (json!(250), json!(true), json!(250))
    );
    assert!(
        entry.get("customer_seq").is_none(),
        "positions are not part of the API: {entry}"
    );
}

#[tokio::test]
async fn an_invalid_body_is_422_and_changes_nothing() {
    let (app, key) = app_and_key().await;
    let id = customer(&app, &key).await;
    for body in [
        json!({"amount": 0, "currency": "USD", "entry_type": "credit"}),
        json!({"amount": 5, "currency": "usd", "entry_type": "credit"}),
        json!({"amount": 5, "currency": "USD", "entry_type": "sideways"}),
    ] {
        let (status, answer) = send(
            &app,
            Route::CreateLedgerEntry,
            Some(&key),
            Some(&id),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["code"].is_string() && answer["message"].is_string());
    }
    let (_, wallets) = send(&app, Route::ListWallets, Some(&key), Some(&id), None).await;
    assert_eq!(wallets["total_balance_usd"], 0);
    let (_, page) = send(&app, Route::ListLedgerEntries, Some(&key), Some(&id), None).await;
    assert_eq!(page, json!({"items": []}));
}

#[tokio::test]
async fn another_business_s_customer_is_404() {
    let (app, key) = app_and_key().await;
    let id = customer(&app, &key).await;
    let (_, other_key) = app.create_business("Other").await.unwrap();
    let (status, body) = send(&app, Route::GetCustomer, Some(&other_key), Some(&id), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("customer_not_found"))
    );
}

#[tokio::test]
async fn a_repeated_key_is_409_with_the_original_entry_in_its_view() {
    let (app, key) = app_and_key().await;
    let id = customer(&app, &key).await;
    let credit =
        json!({"amount": 7, "currency": "INR", "entry_type": "credit", "idempotency_key": "k1"});
    let (first, _) = send(
        &app,
        Route::CreateLedgerEntry,
        Some(&key),
        Some(&id),
        Some(credit.clone()),
    )
    .await;
    assert_eq!(first, StatusCode::OK);
    let (status, body) = send(
        &app,
        Route::CreateLedgerEntry,
        Some(&key),
        Some(&id),
        Some(credit),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "idempotency_key_reused");
    assert_eq!(body["ledger_entry"]["idempotency_key"], "k1");
    assert_eq!(body["ledger_entry"]["currency"], "INR");
    assert!(body["ledger_entry"].get("currency_seq").is_none());
}
