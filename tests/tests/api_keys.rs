//! API keys (several per business, revocation, expiry, rotation with grace, last use) and the
//! audit trail (every write records the key and request that made it), through the real handlers
//! against DynamoDB Local.

use std::time::Duration;

use integration_tests::{assert_error, json, Harness, Reply, Route};
use lambda_http::http::StatusCode;

async fn create_key(h: &Harness, body: serde_json::Value) -> (String, String) {
    let created = h.request(Route::CreateApiKey).json(body).send().await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let secret = created.body["key_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));
    (created.body["id"].as_str().unwrap().to_owned(), secret)
}

async fn with_key(h: &Harness, secret: &str) -> Reply {
    h.request(Route::ListCustomers).key(secret).send().await
}

async fn keys(h: &Harness) -> Vec<serde_json::Value> {
    let listed = h.request(Route::ListApiKeys).send().await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["items"].as_array().unwrap().clone()
}

fn later_rfc3339(seconds: u64) -> String {
    shared::kernel::Timestamp::from_unix_ms(
        shared::kernel::Timestamp::now().unix_ms + seconds * 1000,
    )
    .rfc3339()
}

#[tokio::test]
async fn a_business_has_several_keys_listed_without_secrets_and_a_revoked_one_answers_401_at_once()
{
    let h = Harness::new().await;
    let other = h.other_business().await;
    let (id, secret) = create_key(&h, json!({"name": "billing job"})).await;
    assert_eq!(with_key(&h, &secret).await.status, StatusCode::OK);
    let listed = keys(&h).await;
    assert_eq!(listed.len(), 2, "the first key and the new one");
    let mine = listed.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert_eq!(mine["name"], "billing job");
    assert_eq!(mine["status"], "active");
    assert!(mine.get("key_secret").is_none() && !mine.to_string().contains(&secret));
    assert!(
        keys(&other).await.iter().all(|k| k["id"] != id.as_str()),
        "another business never sees it"
    );
    let theirs = other
        .request(Route::RevokeApiKey)
        .path("key_id", &id)
        .send()
        .await;
    assert_error(&theirs, StatusCode::NOT_FOUND, "key_not_found");
    assert_eq!(
        with_key(&h, &secret).await.status,
        StatusCode::OK,
        "untouched by the other business"
    );

    let revoked = h
        .request(Route::RevokeApiKey)
        .path("key_id", &id)
        .send()
        .await;
    assert_eq!(revoked.body["status"], "revoked");
    assert_error(
        &with_key(&h, &secret).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(
        with_key(&h, &h.key).await.status,
        StatusCode::OK,
        "the other key still works"
    );
}

/// Another instance that read a key before its revocation trusts it at most the key cache's
/// TTL (access/cache.rs); the instance that revoked it refuses it at once.
#[tokio::test]
async fn a_key_revoked_elsewhere_answers_401_on_every_instance_within_the_cache_bound() {
    let h = Harness::new().await;
    let elsewhere = h.instance().await;
    let (id, secret) = create_key(&h, json!({"name": "cached"})).await;
    assert_eq!(with_key(&h, &secret).await.status, StatusCode::OK);
    assert_eq!(with_key(&elsewhere, &secret).await.status, StatusCode::OK);
    let revoked = h
        .request(Route::RevokeApiKey)
        .path("key_id", &id)
        .send()
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_error(
        &with_key(&h, &secret).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let bound = shared::access::cache::KEY_CACHE_TTL_MS_DEFAULT + 1_000;
    tokio::time::sleep(Duration::from_millis(bound)).await;
    assert_error(
        &with_key(&elsewhere, &secret).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn a_key_expires_and_a_rotated_key_works_through_its_grace_then_stops() {
    let h = Harness::new().await;
    let (_, short) = create_key(&h, json!({"name": "short", "expires_at": later_rfc3339(2)})).await;
    assert_eq!(with_key(&h, &short).await.status, StatusCode::OK);
    let refused = h
        .request(Route::CreateApiKey)
        .json(json!({"expires_at": "2001-01-01T00:00:00Z"}))
        .send()
        .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_expires_at",
    );

    let (old_id, old) = create_key(&h, json!({"name": "web"})).await;
    let rotated = h
        .request(Route::RotateApiKey)
        .path("key_id", &old_id)
        .key(&old)
        .json(json!({"grace_period_seconds": 2}))
        .send()
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new = rotated.body["new_key"]["key_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rotated.body["new_key"]["name"], "web");
    assert!(rotated.body["old_key"]["expires_at"].is_string());
    assert_eq!(
        with_key(&h, &old).await.status,
        StatusCode::OK,
        "in its grace period"
    );
    assert_eq!(with_key(&h, &new).await.status, StatusCode::OK);
    let too_long = h
        .request(Route::RotateApiKey)
        .path("key_id", &old_id)
        .json(json!({"grace_period_seconds": 40 * 86_400}))
        .send()
        .await;
    assert_error(
        &too_long,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_grace_period",
    );

    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_error(
        &with_key(&h, &short).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &with_key(&h, &old).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_eq!(
        with_key(&h, &new).await.status,
        StatusCode::OK,
        "no downtime: the new key works"
    );
    let statuses: Vec<String> = keys(&h)
        .await
        .iter()
        .map(|k| k["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "expired").count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let h = Harness::new().await;
    let (id, secret) = create_key(&h, json!({})).await;
    let last_used = |keys: Vec<serde_json::Value>| {
        keys.into_iter().find(|k| k["id"] == id.as_str()).unwrap()["last_used_at"].clone()
    };
    assert!(last_used(keys(&h).await).is_null());
    with_key(&h, &secret).await;
    let first = last_used(keys(&h).await);
    assert!(first.is_string());
    tokio::time::sleep(Duration::from_millis(20)).await;
    with_key(&h, &secret).await;
    assert_eq!(
        last_used(keys(&h).await),
        first,
        "not written again within the minute"
    );
}

#[tokio::test]
async fn every_write_records_the_key_that_made_it_and_never_another_business_s() {
    let h = Harness::new().await;
    let other = h.other_business().await;
    let (key_id, secret) = create_key(&h, json!({"name": "audited"})).await;
    let customer = h.customer().await;
    let by = |reply: &Reply, field: &str| {
        reply.body[field]["key_id"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };

    let credit = h
        .request(Route::CreateLedgerEntry)
        .customer(&customer)
        .key(&secret)
        .json(json!({"amount": 1_000, "currency": "USD", "entry_type": "credit"}))
        .send()
        .await;
    assert_eq!(credit.status, StatusCode::OK);
    let entries = h
        .request(Route::ListLedgerEntries)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(
        entries.body["items"][0]["created_by"]["key_id"],
        key_id.as_str()
    );

    let hold = h
        .request(Route::CreateHold)
        .customer(&customer)
        .key(&secret)
        .json(json!({"amount": 100, "currency": "USD"}))
        .send()
        .await;
    assert_eq!(by(&hold, "created_by"), key_id);
    let captured = h
        .request(Route::CaptureHold)
        .customer(&customer)
        .path("hold_id", hold.body["id"].as_str().unwrap())
        .send()
        .await;
    assert_eq!(by(&captured, "created_by"), key_id);
    let first_key = by(&captured, "updated_by");
    assert!(
        first_key.starts_with("key_") && first_key != key_id,
        "the capture was made with the first key"
    );

    let paid = h
        .request(Route::PayInvoice)
        .customer(&customer)
        .key(&secret)
        .json(json!({"invoice_id": "in_audit", "currency": "USD", "amount_due": 50}))
        .send()
        .await;
    assert_eq!(
        paid.body["created_by"]["key_id"],
        key_id.as_str(),
        "{}",
        paid.body
    );

    let settings = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .key(&secret)
        .json(json!({"currency": "USD", "low_balance_threshold": 10}))
        .send()
        .await;
    assert_eq!(by(&settings, "updated_by"), key_id);

    let webhook = h
        .request(Route::CreateWebhook)
        .key(&secret)
        .json(json!({"url": "https://example.com/audit"}))
        .send()
        .await;
    assert_eq!(by(&webhook, "created_by"), key_id);

    // The other business's writes carry its own key, never this business's.
    let theirs = other.customer().await;
    other.credit(&theirs, 5).await;
    let their_entries = other
        .request(Route::ListLedgerEntries)
        .customer(&theirs)
        .send()
        .await;
    let their_key = their_entries.body["items"][0]["created_by"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine: Vec<String> = keys(&h)
        .await
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!mine.contains(&their_key));
    assert!(keys(&other)
        .await
        .iter()
        .any(|k| k["id"] == their_key.as_str()));
}

/// Issue 24.10: a key that expires cannot make a key that outlives it, by creation or by
/// rotation; a key without expiry can make either.
#[tokio::test]
async fn a_key_that_expires_cannot_make_a_key_that_outlives_it() {
    let h = Harness::new().await;
    let (_, short) = create_key(
        &h,
        json!({"name": "short", "expires_at": later_rfc3339(3600)}),
    )
    .await;
    for body in [
        json!({"name": "forever"}),
        json!({"name": "longer", "expires_at": later_rfc3339(7200)}),
    ] {
        let refused = h
            .request(Route::CreateApiKey)
            .key(&short)
            .json(body)
            .send()
            .await;
        assert_error(
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "key_outlives_caller",
        );
    }
    let shorter = h
        .request(Route::CreateApiKey)
        .key(&short)
        .json(json!({"name": "shorter", "expires_at": later_rfc3339(1800)}))
        .send()
        .await;
    assert_eq!(shorter.status, StatusCode::OK, "{}", shorter.body);

    // Rotating with the short key (its own id, or the business's first key) gives a key that
    // ends when the short key does.
    let (lasting_id, _) = create_key(&h, json!({"name": "lasting"})).await;
    let rotated = h
        .request(Route::RotateApiKey)
        .key(&short)
        .path("key_id", &lasting_id)
        .json(json!({"grace_period_seconds": 0}))
        .send()
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let short_ends = keys(&h)
        .await
        .into_iter()
        .find(|k| k["name"] == "short")
        .unwrap()["expires_at"]
        .clone();
    assert!(short_ends.is_string());
    assert_eq!(rotated.body["new_key"]["expires_at"], short_ends);
    // A key without expiry makes a key without expiry.
    let (_, forever) = create_key(&h, json!({"name": "forever"})).await;
    assert_eq!(forever.len(), short.len());
}
