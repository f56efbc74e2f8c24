//! Key scopes on DynamoDB Local: a `read_only` key answers every GET route as a `full` key does,
//! and every other route of `api::ROUTES` answers it 403 `insufficient_scope` and changes nothing
//! (the same requests then succeed with a full key, so each one would have changed something). A
//! key stored before keys had a scope reads as `full`.

use api::ROUTES;
use integration_tests::{assert_error, json, Harness, RequestBuilder, Route};
use lambda_http::http::StatusCode;
use serde_json::Value;
use shared::kernel::{BusinessId, EndpointId, EventId, Timestamp};
use shared::ports::WebhookStore;
use shared::webhooks::model::{Delivery, DeliveryStatus, EventType};

/// What the routes act on: a credited customer with holds and a paid invoice, webhook endpoints
/// with a delivery, and keys to revoke and rotate.
struct Fixture {
    customer: String,
    /// One to capture, one to release.
    holds: [String; 2],
    invoice: String,
    webhook: String,
    /// The one `DELETE /webhooks/{webhook_id}` gets, so the others still find theirs.
    deletable_webhook: String,
    delivery: String,
    /// One to revoke, one to rotate.
    keys: [String; 2],
    /// The end of the statement asked for, fixed so that the answers before and after compare.
    now: String,
    top_up_link: String,
}

fn id(reply: &integration_tests::Reply, field: &str) -> String {
    assert!(reply.status.is_success(), "{}", reply.body);
    reply.body[field].as_str().expect(field).to_owned()
}

async fn fixture(h: &Harness) -> Fixture {
    let customer = h.customer().await;
    h.credit(&customer, 1_000).await;
    let inr = h
        .entry(
            &customer,
            json!({"amount": 500, "currency": "INR", "entry_type": "credit"}),
        )
        .await;
    assert_eq!(inr.status, StatusCode::OK, "{}", inr.body);
    let holds = [
        id(&h.hold(&customer, 100).await, "id"),
        id(&h.hold(&customer, 100).await, "id"),
    ];
    let invoice = "inv_scoped".to_owned();
    let paid = h.pay_invoice(&customer, &invoice, "USD", 100).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    let webhook = |url: &'static str| {
        h.request(Route::CreateWebhook)
            .json(json!({"url": url}))
            .send()
    };
    let webhook_id = id(&webhook("http://127.0.0.1:9/hook").await, "id");
    let deletable_webhook = id(&webhook("http://127.0.0.1:9/other").await, "id");
    let now = Timestamp::now();
    let delivery = Delivery {
        id: EventId::derived(now.unix_ms, "scoped event"),
        endpoint_id: EndpointId::parse(&webhook_id).unwrap(),
        business_id: BusinessId::parse(&h.business_id).unwrap(),
        event_type: EventType::ALL[0],
        payload: "{}".to_owned(),
        status: DeliveryStatus::Failed,
        attempt_count: 1,
        next_attempt_at: None,
        lease_until: None,
        created_at: now,
        updated_at: now,
    };
    let store = h.service().store().inner();
    assert!(store.insert_delivery(&delivery).await.unwrap());
    let key = || {
        h.request(Route::CreateApiKey)
            .json(json!({"name": "target"}))
            .send()
    };
    let keys = [id(&key().await, "id"), id(&key().await, "id")];
    let top_up_link = h
        .request(Route::CreateTopUpLink)
        .customer(&customer)
        .json(json!({"amount": 100, "currency": "USD"}))
        .send()
        .await;
    let top_up_link = id(&top_up_link, "id");
    Fixture {
        top_up_link,
        now: shared::kernel::Timestamp::now().rfc3339(),
        customer,
        holds,
        invoice,
        webhook: webhook_id,
        deletable_webhook,
        delivery: delivery.id.to_string(),
        keys,
    }
}

