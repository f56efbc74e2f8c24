//! Bad input: a 4xx with `{code, message}`, and nothing written.

use integration_tests::{assert_error, json, Body, Harness, Route};
use lambda_http::http::StatusCode;
use shared::kernel::money::{AMOUNT_MAX_MINOR, BALANCE_MAX_MINOR};

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

#[tokio::test]
async fn every_invalid_ledger_entry_is_refused_with_a_code_and_writes_nothing() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let huge = format!(
        r#"{{"amount": 1, "currency": "USD", "entry_type": "credit", "reason": "{}"}}"#,
        "x".repeat(70_000)
    );
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "amount zero",
            r#"{"amount": 0, "currency": "USD", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_amount",
        ),
        (
            "negative amount",
            r#"{"amount": -5, "currency": "USD", "entry_type": "debit"}"#.into(),
            UNPROCESSABLE,
            "invalid_amount",
        ),
        (
            "amount above maximum",
            format!(
                r#"{{"amount": {}, "currency": "USD", "entry_type": "credit"}}"#,
                AMOUNT_MAX_MINOR + 1
            ),
            UNPROCESSABLE,
            "amount_too_large",
        ),
        (
            "amount beyond i64",
            r#"{"amount": 99999999999999999999, "currency": "USD", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "fractional amount",
            r#"{"amount": 1.5, "currency": "USD", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "amount as string",
            r#"{"amount": "100", "currency": "USD", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "unknown currency",
            r#"{"amount": 1, "currency": "XYZ", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_currency",
        ),
        (
            "lower-case currency",
            r#"{"amount": 1, "currency": "usd", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_currency",
        ),
        (
            "currency without wallet",
            r#"{"amount": 1, "currency": "EUR", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "currency_not_enabled",
        ),
        (
            "currency as number",
            r#"{"amount": 1, "currency": 840, "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "bad entry_type",
            r#"{"amount": 1, "currency": "USD", "entry_type": "refund"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "bad event_type",
            r#"{"amount": 1, "currency": "USD", "entry_type": "credit", "event_type": "gift"}"#
                .into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "missing amount",
            r#"{"currency": "USD", "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "missing currency",
            r#"{"amount": 1, "entry_type": "credit"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "missing entry_type",
            r#"{"amount": 1, "currency": "USD"}"#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        (
            "empty idempotency key",
            r#"{"amount": 1, "currency": "USD", "entry_type": "credit", "idempotency_key": ""}"#
                .into(),
            UNPROCESSABLE,
            "invalid_idempotency_key",
        ),
        (
            "long idempotency key",
            format!(
                r#"{{"amount": 1, "currency": "USD", "entry_type": "credit", "idempotency_key": "{}"}}"#,
                "k".repeat(256)
            ),
            UNPROCESSABLE,
            "invalid_idempotency_key",
        ),
        (
            "long reason",
            format!(
                r#"{{"amount": 1, "currency": "USD", "entry_type": "credit", "reason": "{}"}}"#,
                "r".repeat(501)
            ),
            UNPROCESSABLE,
            "field_too_long",
        ),
        (
            "malformed JSON",
            r#"{"amount": 1, "currency": "#.into(),
            UNPROCESSABLE,
            "invalid_body",
        ),
        ("JSON array", "[]".into(), UNPROCESSABLE, "invalid_body"),
        ("JSON null", "null".into(), UNPROCESSABLE, "invalid_body"),
        ("empty body", "".into(), UNPROCESSABLE, "invalid_body"),
        (
            "huge body",
            huge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "debit above balance",
            r#"{"amount": 101, "currency": "USD", "entry_type": "debit"}"#.into(),
            StatusCode::BAD_REQUEST,
            "insufficient_balance",
        ),
        (
            "debit in an empty wallet",
            r#"{"amount": 1, "currency": "INR", "entry_type": "debit"}"#.into(),
            StatusCode::BAD_REQUEST,
            "insufficient_balance",
        ),
    ];
    for (what, body, status, code) in cases {
        let reply = h
            .request(Route::CreateLedgerEntry)
            .customer(&customer)
            .raw_body(&body)
            .send()
            .await;
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        assert_error(&reply, status, code);
    }
    assert_eq!(h.balance(&customer, "USD").await, 100, "nothing written");
    assert_eq!(h.balance(&customer, "INR").await, 0, "nothing written");
    assert_eq!(
        h.all_entries(&customer, None).await.len(),
        1,
        "only the setup credit"
    );
}

