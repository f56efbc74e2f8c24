//! Auth and tenancy: no key or a wrong key is 401; another business's ids are 404 on every route.

use api::ROUTES;
use integration_tests::{assert_error, item_strings, json, Harness, Reply, Route};
use lambda_http::http::StatusCode;

fn body_for(route: Route) -> Option<&'static str> {
    match route {
        Route::CreateCustomer => Some(r#"{"email": "eve@example.com", "name": "Eve"}"#),
        Route::UpdateCustomer => Some(r#"{"name": "Mallory"}"#),
        Route::CreateLedgerEntry => {
            Some(r#"{"amount": 1, "currency": "USD", "entry_type": "debit"}"#)
        }
        Route::CreateLedgerEntriesBatch => Some(
            r#"{"items": [{"customer_id": "cus_x", "amount": 1, "currency": "USD", "entry_type": "debit", "idempotency_key": "k"}]}"#,
        ),
        Route::CreateHold => Some(r#"{"amount": 1, "currency": "USD"}"#),
        Route::CreateTopUpLink => Some(r#"{"amount": 1, "currency": "USD"}"#),
        Route::CaptureHold => Some(r#"{"amount": 1}"#),
        Route::PayInvoice => Some(r#"{"invoice_id": "in_1", "currency": "USD", "amount_due": 1}"#),
        Route::ReverseInvoicePayment => Some(r#"{"amount": 1}"#),
        Route::CloseWallet => Some(r#"{"currency": "USD", "reason": "closing"}"#),
        Route::UpdateWalletSettings => Some(r#"{"currency": "USD", "low_balance_threshold": 5}"#),
        Route::GetWalletSettings => None,
        Route::UpdateCustomerPortalSettings => Some(r#"{"session_ttl_seconds": 600}"#),
        Route::CreateCustomerPortalSession
        | Route::RevokeCustomerPortalSessions
        | Route::GetCustomerPortalSettings => None,
        Route::CreateApiKey => Some(r#"{"name": "ci"}"#),
        Route::RotateApiKey => Some(r#"{"grace_period_seconds": 60}"#),
        Route::ListApiKeys | Route::RevokeApiKey => None,
        Route::CreateWebhook => Some(r#"{"url": "https://example.com/hooks"}"#),
        Route::UpdateWebhook => Some(r#"{"disabled": true}"#),
        Route::UpdateWebhookHeaders => Some(r#"{"headers": {"x-a": "b"}}"#),
        Route::ListWebhooks
        | Route::GetWebhook
        | Route::DeleteWebhook
        | Route::GetWebhookSecret
        | Route::GetWebhookHeaders
        | Route::ListWebhookDeliveries
        | Route::GetWebhookDelivery
        | Route::ResendWebhookDelivery
        | Route::StripeWebhook => None,
        Route::GetCustomer
        | Route::GetLiabilityReport
        | Route::GetLedgerEntriesReport
        | Route::ListCustomers
        | Route::ListWallets
        | Route::GetWalletStatement
        | Route::ListLedgerEntries
        | Route::ListHolds
        | Route::GetHold
        | Route::ReleaseHold
        | Route::ListTopUpLinks
        | Route::GetTopUpLink
        | Route::CancelTopUpLink
        | Route::GetInvoicePayment => None,
    }
}

/// The query a route needs to get past its own checks to the customer's.
fn query_for(route: Route) -> Vec<(&'static str, &'static str)> {
    match route {
        Route::GetWalletStatement => vec![
            ("currency", "USD"),
            ("from", "2020-01-01T00:00:00Z"),
            ("to", "2021-01-01T00:00:00Z"),
        ],
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn every_route_refuses_a_missing_or_wrong_key_with_401() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 5).await;
    let wrong = format!("{}x", h.key);
    // Stripe's webhook takes no key: its signature authenticates it (400 without one:
    // card_top_ups.rs).
    for spec in ROUTES.iter().filter(|s| s.route != Route::StripeWebhook) {
        for key in [None, Some("cw_0000"), Some(wrong.as_str()), Some("")] {
            let request = h
                .request(spec.route)
                .customer(&customer)
                .raw_body(body_for(spec.route).unwrap_or(""));
            let request = match key {
                Some(key) => request.key(key),
                None => request.without_key(),
            };
            let reply = request.send().await;
            assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
    assert_eq!(h.balance(&customer, "USD").await, 5);
    assert_eq!(
        h.request(Route::ListCustomers).send().await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn another_business_gets_404_for_every_customer_route_and_changes_nothing() {
    let owner = Harness::new().await;
    let intruder = owner.other_business().await;
    let customer = owner.customer().await;
    owner.credit(&customer, 5).await;
    let hold = owner.hold(&customer, 2).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = owner.pay_invoice(&customer, "in_owner", "USD", 1).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    let link = owner
        .request(Route::CreateTopUpLink)
        .customer(&customer)
        .json(json!({"amount": 1, "currency": "USD"}))
        .send()
        .await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.body);
    let link = link.body["id"].as_str().unwrap().to_owned();
    // The intruder's own customer with the owner's hold and invoice: still nothing to find.
    let intruders_customer = intruder.customer().await;
    intruder.credit(&intruders_customer, 5).await;
    // Sends the route with the owner's hold and invoice, as the intruder.
    let send = |route, customer: &str| {
        intruder
            .request(route)
            .customer(customer)
            .path("hold_id", &hold)
            .path("invoice_id", "in_owner")
            .path("link_id", &link)
            .raw_body(body_for(route).unwrap_or(""))
            .queries(&query_for(route))
            .send()
    };
    for spec in ROUTES.iter().filter(|s| s.path.contains("{customer_id}")) {
        let reply = send(spec.route, &customer).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "customer_not_found");
        let expected = match spec.route {
            Route::GetHold | Route::CaptureHold | Route::ReleaseHold => "hold_not_found",
            Route::GetInvoicePayment | Route::ReverseInvoicePayment => "invoice_payment_not_found",
            Route::GetTopUpLink | Route::CancelTopUpLink => "top_up_link_not_found",
            _ => continue,
        };
        let reply = send(spec.route, &intruders_customer).await;
        assert_error(&reply, StatusCode::NOT_FOUND, expected);
    }
    ledger_entries_report_holds_only_the_callers_entries(&owner, &intruder, &customer).await;
    let wallet = owner.usd_wallet(&customer).await;
    assert_eq!(
        (
            &wallet["balance"],
            &wallet["pending_charges"],
            &wallet["status"]
        ),
        (&json!(4), &json!(2), &json!("active")),
        "the owner's wallet, hold and invoice are untouched"
    );
    let owners_link = owner
        .request(Route::GetTopUpLink)
        .customer(&customer)
        .path("link_id", &link)
        .send()
        .await;
    assert_eq!(
        owners_link.body["status"], "active",
        "the owner's link is untouched"
    );
    assert_eq!(intruder.balance(&intruders_customer, "USD").await, 5);
    let ids = |reply: Reply| item_strings(&reply, "customer_id");
    let intruder_list = intruder.request(Route::ListCustomers).send().await;
    assert_eq!(ids(intruder_list), vec![intruders_customer.clone()]);
    let by_email = intruder
        .request(Route::ListCustomers)
        .query("email", "ada@example.com")
        .send()
        .await;
    assert_eq!(
        ids(by_email),
        vec![intruders_customer.clone()],
        "the email index is per business (both customers share the email)"
    );
    assert_eq!(
        owner
            .request(Route::GetCustomer)
            .customer(&customer)
            .send()
            .await
            .body["name"],
        "Ada"
    );
}

#[tokio::test]
async fn another_business_gets_404_for_every_webhook_route_and_changes_nothing() {
    let owner = Harness::new().await;
    let intruder = owner.other_business().await;
    let created = owner
        .request(Route::CreateWebhook)
        .json(json!({"url": "https://example.com/owner"}))
        .send()
        .await;
    let webhook = created.body["id"].as_str().unwrap().to_owned();
    for spec in ROUTES.iter().filter(|s| s.path.contains("{webhook_id}")) {
        let reply = intruder
            .request(spec.route)
            .path("webhook_id", &webhook)
            .path("delivery_id", "evt_01jabcdefghjkmnpqrstvwxyz0")
            .raw_body(body_for(spec.route).unwrap_or(""))
            .send()
            .await;
        assert_error(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
    }
    let mine = owner
        .request(Route::GetWebhook)
        .path("webhook_id", &webhook)
        .send()
        .await;
    assert_eq!(mine.body["disabled"], false, "untouched");
    let theirs = intruder.request(Route::ListWebhooks).send().await;
    assert_eq!(theirs.body["data"], json!([]));
}

/// `GET /reports/ledger-entries` as the intruder: its own entries only, and a cursor naming the
/// owner's customer mid-ledger is refused (422), not answered with the owner's entries.
async fn ledger_entries_report_holds_only_the_callers_entries(
    owner: &Harness,
    intruder: &Harness,
    owners_customer: &str,
) {
    let from = "2020-01-01T00:00:00Z";
    let to = shared::kernel::Timestamp::now().rfc3339();
    async fn export(h: &Harness, from: &str, to: &str) -> lambda_http::Response<lambda_http::Body> {
        h.request(Route::GetLedgerEntriesReport)
            .queries(&[("from", from), ("to", to)])
            .send_raw()
            .await
    }
    let customers_in = |response: lambda_http::Response<lambda_http::Body>| {
        assert_eq!(response.status(), StatusCode::OK);
        let text = std::str::from_utf8(response.body()).unwrap().to_owned();
        text.lines()
            .map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).unwrap();
                entry["customer_id"].as_str().unwrap().to_owned()
            })
            .collect::<Vec<_>>()
    };
    let owners = customers_in(export(owner, from, &to).await);
    assert!(!owners.is_empty() && owners.iter().all(|c| c == owners_customer));
    let intruders = customers_in(export(intruder, from, &to).await);
    assert!(!intruders.is_empty() && intruders.iter().all(|c| c != owners_customer));
    let from_ms =
        shared::kernel::clock::parse_instant("from", from, shared::kernel::clock::Round::Up)
            .unwrap();
    let to_ms =
        shared::kernel::clock::parse_instant("to", &to, shared::kernel::clock::Round::Up).unwrap();
    let forged = format!("x1.{from_ms}.{to_ms}.1.2.{owners_customer}");
    let reply = intruder
        .request(Route::GetLedgerEntriesReport)
        .queries(&[("from", from), ("to", &to), ("cursor", &forged)])
        .send()
        .await;
    assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
}