/// A request to `route` that succeeds with a full key on `f` (each route once, in any order).
fn request<'h>(h: &'h Harness, route: Route, f: &Fixture) -> RequestBuilder<'h> {
    let customer = || h.request(route).customer(&f.customer);
    let webhook = || h.request(route).path("webhook_id", &f.webhook);
    match route {
        Route::StripeWebhook => h.request(route).json(json!({})),
        Route::CreateCustomer => h
            .request(route)
            .json(json!({"email": "bo@example.com", "name": "Bo"})),
        Route::ListCustomers => h.request(route),
        Route::GetCustomer
        | Route::ListWallets
        | Route::ListLedgerEntries
        | Route::ListHolds
        | Route::GetWalletSettings => customer(),
        Route::GetWalletStatement => customer()
            .query("currency", "USD")
            .query("from", "2020-01-01T00:00:00Z")
            .query("to", &f.now),
        Route::GetLiabilityReport => h
            .request(route)
            .query("currency", "USD")
            .query("from", "2026-01-01")
            .query("to", "2026-01-31"),
        Route::GetLedgerEntriesReport => h
            .request(route)
            .query("from", "2020-01-01T00:00:00Z")
            .query("to", &f.now),
        Route::UpdateCustomer => customer().json(json!({"name": "Bea"})),
        Route::CreateLedgerEntry => {
            customer().json(json!({"amount": 5, "currency": "USD", "entry_type": "debit"}))
        }
        Route::CreateLedgerEntriesBatch => h.request(route).json(json!({"items": [
            {"customer_id": f.customer, "amount": 7, "currency": "USD", "entry_type": "credit", "idempotency_key": "scoped-batch"},
        ]})),
        Route::CreateHold => customer().json(json!({"amount": 10, "currency": "USD"})),
        Route::CreateTopUpLink => customer().json(json!({"amount": 10, "currency": "USD"})),
        Route::ListTopUpLinks => customer(),
        Route::GetTopUpLink | Route::CancelTopUpLink => {
            customer().path("link_id", &f.top_up_link)
        }
        Route::GetHold | Route::CaptureHold => customer().path("hold_id", &f.holds[0]),
        Route::ReleaseHold => customer().path("hold_id", &f.holds[1]),
        Route::PayInvoice => customer()
            .json(json!({"invoice_id": "inv_new", "currency": "USD", "amount_due": 10})),
        Route::GetInvoicePayment => customer().path("invoice_id", &f.invoice),
        Route::ReverseInvoicePayment => customer()
            .path("invoice_id", &f.invoice)
            .json(json!({"amount": 50})),
        Route::CloseWallet => customer().json(json!({"currency": "INR", "reason": "scoped"})),
        Route::UpdateWalletSettings => {
            customer().json(json!({"currency": "USD", "low_balance_threshold": 50}))
        }
        Route::CreateApiKey => h.request(route).json(json!({"name": "more"})),
        Route::ListApiKeys | Route::ListWebhooks => h.request(route),
        Route::RevokeApiKey => h.request(route).path("key_id", &f.keys[0]),
        Route::RotateApiKey => h.request(route).path("key_id", &f.keys[1]),
        Route::CreateWebhook => h
            .request(route)
            .json(json!({"url": "http://127.0.0.1:9/third"})),
        Route::GetWebhook
        | Route::GetWebhookSecret
        | Route::GetWebhookHeaders
        | Route::ListWebhookDeliveries => webhook(),
        Route::UpdateWebhook => webhook().json(json!({"description": "changed"})),
        Route::DeleteWebhook => h
            .request(route)
            .path("webhook_id", &f.deletable_webhook),
        Route::UpdateWebhookHeaders => webhook().json(json!({"headers": {"x-team": "wallets"}})),
        Route::GetWebhookDelivery | Route::ResendWebhookDelivery => {
            webhook().path("delivery_id", &f.delivery)
        }
        Route::CreateCustomerPortalSession | Route::RevokeCustomerPortalSessions => customer(),
        Route::GetCustomerPortalSettings => h.request(route),
        Route::UpdateCustomerPortalSettings => {
            h.request(route).json(json!({"session_ttl_seconds": 600}))
        }
    }
}

/// Every GET route's answer to `key`, each asserted 200.
async fn every_read(h: &Harness, f: &Fixture, key: &str) -> Vec<(Route, Value)> {
    let mut answers = Vec::new();
    for spec in ROUTES.iter().filter(|s| s.method == "GET") {
        let mut reply = request(h, spec.route, f).key(key).send().await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: {}",
            spec.function,
            reply.body
        );
        if spec.route == Route::ListApiKeys {
            // A key's last use is the bookkeeping of its requests, not a change anyone made.
            for key in reply.body["items"].as_array_mut().unwrap() {
                key.as_object_mut().unwrap().remove("last_used_at");
            }
        }
        answers.push((spec.route, reply.body));
    }
    answers
}

