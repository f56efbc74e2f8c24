//! Holds (pending charges) through the real handlers against DynamoDB Local.

use integration_tests::{assert_chain, assert_error, json, pending_and_available, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::Timestamp;

#[tokio::test]
async fn a_hold_reserves_balance_that_debits_and_other_holds_cannot_use() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await;

    let hold = h.hold(&customer, 600).await;
    assert_eq!(hold.status, StatusCode::OK, "{}", hold.body);
    assert_eq!(hold.body["status"], "pending");
    assert_eq!(hold.body["amount"], 600);
    assert!(hold.body["id"].as_str().unwrap().starts_with("hld_"));
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (1000, 600, 400)
    );

    let debit = h
        .entry(
            &customer,
            json!({"amount": 401, "currency": "USD", "entry_type": "debit"}),
        )
        .await;
    assert_error(&debit, StatusCode::BAD_REQUEST, "insufficient_balance");
    assert_error(
        &h.hold(&customer, 401).await,
        StatusCode::BAD_REQUEST,
        "insufficient_balance",
    );
    assert_eq!(
        h.all_entries(&customer, None).await.len(),
        1,
        "refusals write nothing"
    );
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (1000, 600, 400)
    );
}

#[tokio::test]
async fn a_partial_capture_is_one_debit_and_gives_back_the_rest_and_a_second_capture_is_refused() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await;
    let hold = h.hold(&customer, 600).await.body;
    let hold_id = hold["id"].as_str().unwrap();

    let too_much = h.capture(&customer, hold_id, Some(601)).await;
    assert_error(
        &too_much,
        StatusCode::UNPROCESSABLE_ENTITY,
        "capture_exceeds_hold",
    );

    let captured = h.capture(&customer, hold_id, Some(250)).await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.body);
    assert_eq!(captured.body["status"], "captured");
    assert_eq!(captured.body["captured_amount"], 250);
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (750, 0, 750)
    );
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["id"], captured.body["ledger_entry_id"]);
    assert_eq!(entries[0]["amount"], 250);
    assert_eq!(entries[0]["event_type"], "payment");
    assert_eq!(entries[0]["reference_object_id"], hold["id"]);
    assert_chain(&entries, 750);

    let again = h.capture(&customer, hold_id, None).await;
    assert_error(&again, StatusCode::CONFLICT, "hold_not_pending");
    assert_eq!(again.body["hold"]["status"], "captured", "carries the hold");
    let release = h.release(&customer, hold_id).await;
    assert_error(&release, StatusCode::CONFLICT, "hold_not_pending");
    assert_eq!(h.all_entries(&customer, None).await.len(), 2);
}

#[tokio::test]
async fn a_released_hold_frees_its_amount_and_cannot_be_captured() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 500).await;
    let hold = h.hold(&customer, 500).await.body;
    let hold_id = hold["id"].as_str().unwrap();

    let released = h.release(&customer, hold_id).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body["status"], "released");
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (500, 0, 500)
    );
    assert_error(
        &h.capture(&customer, hold_id, None).await,
        StatusCode::CONFLICT,
        "hold_not_pending",
    );
    let read = h
        .request(Route::GetHold)
        .customer(&customer)
        .path("hold_id", hold_id)
        .send()
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, released.body);
    assert_eq!(h.all_entries(&customer, None).await.len(), 1);
}

#[tokio::test]
async fn holds_list_newest_first_and_filter_by_status() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let first = h.hold(&customer, 10).await.body;
    let second = h.hold(&customer, 20).await.body;
    h.capture(&customer, second["id"].as_str().unwrap(), None)
        .await;

    let all = h.all_holds(&customer).await;
    assert_eq!(
        all,
        vec![h.get_hold(&customer, &second).await, first.clone()]
    );
    let pending = h
        .request(Route::ListHolds)
        .customer(&customer)
        .query("status", "pending")
        .send()
        .await;
    assert_eq!(pending.body["items"], json!([first]));
    let bad = h
        .request(Route::ListHolds)
        .customer(&customer)
        .query("status", "frozen")
        .send()
        .await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
}

