//! Paying invoices from the wallet, reversing those payments, typed entries, closing a wallet.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{assert_chain, assert_error, json, Harness, Route, TEST_TABLE};
use lambda_http::http::StatusCode;

#[tokio::test]
async fn an_invoice_takes_what_is_available_and_reports_the_remainder() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 300).await;
    h.hold(&customer, 100).await;

    let paid = h.pay_invoice(&customer, "in_2024_001", "USD", 500).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(
        (
            &paid.body["applied"],
            &paid.body["remaining"],
            &paid.body["amount_due"]
        ),
        (&json!(200), &json!(300), &json!(500))
    );
    assert_eq!(paid.body["wallet"]["balance"], 100);
    assert_eq!(paid.body["wallet"]["available_balance"], 0);
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries[0]["id"], paid.body["ledger_entry_id"]);
    assert_eq!(entries[0]["event_type"], "payment");
    assert_eq!(entries[0]["reference_object_id"], "in_2024_001");
    assert_eq!(entries[0]["amount"], 200);

    // Nothing left: applies 0, writes no entry, and the whole amount remains.
    let empty = h.pay_invoice(&customer, "in_2024_002", "USD", 50).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(
        (&empty.body["applied"], &empty.body["remaining"]),
        (&json!(0), &json!(50))
    );
    assert!(empty.body["ledger_entry_id"].is_null());
    assert_eq!(h.all_entries(&customer, None).await.len(), 2);
}

#[tokio::test]
async fn an_invoice_is_paid_only_from_the_wallet_of_its_currency() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await; // USD
    let paid = h.pay_invoice(&customer, "in_inr", "INR", 400).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(
        (&paid.body["applied"], &paid.body["remaining"]),
        (&json!(0), &json!(400))
    );
    assert_eq!(h.balance(&customer, "USD").await, 1000);
    assert_error(
        &h.pay_invoice(&customer, "in_eur", "EUR", 400).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "currency_not_enabled",
    );
}

#[tokio::test]
async fn a_repeated_invoice_is_a_409_with_the_original_payment_and_reversals_are_capped() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await;
    let paid = h.pay_invoice(&customer, "in_7", "USD", 400).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);

    h.credit(&customer, 50).await;
    let again = h.pay_invoice(&customer, "in_7", "USD", 999).await;
    assert_error(&again, StatusCode::CONFLICT, "invoice_already_paid");
    let mut original = paid.body.clone();
    original.as_object_mut().unwrap().remove("wallet");
    assert_eq!(again.body["invoice_payment"], original);
    assert_eq!(
        h.balance(&customer, "USD").await,
        650,
        "the repeat took nothing"
    );

    let above = h
        .reverse_payment(&customer, "in_7", json!({"amount": 401}))
        .await;
    assert_error(
        &above,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_applied",
    );
    let part = h
        .reverse_payment(
            &customer,
            "in_7",
            json!({"amount": 150, "idempotency_key": "refund-1"}),
        )
        .await;
    assert_eq!(part.status, StatusCode::OK, "{}", part.body);
    assert_eq!(part.body["reversed"], 150);
    assert_eq!(part.body["wallet"]["balance"], 800);
    let repeat = h
        .reverse_payment(
            &customer,
            "in_7",
            json!({"amount": 150, "idempotency_key": "refund-1"}),
        )
        .await;
    assert_error(&repeat, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(
        repeat.body["ledger_entry"]["event_type"],
        "payment_reversal"
    );
    let rest = h
        .reverse_payment(&customer, "in_7", json!({"amount": 251}))
        .await;
    assert_error(
        &rest,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_applied",
    );
    let last = h
        .reverse_payment(&customer, "in_7", json!({"amount": 250}))
        .await;
    assert_eq!(last.status, StatusCode::OK, "{}", last.body);

    let read = h
        .request(Route::GetInvoicePayment)
        .customer(&customer)
        .path("invoice_id", "in_7")
        .send()
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(
        (&read.body["applied"], &read.body["reversed"]),
        (&json!(400), &json!(400))
    );
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries[0]["event_type"], "payment_reversal");
    assert_eq!(entries[0]["reference_object_id"], "in_7");
    assert_chain(&entries, 1050);
    assert_error(
        &h.reverse_payment(&customer, "in_unknown", json!({"amount": 1}))
            .await,
        StatusCode::NOT_FOUND,
        "invoice_payment_not_found",
    );
}

