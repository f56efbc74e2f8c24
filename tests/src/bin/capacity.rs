//! Capacity benchmark: the read and write units each API operation costs, measured against
//! DynamoDB Local through the real handlers.
//!
//! DynamoDB Local reports capacity for reads and single-item writes as AWS bills them, but
//! under-reports transactions, so for those the table counts the items and their sizes and prices
//! them as AWS does: 2 WCU per KB (rounded up) per item and per secondary-index copy.
//!
//! Run: `./infra/bench.sh` (starts DynamoDB Local), or with `DYNAMODB_ENDPOINT` set:
//! `cargo run -p integration-tests --bin capacity`.

use integration_tests::{json, Harness, Reply, RequestBuilder, Route, Usage};
use lambda_http::http::StatusCode;

/// Sends `request` and prints its row: the capacity it used, API-key lookup included.
async fn measure(h: &Harness, operation: &str, request: RequestBuilder<'_>) -> Reply {
    h.take_usage();
    let reply = request.send().await;
    row(operation, &reply, &h.take_usage());
    reply
}

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

    let created = measure(
        &h,
        "POST /customers",
        h.request(Route::CreateCustomer).json(json!({"email": "bench@example.com", "name": "Bench Customer", "metadata": {"plan": "pro"}})),
    )
    .await;
    let customer = created.body["customer_id"]
        .as_str()
        .expect("customer")
        .to_owned();
    let c = |route| h.request(route).customer(&customer);
    measure(&h, "GET /customers/{id}", c(Route::GetCustomer)).await;
    measure(
        &h,
        "PATCH /customers/{id}",
        c(Route::UpdateCustomer).json(json!({"name": "Renamed"})),
    )
    .await;
    for i in 0..20 {
        h.request(Route::CreateCustomer)
            .json(json!({"email": format!("b{i}@example.com"), "name": "B"}))
            .send()
            .await;
    }
    measure(
        &h,
        "GET /customers?page_size=10 (21 customers)",
        h.request(Route::ListCustomers).query("page_size", "10"),
    )
    .await;
    measure(
        &h,
        "GET /customers?page_size=10&page_number=1",
        h.request(Route::ListCustomers)
            .query("page_size", "10")
            .query("page_number", "1"),
    )
    .await;
    measure(
        &h,
        "GET /customers?email=",
        h.request(Route::ListCustomers)
            .query("email", "bench@example.com"),
    )
    .await;
    measure(&h, "GET /customers/{id}/wallets", c(Route::ListWallets)).await;
    let credit = json!({"amount": 5000, "currency": "USD", "entry_type": "credit", "reason": "Welcome bonus"});
    measure(
        &h,
        "POST ledger-entries credit, no idempotency key",
        c(Route::CreateLedgerEntry).json(credit),
    )
    .await;
    let keyed = json!({"amount": 5000, "currency": "USD", "entry_type": "credit", "reason": "Top-up", "idempotency_key": "purchase_pay_0123456789"});
    measure(
        &h,
        "POST ledger-entries credit, idempotency key",
        c(Route::CreateLedgerEntry).json(keyed.clone()),
    )
    .await;
    let debit = json!({"amount": 1500, "currency": "USD", "entry_type": "debit", "reason": "Subscription", "idempotency_key": "charge_sub_0123456789"});
    measure(
        &h,
        "POST ledger-entries debit, idempotency key",
        c(Route::CreateLedgerEntry).json(debit),
    )
    .await;
    measure(
        &h,
        "POST ledger-entries repeated key (409)",
        c(Route::CreateLedgerEntry).json(keyed),
    )
    .await;
    let too_much = json!({"amount": 99_999_999, "currency": "USD", "entry_type": "debit"});
    measure(
        &h,
        "POST ledger-entries insufficient (400)",
        c(Route::CreateLedgerEntry).json(too_much),
    )
    .await;

    let first_hold = measure(
        &h,
        "POST holds, no idempotency key",
        c(Route::CreateHold).json(json!({"amount": 700, "currency": "USD", "reason": "Pending usage", "reference_object_id": "inv_0123456789"})),
    )
    .await;
    let hold = measure(
        &h,
        "POST holds, idempotency key",
        c(Route::CreateHold).json(json!({"amount": 700, "currency": "USD", "reason": "Pending usage", "reference_object_id": "inv_0123456789", "idempotency_key": "hold_inv_0123456789"})),
    )
    .await;
    let hold_id = hold.body["id"].as_str().expect("hold").to_owned();
    let at_hold = |route| c(route).path("hold_id", &hold_id);
    measure(&h, "GET holds/{id}", at_hold(Route::GetHold)).await;
    measure(&h, "GET holds (2 holds)", c(Route::ListHolds)).await;
    measure(
        &h,
        "POST holds/{id}/capture (part)",
        at_hold(Route::CaptureHold).json(json!({"amount": 450})),
    )
    .await;
    measure(
        &h,
        "POST holds/{id}/capture again (409)",
        at_hold(Route::CaptureHold),
    )
    .await;
    let other = h.hold(&customer, 100).await.body["id"]
        .as_str()
        .expect("hold")
        .to_owned();
    measure(
        &h,
        "POST holds/{id}/release",
        c(Route::ReleaseHold).path("hold_id", &other),
    )
    .await;
    let invoice = json!({"invoice_id": "in_2026_000123", "currency": "USD", "amount_due": 2500});
    measure(
        &h,
        "POST invoice-payments",
        c(Route::PayInvoice).json(invoice.clone()),
    )
    .await;
    measure(
        &h,
        "POST invoice-payments repeated (409)",
        c(Route::PayInvoice).json(invoice),
    )
    .await;
    let at_invoice = |route| c(route).path("invoice_id", "in_2026_000123");
    measure(
        &h,
        "GET invoice-payments/{id}",
        at_invoice(Route::GetInvoicePayment),
    )
    .await;
    measure(
        &h,
        "POST invoice-payments/{id}/reversals, no key",
        at_invoice(Route::ReverseInvoicePayment).json(json!({"amount": 1000, "reason": "Refund"})),
    )
    .await;
    measure(
        &h,
        "POST invoice-payments/{id}/reversals, key",
        at_invoice(Route::ReverseInvoicePayment).json(
            json!({"amount": 1000, "reason": "Refund", "idempotency_key": "refund_0123456789"}),
        ),
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
        let request = c(Route::ListLedgerEntries)
            .query("page_number", page)
            .query("page_size", size);
        let request = match currency {
            Some(currency) => request.query("currency", currency),
            None => request,
        };
        measure(&h, operation, request).await;
    }
    reports(&h, &customer).await;
    let first_hold = first_hold.body["id"].as_str().expect("hold").to_owned();
    h.release(&customer, &first_hold).await;
    measure(
        &h,
        "POST wallets/close (pays out the balance)",
        c(Route::CloseWallet).json(json!({"currency": "USD", "reason": "Customer left", "reference_object_id": "po_0123456789"})),
    )
    .await;
    let empty = h.customer().await;
    measure(
        &h,
        "POST wallets/close, empty wallet (no payout)",
        h.request(Route::CloseWallet)
            .customer(&empty)
            .json(json!({"currency": "INR", "reason": "Customer left"})),
    )
    .await;
}