#[tokio::test]
async fn a_read_only_key_reads_everything_and_is_refused_every_change_with_nothing_changed() {
    let h = Harness::new().await;
    let f = fixture(&h).await;
    let made = h
        .request(Route::CreateApiKey)
        .json(json!({"name": "reports", "scope": "read_only"}))
        .send()
        .await;
    assert_eq!(made.body["scope"], "read_only", "{}", made.body);
    let read_only = id(&made, "key_secret");
    let before = every_read(&h, &f, &read_only).await;
    let (wallets, ledger) = (
        h.wallets(&f.customer).await,
        h.all_entries(&f.customer, None).await,
    );

    // Stripe's webhook takes no key (its signature authenticates it: card_top_ups.rs).
    let changing: Vec<_> = ROUTES
        .iter()
        .filter(|s| s.method != "GET" && s.route != Route::StripeWebhook)
        .collect();
    for spec in &changing {
        let reply = request(&h, spec.route, &f).key(&read_only).send().await;
        assert_error(&reply, StatusCode::FORBIDDEN, "insufficient_scope");
    }

    assert_eq!(
        every_read(&h, &f, &read_only).await,
        before,
        "nothing changed"
    );
    assert_eq!(h.wallets(&f.customer).await, wallets);
    assert_eq!(h.all_entries(&f.customer, None).await, ledger);
    // The same requests with a full key: each one succeeds, so each refusal kept a change out.
    for spec in &changing {
        let reply = request(&h, spec.route, &f).send().await;
        assert!(
            reply.status.is_success(),
            "{}: {}",
            spec.function,
            reply.body
        );
    }
    assert_ne!(h.all_entries(&f.customer, None).await, ledger);
}

#[tokio::test]
async fn a_read_only_key_cannot_mint_or_rotate_into_a_full_key_and_a_rotated_key_keeps_its_scope() {
    let h = Harness::new().await;
    let made = h
        .request(Route::CreateApiKey)
        .json(json!({"scope": "read_only"}))
        .send()
        .await;
    let (ro_id, ro_secret) = (id(&made, "id"), id(&made, "key_secret"));
    for body in [json!({"scope": "full"}), json!({})] {
        let minted = h
            .request(Route::CreateApiKey)
            .key(&ro_secret)
            .json(body)
            .send()
            .await;
        assert_error(&minted, StatusCode::FORBIDDEN, "insufficient_scope");
    }
    let rotated = h
        .request(Route::RotateApiKey)
        .key(&ro_secret)
        .path("key_id", &ro_id)
        .send()
        .await;
    assert_error(&rotated, StatusCode::FORBIDDEN, "insufficient_scope");
    let listed = h.request(Route::ListApiKeys).send().await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        listed.body
    );

    // Rotated with a full key, its successor is read-only too, in the store.
    let rotated = h
        .request(Route::RotateApiKey)
        .path("key_id", &ro_id)
        .send()
        .await;
    assert_eq!(
        rotated.body["new_key"]["scope"], "read_only",
        "{}",
        rotated.body
    );
    let successor = rotated.body["new_key"]["key_secret"].as_str().unwrap();
    let listed = h.request(Route::ListApiKeys).send().await;
    let scopes: Vec<&Value> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["scope"])
        .collect();
    assert_eq!(
        scopes,
        [&json!("full"), &json!("read_only"), &json!("read_only")]
    );
    let customer = h
        .request(Route::CreateCustomer)
        .key(successor)
        .json(json!({"email": "ro@example.com", "name": "Ro"}))
        .send()
        .await;
    assert_error(&customer, StatusCode::FORBIDDEN, "insufficient_scope");
}

/// A key item as written before keys had a scope: no `scope` in its document.
#[tokio::test]
async fn a_key_stored_without_a_scope_is_full() {
    use shared::adapters::dynamo::table::{PK, SK};
    let h = Harness::new().await;
    let client = h.dynamodb_client();
    let key_of = |hash: String| {
        std::collections::HashMap::from([
            (
                PK.to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(format!("KEY#{hash}")),
            ),
            (
                SK.to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S("#KEY".to_owned()),
            ),
        ])
    };
    let hash = shared::access::rules::hash_key(&h.key);
    let item = client
        .get_item()
        .table_name(integration_tests::TEST_TABLE)
        .set_key(Some(key_of(hash)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the business's first key");
    let mut doc: serde_json::Map<String, Value> =
        serde_json::from_str(item["doc"].as_s().unwrap()).unwrap();
    doc.remove("scope");
    let mut item = item;
    item.insert(
        "doc".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::S(Value::Object(doc).to_string()),
    );
    client
        .put_item()
        .table_name(integration_tests::TEST_TABLE)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();

    let listed = h.request(Route::ListApiKeys).send().await;
    assert_eq!(listed.body["items"][0]["scope"], "full", "{}", listed.body);
    let created = h
        .request(Route::CreateCustomer)
        .json(json!({"email": "old@example.com", "name": "Old"}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
}
