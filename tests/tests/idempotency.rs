//! Idempotency keys: at most once per business and key, forever; a repeat answers 409 with the original.

use integration_tests::{assert_error, json, Harness};
use lambda_http::http::StatusCode;

#[tokio::test]
async fn a_repeated_key_answers_409_with_the_original_even_with_a_different_body() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let first = h.entry(&customer, json!({"amount": 500, "currency": "USD", "entry_type": "credit", "idempotency_key": "welcome", "reason": "Welcome bonus"})).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["balance"], 500);

    let repeat = h.entry(&customer, json!({"amount": 999, "currency": "INR", "entry_type": "credit", "idempotency_key": "welcome"})).await;
    assert_error(&repeat, StatusCode::CONFLICT, "idempotency_key_reused");
    let original = &repeat.body["ledger_entry"];
    assert_eq!(
        (
            original["amount"].as_i64(),
            original["currency"].as_str(),
            original["reason"].as_str()
        ),
        (Some(500), Some("USD"), Some("Welcome bonus"))
    );
    assert_eq!(h.balance(&customer, "USD").await, 500);
    assert_eq!(h.balance(&customer, "INR").await, 0);
}

#[tokio::test]
async fn a_repeated_debit_key_answers_409_even_when_the_balance_no_longer_covers_it() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let debit = json!({"amount": 100, "currency": "USD", "entry_type": "debit", "idempotency_key": "charge-1"});
    assert_eq!(
        h.entry(&customer, debit.clone()).await.status,
        StatusCode::OK
    );
    let repeat = h.entry(&customer, debit).await;
    assert_error(&repeat, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(repeat.body["ledger_entry"]["after_balance"], 0);
}

#[tokio::test]
async fn a_refused_request_does_not_burn_its_key() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let debit = json!({"amount": 50, "currency": "USD", "entry_type": "debit", "idempotency_key": "retry-me"});
    assert_error(
        &h.entry(&customer, debit.clone()).await,
        StatusCode::BAD_REQUEST,
        "insufficient_balance",
    );
    h.credit(&customer, 50).await;
    assert_eq!(
        h.entry(&customer, debit).await.status,
        StatusCode::OK,
        "the key is free after a refusal"
    );
    assert_eq!(h.balance(&customer, "USD").await, 0);
}

#[tokio::test]
async fn keys_are_per_business_and_shared_across_that_business_customers() {
    let a = Harness::new().await;
    let b = a.other_business().await;
    let (a1, a2, b1) = (a.customer().await, a.customer().await, b.customer().await);
    let credit = json!({"amount": 10, "currency": "USD", "entry_type": "credit", "idempotency_key": "same-key"});
    assert_eq!(a.entry(&a1, credit.clone()).await.status, StatusCode::OK);
    assert_error(
        &a.entry(&a2, credit.clone()).await,
        StatusCode::CONFLICT,
        "idempotency_key_reused",
    );
    assert_eq!(
        b.entry(&b1, credit).await.status,
        StatusCode::OK,
        "another business has its own keys"
    );
    assert_eq!(a.balance(&a2, "USD").await, 0);
}
