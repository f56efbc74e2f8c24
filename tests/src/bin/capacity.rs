//! Capacity benchmark: the read and write units each API operation costs, measured against
//! DynamoDB Local through the real handlers.
//!
//! DynamoDB Local reports capacity for reads and single-item writes as AWS bills them, but
//! under-reports transactions, so for those the table counts the items and their sizes and prices
//! them as AWS does: 2 WCU per KB (rounded up) per item and per secondary-index copy.
//!
//! Run: `./infra/bench.sh` (starts DynamoDB Local), or with `DYNAMODB_ENDPOINT` set:
//! `cargo run -p integration-tests --bin capacity`.

use api::Route;
use integration_tests::{json, Harness, Reply};
use lambda_http::http::StatusCode;
use shared::store::dynamo::Usage;

fn row(operation: &str, reply: &Reply, usage: &Usage) {
    let items: Vec<String> = usage
        .transaction_items
        .iter()
        .map(|(kind, bytes, indexes)| {
            format!(
                "{kind} {bytes}B{}",
                if *indexes > 0 {
                    format!("+{indexes}idx")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    println!(
        "| {operation:<52} | {:>3} | {:>5} | {:>5.1} | {:>5.1} | {:<40} |",
        reply.status.as_u16(),
        usage.calls,
        usage.read_units,
        usage.billed_wcu(),
        items.join(", ")
    );
}

#[tokio::main]
async fn main() {
    let h = Harness::new().await;
    println!(
        "| {:<52} | {:>3} | {:>5} | {:>5} | {:>5} | {:<40} |",
        "operation (through the handler, API-key lookup included)",
        "HTTP",
        "calls",
        "RCU",
        "WCU",
        "transaction items (size, index copies)"
    );
    println!(
        "|{}|",
        [
            "-".repeat(54),
            "-".repeat(5),
            "-".repeat(7),
            "-".repeat(7),
            "-".repeat(7),
            "-".repeat(42)
        ]
        .join("|")
    );

    let measure = |operation: &'static str,
                   route: Route,
                   customer: Option<String>,
                   query: Vec<(&'static str, String)>,
                   body: Option<serde_json::Value>| {
        let h = h.clone();
        async move {
            h.app.store().take_usage();
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = h.call(route, customer.as_deref(), &query, body).await;
            row(operation, &reply, &h.app.store().take_usage());
            reply
        }
    };

    let measure_at = |operation: &'static str,
                      route: Route,
                      params: Vec<(&'static str, String)>,
                      body: Option<serde_json::Value>| {
        let h = h.clone();
        async move {
            h.app.store().take_usage();
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let raw = body.map(|b| b.to_string());
            let reply = h
                .send(route, &params, &[], raw.as_deref(), Some(&h.key))
                .await;
            row(operation, &reply, &h.app.store().take_usage());
            reply
        }
    };

    let created = measure("POST /customers", Route::CreateCustomer, None, vec![], Some(json!({"email": "bench@example.com", "name": "Bench Customer", "metadata": {"plan": "pro"}}))).await;
    let customer = created.body["customer_id"]
        .as_str()
        .expect("customer")
        .to_owned();
    let c = || Some(customer.clone());
    measure("GET /customers/{id}", Route::GetCustomer, c(), vec![], None).await;
    measure(
        "PATCH /customers/{id}",
        Route::UpdateCustomer,
        c(),
        vec![],
        Some(json!({"name": "Renamed"})),
    )
    .await;
    for i in 0..20 {
        h.call(
            Route::CreateCustomer,
            None,
            &[],
            Some(json!({"email": format!("b{i}@example.com"), "name": "B"})),
        )
        .await;
    }
    measure(
        "GET /customers?page_size=10 (21 customers)",
        Route::ListCustomers,
        None,
        vec![("page_size", "10".into())],
        None,
    )
    .await;
    measure(
        "GET /customers?page_size=10&page_number=1",
        Route::ListCustomers,
        None,
        vec![("page_size", "10".into()), ("page_number", "1".into())],
        None,
    )
    .await;
    measure(
        "GET /customers?email=",
        Route::ListCustomers,
        None,
        vec![("email", "bench@example.com".into())],
        None,
    )
    .await;
    measure(
        "GET /customers/{id}/wallets",
        Route::ListWallets,
        c(),
        vec![],
        None,
    )
    .await;
    let credit = json!({"amount": 5000, "currency": "USD", "entry_type": "credit", "reason": "Welcome bonus"});
    measure(
        "POST ledger-entries credit, no idempotency key",
        Route::CreateLedgerEntry,
        c(),
        vec![],
        Some(credit),
    )
    .await;
    let keyed = json!({"amount": 5000, "currency": "USD", "entry_type": "credit", "reason": "Top-up", "idempotency_key": "purchase_pay_0123456789"});
    measure(
        "POST ledger-entries credit, idempotency key",
        Route::CreateLedgerEntry,
        c(),
        vec![],
        Some(keyed.clone()),
    )
    .await;
    let debit = json!({"amount": 1500, "currency": "USD", "entry_type": "debit", "reason": "Subscription", "idempotency_key": "charge_sub_0123456789"});
    measure(
        "POST ledger-entries debit, idempotency key",
        Route::CreateLedgerEntry,
        c(),
        vec![],
        Some(debit),
    )
    .await;
    measure(
        "POST ledger-entries repeated key (409)",
        Route::CreateLedgerEntry,
        c(),
        vec![],
        Some(keyed),
    )
    .await;
    let too_much = json!({"amount": 99_999_999, "currency": "USD", "entry_type": "debit"});
    measure(
        "POST ledger-entries insufficient (400)",
        Route::CreateLedgerEntry,
        c(),
        vec![],
        Some(too_much),
    )
    .await;

    let cus = || ("customer_id", customer.clone());
    let first_hold = measure_at(
        "POST holds, no idempotency key",
        Route::CreateHold,
        vec![cus()],
        Some(json!({"amount": 700, "currency": "USD", "reason": "Pending usage", "reference_object_id": "inv_0123456789"})),
    )
    .await;
    let hold = measure_at(
        "POST holds, idempotency key",
        Route::CreateHold,
        vec![cus()],
        Some(json!({"amount": 700, "currency": "USD", "reason": "Pending usage", "reference_object_id": "inv_0123456789", "idempotency_key": "hold_inv_0123456789"})),
    )
    .await;
    let hold_id = hold.body["id"].as_str().expect("hold").to_owned();
    let at_hold = || vec![cus(), ("hold_id", hold_id.clone())];
    measure_at("GET holds/{id}", Route::GetHold, at_hold(), None).await;
    measure_at("GET holds (2 holds)", Route::ListHolds, vec![cus()], None).await;
    measure_at(
        "POST holds/{id}/capture (part)",
        Route::CaptureHold,
        at_hold(),
        Some(json!({"amount": 450})),
    )
    .await;
    measure_at(
        "POST holds/{id}/capture again (409)",
        Route::CaptureHold,
        at_hold(),
        None,
    )
    .await;
    let other = h.hold(&customer, 100).await.body["id"]
        .as_str()
        .expect("hold")
        .to_owned();
    measure_at(
        "POST holds/{id}/release",
        Route::ReleaseHold,
        vec![cus(), ("hold_id", other)],
        None,
    )
    .await;
    let invoice = json!({"invoice_id": "in_2026_000123", "currency": "USD", "amount_due": 2500});
    measure_at(
        "POST invoice-payments",
        Route::PayInvoice,
        vec![cus()],
        Some(invoice.clone()),
    )
    .await;
    measure_at(
        "POST invoice-payments repeated (409)",
        Route::PayInvoice,
        vec![cus()],
        Some(invoice),
    )
    .await;
    let at_invoice = || vec![cus(), ("invoice_id", "in_2026_000123".to_owned())];
    measure_at(
        "GET invoice-payments/{id}",
        Route::GetInvoicePayment,
        at_invoice(),
        None,
    )
    .await;
    measure_at(
        "POST invoice-payments/{id}/reversals, no key",
        Route::ReverseInvoicePayment,
        at_invoice(),
        Some(json!({"amount": 1000, "reason": "Refund"})),
    )
    .await;
    measure_at(
        "POST invoice-payments/{id}/reversals, key",
        Route::ReverseInvoicePayment,
        at_invoice(),
        Some(json!({"amount": 1000, "reason": "Refund", "idempotency_key": "refund_0123456789"})),
    )
    .await;

    for i in 0..1_000 {
        let currency = if i % 2 == 0 { "USD" } else { "INR" };
        let reply = h
            .entry(
                &customer,
                json!({"amount": 1, "currency": currency, "entry_type": "credit"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    for (operation, page, size, currency) in [
        (
            "GET ledger-entries page 0, size 10 (1003 entries)",
            "0",
            "10",
            None,
        ),
        ("GET ledger-entries page 90, size 10", "90", "10", None),
        ("GET ledger-entries page 0, size 100", "0", "100", None),
        ("GET ledger-entries page 9, size 100", "9", "100", None),
        (
            "GET ledger-entries currency=USD page 40, size 10",
            "40",
            "10",
            Some("USD"),
        ),
    ] {
        let mut query = vec![
            ("page_number", page.to_owned()),
            ("page_size", size.to_owned()),
        ];
        if let Some(currency) = currency {
            query.push(("currency", currency.to_owned()));
        }
        measure(operation, Route::ListLedgerEntries, c(), query, None).await;
    }
    let first_hold = first_hold.body["id"].as_str().expect("hold").to_owned();
    h.call_at(
        Route::ReleaseHold,
        &[("customer_id", &customer), ("hold_id", &first_hold)],
        None,
    )
    .await;
    measure_at(
        "POST wallets/close (pays out the balance)",
        Route::CloseWallet,
        vec![cus()],
        Some(json!({"currency": "USD", "reason": "Customer left", "reference_object_id": "po_0123456789"})),
    )
    .await;
    measure_at(
        "POST wallets/close, empty wallet (no payout)",
        Route::CloseWallet,
        vec![("customer_id", h.customer().await)],
        Some(json!({"currency": "INR", "reason": "Customer left"})),
    )
    .await;
}