#[tokio::test]
async fn a_repeated_hold_idempotency_key_answers_409_with_the_original_hold() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let body = json!({"amount": 30, "currency": "USD", "idempotency_key": "order-9"});
    let first = h
        .request(Route::CreateHold)
        .customer(&customer)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = h
        .request(Route::CreateHold)
        .customer(&customer)
        .json(body)
        .send()
        .await;
    assert_error(&again, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(again.body["hold"], first.body);
    assert_eq!(h.usd_wallet(&customer).await["pending_charges"], 30);
    // The key is the business's: a ledger entry cannot reuse it either.
    let entry = h
        .entry(
            &customer,
            json!({"amount": 5, "currency": "USD", "entry_type": "credit", "idempotency_key": "order-9"}),
        )
        .await;
    assert_error(&entry, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(entry.body["hold"], first.body);
}

/// The only test of this binary that makes short-lived holds, so the sweep here meets no other
/// test's holds (cargo runs the test binaries one after another; the simulation makes them too).
#[tokio::test]
async fn an_expired_hold_cannot_be_captured_and_the_sweep_gives_its_amount_back() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let expires_at = Timestamp {
        unix_ms: Timestamp::now().unix_ms + 1500,
    }
    .rfc3339();
    let lapsing = h
        .request(Route::CreateHold)
        .customer(&customer)
        .json(json!({"amount": 40, "currency": "USD", "expires_at": expires_at}))
        .send()
        .await;
    assert_eq!(lapsing.status, StatusCode::OK, "{}", lapsing.body);
    assert_eq!(lapsing.body["expires_at"], expires_at);
    let lasting = h.hold(&customer, 25).await.body;
    let lapsing_id = lapsing.body["id"].as_str().unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let late = h.capture(&customer, lapsing_id, None).await;
    assert_error(&late, StatusCode::CONFLICT, "hold_expired");
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (100, 65, 35),
        "an expired hold stays reserved until the sweep"
    );

    let expired = h
        .expire_holds(Timestamp::now(), 10_000)
        .await
        .expect("sweep");
    assert!(expired >= 1, "the sweep expired {expired} holds");
    let read = h.get_hold(&customer, &lapsing.body).await;
    assert_eq!(read["status"], "expired");
    assert_eq!(h.get_hold(&customer, &lasting).await["status"], "pending");
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (100, 25, 75)
    );
    let still_listed = h
        .expired_holds(Timestamp::now().unix_ms, 10_000)
        .await
        .unwrap();
    assert!(
        still_listed
            .iter()
            .all(|r| r.hold_id.as_str() != lapsing_id),
        "a resolved hold leaves the expiry index"
    );
}

/// A customer past [`HOLD_CHUNK`] holds: the next hold's id names chunk 1 and lives in that
/// chunk's partition; it is read, listed (newest first, across both chunks) and captured like any
/// other.
#[tokio::test]
async fn holds_past_the_first_chunk_are_read_listed_and_captured() {
    use shared::holds::model::HOLD_CHUNK;

    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await;
    // The wallets as if HOLD_CHUNK - 1 holds had been made (their items are not needed here).
    h.rewrite_wallets(&customer, |wallets| wallets.hold_count = HOLD_CHUNK - 1)
        .await;

    let last_of_first = h.hold(&customer, 100).await;
    let first_of_second = h.hold(&customer, 200).await;
    let (a, b) = (
        last_of_first.body["id"].as_str().unwrap().to_owned(),
        first_of_second.body["id"].as_str().unwrap().to_owned(),
    );
    assert!(!a.contains("_1"), "{a}");
    assert!(b.starts_with("hld_") && b.ends_with("_1"), "{b}");
    assert_eq!(
        h.get_hold(&customer, &first_of_second.body).await["amount"],
        200
    );
    assert_eq!(
        h.get_hold(&customer, &last_of_first.body).await["amount"],
        100
    );
    let listed: Vec<String> = h
        .all_holds(&customer)
        .await
        .iter()
        .map(|hold| hold["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, [b.clone(), a.clone()], "newest first, both chunks");

    let captured = h.capture(&customer, &b, Some(150)).await;
    assert_eq!(captured.status, StatusCode::OK, "{}", captured.body);
    assert_eq!(captured.body["status"], "captured");
    let pending = h
        .request(Route::ListHolds)
        .customer(&customer)
        .queries(&[("status", "pending")])
        .send()
        .await;
    let pending: Vec<&str> = pending.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hold| hold["id"].as_str().unwrap())
        .collect();
    assert_eq!(pending, [a.as_str()]);
    assert_eq!(
        pending_and_available(&h.usd_wallet(&customer).await),
        (850, 100, 750)
    );
}