/// serde reads a struct from a JSON array of its fields in order; a body must be an object.
#[tokio::test]
async fn arrays_of_the_fields_in_order_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let cases = [
        (
            Route::CreateCustomer,
            None,
            r#"["array@example.com", "Array", null, null, null]"#,
        ),
        (
            Route::UpdateCustomer,
            Some(customer.as_str()),
            r#"["array@example.com"]"#,
        ),
        (Route::UpdateCustomer, Some(customer.as_str()), "[]"),
        (
            Route::CreateLedgerEntry,
            Some(customer.as_str()),
            r#"[100, "USD", "credit", null, null, null, null]"#,
        ),
    ];
    for (route, id, body) in cases {
        let request = h.request(route);
        let request = match id {
            Some(id) => request.customer(id),
            None => request,
        };
        let reply = request.raw_body(body).send().await;
        assert_error(&reply, UNPROCESSABLE, "invalid_body");
    }
    let customers = h.request(Route::ListCustomers).send().await;
    assert_eq!(customers.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(customers.body["items"][0]["email"], "ada@example.com");
    assert_eq!(h.balance(&customer, "USD").await, 0);
    assert_eq!(h.all_entries(&customer, None).await.len(), 0);
}

#[tokio::test]
async fn bodies_that_are_not_utf8_are_refused_as_invalid_body() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let not_utf8 = || Body::Binary(vec![0xf7, b'{', 0xff, b'}']);
    for (route, id) in [
        (Route::CreateCustomer, None),
        (Route::UpdateCustomer, Some(customer.as_str())),
        (Route::CreateLedgerEntry, Some(customer.as_str())),
    ] {
        let request = h.request(route);
        let request = match id {
            Some(id) => request.customer(id),
            None => request,
        };
        let reply = request.body(not_utf8()).send().await;
        assert_error(&reply, UNPROCESSABLE, "invalid_body");
    }
    assert_eq!(h.all_entries(&customer, None).await.len(), 0);
}

#[tokio::test]
async fn unknown_or_malformed_customers_answer_404_and_nothing_is_written() {
    let h = Harness::new().await;
    let credit = json!({"amount": 1, "currency": "USD", "entry_type": "credit"});
    for customer in ["cus_01jdoesnotexist", "../etc", "cus_%2e%2e", "x"] {
        assert_error(
            &h.entry(customer, credit.clone()).await,
            StatusCode::NOT_FOUND,
            "customer_not_found",
        );
        assert_error(
            &h.request(Route::GetCustomer)
                .customer(customer)
                .send()
                .await,
            StatusCode::NOT_FOUND,
            "customer_not_found",
        );
    }
}

#[tokio::test]
async fn a_credit_past_the_balance_maximum_is_refused() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    for _ in 0..(BALANCE_MAX_MINOR / AMOUNT_MAX_MINOR) {
        h.credit(&customer, AMOUNT_MAX_MINOR).await;
    }
    let reply = h
        .entry(
            &customer,
            json!({"amount": 1, "currency": "USD", "entry_type": "credit"}),
        )
        .await;
    assert_error(&reply, UNPROCESSABLE, "balance_limit_exceeded");
    assert_eq!(h.balance(&customer, "USD").await, BALANCE_MAX_MINOR);
}