/// The reports over the customer's ledger (about 505 USD entries): balances at an instant and a
/// statement's pages.
async fn reports(h: &Harness, customer: &str) {
    let c = |route| h.request(route).customer(customer);
    let now = shared::kernel::Timestamp::now().rfc3339();
    let middle = c(Route::ListLedgerEntries)
        .queries(&[
            ("currency", "USD"),
            ("page_number", "25"),
            ("page_size", "10"),
        ])
        .send()
        .await;
    let middle = middle.body["items"][0]["created_at"]
        .as_str()
        .expect("an entry")
        .to_owned();
    measure(
        h,
        "GET wallets?as_of=now (USD, INR)",
        c(Route::ListWallets).query("as_of", &now),
    )
    .await;
    measure(
        h,
        "GET wallets?as_of=<mid-ledger> (~505 USD, ~500 INR)",
        c(Route::ListWallets).query("as_of", &middle),
    )
    .await;
    let period = [
        ("currency", "USD"),
        ("from", "2020-01-01T00:00:00Z"),
        ("to", now.as_str()),
    ];
    let first = measure(
        h,
        "GET statements USD, page 1 of 100 (~505 entries)",
        c(Route::GetWalletStatement)
            .queries(&period)
            .query("page_size", "100"),
    )
    .await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    measure(
        h,
        "GET statements USD, next page of 100 (cursor)",
        c(Route::GetWalletStatement)
            .queries(&period)
            .queries(&[("page_size", "100"), ("cursor", &cursor)]),
    )
    .await;
    measure(
        h,
        "GET statements USD from <mid-ledger>, page 1 of 100",
        c(Route::GetWalletStatement).queries(&[
            ("currency", "USD"),
            ("from", middle.as_str()),
            ("to", now.as_str()),
        ]),
    )
    .await;
    measure(
        h,
        "GET statements USD, page 1 of 500, format=csv",
        c(Route::GetWalletStatement)
            .queries(&period)
            .queries(&[("page_size", "500"), ("format", "csv")]),
    )
    .await;
}
