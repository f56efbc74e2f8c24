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
}