#[tokio::test]
async fn invalid_customers_are_refused_and_not_created() {
    let h = Harness::new().await;
    let cases = [
        (r#"{"name": "No email"}"#, "invalid_body"),
        (r#"{"email": "a@b.co"}"#, "invalid_body"),
        (r#"{"email": "not-an-email", "name": "A"}"#, "invalid_email"),
        (r#"{"email": "a@b.co", "name": "   "}"#, "invalid_name"),
        (
            r#"{"email": "a@b.co", "name": "A", "phone_number": "call me"}"#,
            "invalid_phone_number",
        ),
        (
            r#"{"email": "a@b.co", "name": "A", "metadata": {"nested": {"x": 1}}}"#,
            "invalid_metadata",
        ),
        (
            r#"{"email": "a@b.co", "name": "A", "metadata": ["list"]}"#,
            "invalid_body",
        ),
        (r#"{"email": 5, "name": "A"}"#, "invalid_body"),
        ("{", "invalid_body"),
    ];
    for (body, code) in cases {
        let reply = h.request(Route::CreateCustomer).raw_body(body).send().await;
        assert_error(&reply, UNPROCESSABLE, code);
    }
    let long_name = json!({"email": "a@b.co", "name": "n".repeat(256)});
    assert_error(
        &h.request(Route::CreateCustomer)
            .json(long_name)
            .send()
            .await,
        UNPROCESSABLE,
        "field_too_long",
    );
    let listed = h.request(Route::ListCustomers).send().await;
    assert_eq!(listed.body["items"], json!([]), "no customer was created");
}

#[tokio::test]
async fn invalid_updates_and_queries_are_refused() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    for (body, code) in [
        (json!({"name": null}), "invalid_field"),
        (json!({"email": "nope"}), "invalid_email"),
        (json!({"metadata": {"a": [1]}}), "invalid_metadata"),
        (json!({"auto_pay": null}), "invalid_field"),
        (
            json!({"gateway_customer_id": "cus/../x"}),
            "invalid_payment_methods",
        ),
        (
            json!({"payment_methods": [{"payment_method_id": "pm_1", "priority": 0}]}),
            "invalid_payment_methods",
        ),
        (
            json!({"payment_methods": [{"payment_method_id": "pm_1", "priority": 1},
                                       {"payment_method_id": "pm_1", "priority": 2}]}),
            "invalid_payment_methods",
        ),
        // Cards need the gateway customer they are saved to.
        (
            json!({"payment_methods": [{"payment_method_id": "pm_1", "priority": 1}]}),
            "invalid_payment_methods",
        ),
    ] {
        assert_error(
            &h.request(Route::UpdateCustomer)
                .customer(&customer)
                .json(body)
                .send()
                .await,
            UNPROCESSABLE,
            code,
        );
    }
    assert_eq!(
        h.request(Route::GetCustomer)
            .customer(&customer)
            .send()
            .await
            .body["name"],
        "Ada",
        "unchanged"
    );
    for ((name, value), code) in [
        (("page_size", "0"), "invalid_page_size"),
        (("page_size", "101"), "invalid_page_size"),
        (("page_size", "ten"), "invalid_query"),
        (("page_number", "-1"), "invalid_page_number"),
        (("currency", "dollars"), "invalid_currency"),
    ] {
        assert_error(
            &h.request(Route::ListLedgerEntries)
                .customer(&customer)
                .query(name, value)
                .send()
                .await,
            UNPROCESSABLE,
            code,
        );
    }
    assert_error(
        &h.request(Route::ListCustomers)
            .query("page_size", "1000")
            .send()
            .await,
        UNPROCESSABLE,
        "invalid_page_size",
    );
}

#[tokio::test]
async fn every_invalid_body_of_the_hold_invoice_and_close_routes_is_refused_and_writes_nothing() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let hold = h.hold(&customer, 10).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let paid = h.pay_invoice(&customer, "in_1", "USD", 20).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    let past = "2020-01-01T00:00:00Z";
    let far = "2099-01-01T00:00:00Z";
    let cases: Vec<(Route, &str, String)> = vec![
        (Route::CreateHold, "invalid_body", "".into()),
        (Route::CreateHold, "invalid_body", "[1]".into()),
        (
            Route::CreateHold,
            "invalid_body",
            r#"{"currency": "USD"}"#.into(),
        ),
        (
            Route::CreateHold,
            "invalid_amount",
            r#"{"amount": 0, "currency": "USD"}"#.into(),
        ),
        (
            Route::CreateHold,
            "invalid_amount",
            r#"{"amount": -3, "currency": "USD"}"#.into(),
        ),
        (
            Route::CreateHold,
            "invalid_currency",
            r#"{"amount": 1, "currency": "usd"}"#.into(),
        ),
        (
            Route::CreateHold,
            "currency_not_enabled",
            r#"{"amount": 1, "currency": "EUR"}"#.into(),
        ),
        (
            Route::CreateHold,
            "invalid_timestamp",
            r#"{"amount": 1, "currency": "USD", "expires_at": "tomorrow"}"#.into(),
        ),
        (
            Route::CreateHold,
            "invalid_expires_at",
            format!(r#"{{"amount": 1, "currency": "USD", "expires_at": "{past}"}}"#),
        ),
        (
            Route::CreateHold,
            "invalid_expires_at",
            format!(r#"{{"amount": 1, "currency": "USD", "expires_at": "{far}"}}"#),
        ),
        (
            Route::CreateHold,
            "invalid_idempotency_key",
            r#"{"amount": 1, "currency": "USD", "idempotency_key": ""}"#.into(),
        ),
        (
            Route::CreateHold,
            "field_too_long",
            format!(
                r#"{{"amount": 1, "currency": "USD", "reason": "{}"}}"#,
                "r".repeat(501)
            ),
        ),
        (
            Route::CaptureHold,
            "invalid_amount",
            r#"{"amount": 0}"#.into(),
        ),
        (
            Route::CaptureHold,
            "invalid_body",
            r#"{"amount": "5"}"#.into(),
        ),
        (
            Route::CaptureHold,
            "capture_exceeds_hold",
            r#"{"amount": 11}"#.into(),
        ),
        (
            Route::PayInvoice,
            "invalid_body",
            r#"{"currency": "USD", "amount_due": 5}"#.into(),
        ),
        (
            Route::PayInvoice,
            "invalid_invoice_id",
            r#"{"invoice_id": "", "currency": "USD", "amount_due": 5}"#.into(),
        ),
        (
            Route::PayInvoice,
            "invalid_amount",
            r#"{"invoice_id": "in_2", "currency": "USD", "amount_due": 0}"#.into(),
        ),
        (
            Route::PayInvoice,
            "invalid_currency",
            r#"{"invoice_id": "in_2", "currency": "XXX", "amount_due": 5}"#.into(),
        ),
        (
            Route::PayInvoice,
            "invalid_characters",
            "{\"invoice_id\": \"in\\u0000\", \"currency\": \"USD\", \"amount_due\": 5}".into(),
        ),
        (Route::ReverseInvoicePayment, "invalid_body", r#"{}"#.into()),
        (
            Route::ReverseInvoicePayment,
            "invalid_amount",
            r#"{"amount": -1}"#.into(),
        ),
        (
            Route::ReverseInvoicePayment,
            "reversal_exceeds_applied",
            r#"{"amount": 21}"#.into(),
        ),
        (
            Route::ReverseInvoicePayment,
            "invalid_destination",
            r#"{"amount": 1, "destination": "card"}"#.into(),
        ),
        (
            Route::PayInvoice,
            "invalid_body",
            r#"{"invoice_id": "in_3", "currency": "USD", "amount_due": 5, "charge_remainder": "yes"}"#.into(),
        ),
        (
            Route::CloseWallet,
            "invalid_body",
            r#"{"currency": "USD"}"#.into(),
        ),
        (
            Route::CloseWallet,
            "invalid_reason",
            r#"{"currency": "USD", "reason": " "}"#.into(),
        ),
        (
            Route::CloseWallet,
            "invalid_currency",
            r#"{"currency": "dollars", "reason": "bye"}"#.into(),
        ),
        (
            Route::CloseWallet,
            "currency_not_enabled",
            r#"{"currency": "JPY", "reason": "bye"}"#.into(),
        ),
    ];
    for (route, code, body) in &cases {
        let reply = h
            .request(*route)
            .customer(&customer)
            .path("hold_id", &hold)
            .path("invoice_id", "in_1")
            .raw_body(body)
            .send()
            .await;
        assert_eq!(
            reply.status, UNPROCESSABLE,
            "{route:?} {body}: {}",
            reply.body
        );
        assert_error(&reply, UNPROCESSABLE, code);
    }
    let wallet = h.usd_wallet(&customer).await;
    assert_eq!(
        (
            &wallet["balance"],
            &wallet["pending_charges"],
            &wallet["status"]
        ),
        (&json!(80), &json!(10), &json!("active")),
        "nothing changed: {wallet}"
    );
    assert_eq!(h.all_holds(&customer).await.len(), 1);
    assert_eq!(h.all_entries(&customer, None).await.len(), 2);
}