#[tokio::test]
async fn typed_entries_accept_a_refund_credit_and_refuse_nonsense_combinations() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let refund = h
        .entry(
            &customer,
            json!({"amount": 70, "currency": "USD", "entry_type": "credit", "event_type": "refund", "reference_object_id": "pay_123"}),
        )
        .await;
    assert_eq!(refund.status, StatusCode::OK, "{}", refund.body);
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(
        (
            &entries[0]["event_type"],
            &entries[0]["reference_object_id"]
        ),
        (&json!("refund"), &json!("pay_123"))
    );

    for (body, code) in [
        (
            json!({"amount": 1, "currency": "USD", "entry_type": "debit", "event_type": "refund", "reference_object_id": "pay_1"}),
            "invalid_event_type",
        ),
        (
            json!({"amount": 1, "currency": "USD", "entry_type": "credit", "event_type": "payment", "reference_object_id": "pay_1"}),
            "invalid_event_type",
        ),
        (
            json!({"amount": 1, "currency": "USD", "entry_type": "debit", "event_type": "dispute_reversal", "reference_object_id": "dp_1"}),
            "invalid_event_type",
        ),
        (
            json!({"amount": 1, "currency": "USD", "entry_type": "credit", "event_type": "refund"}),
            "missing_reference_object_id",
        ),
        (
            json!({"amount": 1, "currency": "USD", "entry_type": "credit", "event_type": "bonus"}),
            "invalid_body",
        ),
    ] {
        assert_error(
            &h.entry(&customer, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        );
    }
    assert_eq!(
        h.all_entries(&customer, None).await.len(),
        1,
        "refusals write nothing"
    );
}

#[tokio::test]
async fn closing_pays_out_once_refuses_new_money_and_keeps_history_readable() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 900).await;
    let hold = h.hold(&customer, 100).await.body;
    assert_error(
        &h.close_wallet(&customer, "USD").await,
        StatusCode::CONFLICT,
        "holds_pending",
    );
    h.release(&customer, hold["id"].as_str().unwrap()).await;

    let closed = h.close_wallet(&customer, "USD").await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    assert_eq!(
        (&closed.body["status"], &closed.body["balance"]),
        (&json!("closed"), &json!(0))
    );
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(
        (&entries[0]["amount"], &entries[0]["is_credit"]),
        (&json!(900), &json!(false))
    );
    assert_eq!(
        (&entries[0]["reason"], &entries[0]["reference_object_id"]),
        (&json!("customer left"), &json!("po_9"))
    );

    for refused in [
        h.entry(
            &customer,
            json!({"amount": 1, "currency": "USD", "entry_type": "credit"}),
        )
        .await,
        h.entry(
            &customer,
            json!({"amount": 1, "currency": "USD", "entry_type": "debit"}),
        )
        .await,
        h.hold(&customer, 1).await,
        h.pay_invoice(&customer, "in_after", "USD", 10).await,
        h.close_wallet(&customer, "USD").await,
    ] {
        assert_error(&refused, StatusCode::CONFLICT, "wallet_closed");
    }
    assert_eq!(h.usd_wallet(&customer).await["status"], "closed");
    assert_eq!(h.all_entries(&customer, None).await.len(), 2);
    // The other currency's wallet is untouched.
    let inr = h
        .entry(
            &customer,
            json!({"amount": 5, "currency": "INR", "entry_type": "credit"}),
        )
        .await;
    assert_eq!(inr.status, StatusCode::OK, "{}", inr.body);
}

/// Issue 24.6 on DynamoDB Local: closing an empty wallet writes only the wallets, so it leaves a
/// receipt named by its change token in the customer's partition (what a resend whose first send
/// landed looks for), with a TTL a day ahead.
#[tokio::test]
async fn a_wallet_only_change_leaves_a_receipt_that_expires() {
    use shared::ports::WalletStore;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let closed = h.close_wallet(&customer, "USD").await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.body);
    let pk = format!("CUS#{}#{}", h.business_id, customer);
    let items = h
        .dynamodb_client()
        .query()
        .table_name(TEST_TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :chg)")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(":chg", AttributeValue::S("CHG#".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "one receipt: {items:?}");
    let token = items[0]["sk"].as_s().unwrap().trim_start_matches("CHG#");
    let ttl: u64 = items[0]["ttl"].as_n().unwrap().parse().unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now_s + 86_000..=now_s + 86_500).contains(&ttl),
        "{ttl} vs {now_s}"
    );
    let business = shared::kernel::BusinessId::parse(&h.business_id).unwrap();
    let customer_id = shared::kernel::CustomerId::parse(&customer).unwrap();
    let store = h.service().store();
    assert!(store
        .has_receipt(&business, &customer_id, token)
        .await
        .unwrap());
    assert!(!store
        .has_receipt(&business, &customer_id, "01KB0000000000000000000000")
        .await
        .unwrap());
}
