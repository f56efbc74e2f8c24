//! What a caller sees when DynamoDB fails: a stalled or throttling store answers 503
//! `store_unavailable` with `Retry-After` (never a hang, a 401 or a bare 500), and a commit whose
//! answer was lost is neither lost nor applied twice.

use std::time::Duration;

use api::Route;
use integration_tests::{assert_error, json, Harness};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use shared::adapters::dynamo::DynamoStore;
use shared::adapters::faulty::Faults;
use shared::kernel::SystemClock;
use shared::{Config, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A fake DynamoDB endpoint: every connection gets `answer` (or nothing at all, if `None`).
async fn fake_dynamodb(answer: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = [0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                match answer {
                    Some(answer) => {
                        let _ = socket.write_all(answer.as_bytes()).await;
                    }
                    // A stalled store: the connection stays open and nothing comes back.
                    None => tokio::time::sleep(Duration::from_secs(3600)).await,
                }
            });
        }
    });
    format!("http://{address}")
}

/// One request to the real handler of a service whose DynamoDB is at `endpoint`.
async fn ask(endpoint: String) -> Response<Body> {
    let config = Config::build("unreachable".into(), Some(endpoint), "USD", None).unwrap();
    let app = Service::new(DynamoStore::connect(&config).await, SystemClock, config);
    let request = lambda_http::http::Request::builder()
        .method(Method::GET)
        .uri("/customers")
        .header("authorization", "Bearer cw_some_key")
        .body(Body::Empty)
        .unwrap();
    // A hang fails the test instead of blocking it: the store's own budget is far shorter.
    tokio::time::timeout(
        Duration::from_secs(60),
        api::handle(&app, Route::ListCustomers, request),
    )
    .await
    .expect("an answer, not a hang")
}

fn assert_unavailable(response: &Response<Body>) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["x-should-retry"], "true");
    let Body::Text(text) = response.body() else {
        panic!("a JSON body");
    };
    let body: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(body["code"], "store_unavailable", "{body}");
}

#[tokio::test]
async fn a_stalled_store_answers_503_store_unavailable_not_a_hang_or_401() {
    assert_unavailable(&ask(fake_dynamodb(None).await).await);
}

#[tokio::test]
async fn a_store_that_keeps_throttling_answers_503_after_the_sdk_retries() {
    const THROTTLED: &str = "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: test\r\ncontent-length: 108\r\nconnection: close\r\n\r\n{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\",\"message\":\"Rate of requests exceeds limit\"}";
    assert_eq!(THROTTLED.split("\r\n\r\n").nth(1).unwrap().len(), 108);
    assert_unavailable(&ask(fake_dynamodb(Some(THROTTLED)).await).await);
}

#[tokio::test]
async fn an_unreachable_store_answers_503() {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is gone: connections are refused.
    assert_unavailable(&ask(format!("http://127.0.0.1:{port}")).await);
}

/// The function dies after the commit and before its answer (the store's answer is lost on
/// every try): the client sees a 503, and its retry with the same key answers the original.
#[tokio::test]
async fn a_credit_whose_answer_is_lost_is_applied_once_and_the_key_retry_answers_the_original() {
    let always_lost = Faults {
        ambiguous: 1.0,
        ..Faults::NONE
    };
    let faulty = Harness::with_faults(7, always_lost).await;
    let h = faulty.without_faults();
    let customer = h.customer().await;
    let credit = json!({"amount": 500, "currency": "USD", "entry_type": "credit", "idempotency_key": "lost-1"});
    let lost = faulty
        .request(Route::CreateLedgerEntry)
        .customer(&customer)
        .json(credit.clone())
        .send()
        .await;
    assert_error(&lost, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    let retried = h
        .request(Route::CreateLedgerEntry)
        .customer(&customer)
        .json(credit)
        .send()
        .await;
    assert_error(&retried, StatusCode::CONFLICT, "idempotency_key_reused");
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries.len(), 1, "applied once");
    assert_eq!(retried.body["ledger_entry"]["id"], entries[0]["id"]);
    assert_eq!(h.balance(&customer, "USD").await, 500);
}
