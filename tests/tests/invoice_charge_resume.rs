//! "Never twice" for an invoice's remainder (issue 22, item 3), with faults: a worker that dies
//! right after the charge, and a charge whose answer is lost, are resumed with the same attempt
//! and reconciled into the one charge made. DynamoDB Local, the real Stripe adapter against
//! localstripe, wrapped to die or lose the answer.

use std::time::Duration;

use integration_tests::assert_error;
use integration_tests::cards::{customer_with_cards, gateway, intents, later, pay, GOOD_CARD};
use integration_tests::gateways::{DiesAfterCharge, LosesTheAnswer};
use integration_tests::Harness;
use lambda_http::http::StatusCode;
use shared::access::model::Tenant;
use shared::adapters::stripe::StripeGateway;
use shared::invoices::model::{
    Destination, InvoiceCommand, PaymentStatus, RefundStatus, ReversalCommand,
};
use shared::kernel::{Amount, BusinessId, Currency, CustomerId, InvoiceId};
use shared::topups::gateway::{
    ChargeOutcome, ChargeRequest, PaymentGateway, RefundOutcome, RefundRequest,
};

fn command(invoice: &str, due: i64) -> InvoiceCommand {
    InvoiceCommand {
        invoice_id: InvoiceId::parse(invoice).unwrap(),
        currency: Currency::USD,
        amount_due: Amount::new(due).unwrap(),
        charge_remainder: Some(true),
    }
}

/// One test at a time where charges are left in flight: a sweep serves every business, and one
/// at a future instant would resume another test's charge.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_crash_after_the_charge_or_a_lost_answer_is_resumed_with_no_second_charge() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let (customer, gateway_customer, _) = customer_with_cards(&h, 100, &[GOOD_CARD], false).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let invoice = InvoiceId::parse("inv_crash").unwrap();

    let dying = DiesAfterCharge(gateway());
    let run = h.service().pay_invoice_with(
        Some(&dying),
        &tenant,
        &customer_id,
        command("inv_crash", 700),
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .is_err(),
        "the worker died"
    );
    assert_eq!(intents(&gateway_customer).await.len(), 1);
    let stuck = h
        .service()
        .get_invoice_payment(&tenant, &customer_id, &invoice)
        .await
        .unwrap();
    assert_eq!(stuck.payment.status(), PaymentStatus::Processing);
    // A retry of the request while the lease holds: 409 with the payment in progress.
    let retry = pay(&h, &customer, "inv_crash", 700, Some(true)).await;
    assert_error(&retry, StatusCode::CONFLICT, "invoice_already_paid");
    assert_eq!(retry.body["invoice_payment"]["status"], "processing");
    // Resumed before the lease ends: nothing happens.
    let early = h
        .service()
        .resume_invoice_charge(&gateway(), &tenant, &customer_id, &invoice, later(10))
        .await
        .unwrap();
    assert_eq!(early.payment.status(), PaymentStatus::Processing);
    // After it: reconciled into the charge already made.
    let resumed = h
        .service()
        .resume_invoice_charge(&gateway(), &tenant, &customer_id, &invoice, later(61))
        .await
        .unwrap();
    assert_eq!(resumed.payment.status(), PaymentStatus::Paid, "{resumed:?}");
    assert_eq!(resumed.payment.charged(), 600);
    assert_eq!(
        intents(&gateway_customer).await.len(),
        1,
        "not charged again"
    );

    // The answer lost: the request says processing; the resume reconciles.
    let (customer, gateway_customer, _) = customer_with_cards(&h, 0, &[GOOD_CARD], false).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let invoice = InvoiceId::parse("inv_lost").unwrap();
    let lost = h
        .service()
        .pay_invoice_with(
            Some(&LosesTheAnswer(gateway())),
            &tenant,
            &customer_id,
            command("inv_lost", 900),
        )
        .await
        .unwrap();
    assert_eq!(lost.payment.status(), PaymentStatus::Processing);
    let resumed = h
        .service()
        .resume_invoice_charge(&gateway(), &tenant, &customer_id, &invoice, later(61))
        .await
        .unwrap();
    assert_eq!(resumed.payment.status(), PaymentStatus::Paid);
    assert_eq!(intents(&gateway_customer).await.len(), 1);
    // Resumed again: nothing more.
    let again = h
        .service()
        .resume_invoice_charge(&gateway(), &tenant, &customer_id, &invoice, later(200))
        .await
        .unwrap();
    assert_eq!(again.payment, resumed.payment);
    assert_eq!(intents(&gateway_customer).await.len(), 1);
}

/// Refunds through the real gateway, then answers that the outcome is unknown (the answer was
/// lost).
struct LosesTheRefundAnswer(StripeGateway);

impl PaymentGateway for LosesTheRefundAnswer {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        self.0.charge(request).await
    }

    async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        let made = self.0.refund(request).await;
        assert!(matches!(made, RefundOutcome::Succeeded { .. }), "{made:?}");
        RefundOutcome::Unknown {
            error: "timeout after 10 s (injected)".into(),
        }
    }

    integration_tests::delegate_lookups!();
}

#[tokio::test]
async fn a_refund_whose_answer_is_lost_is_asked_again_and_not_made_twice() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let (customer, _, _) = customer_with_cards(&h, 0, &[GOOD_CARD], true).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let invoice = InvoiceId::parse("inv_refund_lost").unwrap();
    let paid = pay(&h, &customer, "inv_refund_lost", 1_000, None).await;
    assert_eq!(paid.body["status"], "paid", "{}", paid.body);
    let intent = paid.body["charges"][0]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let reversal = |amount| ReversalCommand {
        amount: Amount::new(amount).unwrap(),
        reason: None,
        idempotency_key: None,
    };
    let lost = h
        .service()
        .reverse_invoice_payment_with(
            Some(&LosesTheRefundAnswer(gateway())),
            &tenant,
            &customer_id,
            &invoice,
            reversal(300),
            Destination::OriginalMethod,
        )
        .await
        .unwrap();
    assert_eq!(lost.payment.refunds[0].status, RefundStatus::Pending);
    assert_eq!(gateway().refunds_of(&intent).await.unwrap().len(), 1);
    // The next reversal, within the first refund's lease, leaves it to its worker: its own
    // refund only.
    let next = h
        .service()
        .reverse_invoice_payment_with(
            Some(&gateway()),
            &tenant,
            &customer_id,
            &invoice,
            reversal(100),
            Destination::OriginalMethod,
        )
        .await
        .unwrap();
    let statuses: Vec<_> = next.payment.refunds.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RefundStatus::Pending, RefundStatus::Succeeded]);
    // Once its lease has ended it is asked again, with the same key: found, not made again.
    let resumed = h
        .service()
        .resume_invoice_charge(&gateway(), &tenant, &customer_id, &invoice, later(61))
        .await
        .unwrap();
    let statuses: Vec<_> = resumed.payment.refunds.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RefundStatus::Succeeded, RefundStatus::Succeeded]);
    let made = gateway().refunds_of(&intent).await.unwrap();
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(made.iter().map(|r| r.1).sum::<i64>(), 400);
    assert_eq!(resumed.payment.refunded_to_card(), 400);
}

#[tokio::test]
async fn the_sweep_resumes_a_charge_left_in_flight_once_its_lease_ends() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let (customer, gateway_customer, _) = customer_with_cards(&h, 50, &[GOOD_CARD], false).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let invoice = InvoiceId::parse("inv_swept").unwrap();
    let dying = DiesAfterCharge(gateway());
    let run = h.service().pay_invoice_with(
        Some(&dying),
        &tenant,
        &customer_id,
        command("inv_swept", 450),
    );
    assert!(tokio::time::timeout(Duration::from_secs(3), run)
        .await
        .is_err());
    let stripe = gateway();
    let sweep = |at| {
        h.service()
            .sweep_top_ups_and_holds(Some(&stripe), at, 1000, Duration::from_secs(60))
    };
    let early = sweep(later(10)).await.unwrap();
    assert_eq!(early.invoice_charges_resumed, 0, "its lease still holds");
    let swept = sweep(later(61)).await.unwrap();
    assert_eq!(swept.invoice_charges_resumed, 1, "{swept:?}");
    let found = h
        .service()
        .get_invoice_payment(&tenant, &customer_id, &invoice)
        .await
        .unwrap();
    assert_eq!(found.payment.status(), PaymentStatus::Paid);
    assert_eq!(found.payment.charged(), 400);
    assert_eq!(
        intents(&gateway_customer).await.len(),
        1,
        "reconciled, not charged again"
    );
    let again = sweep(later(200)).await.unwrap();
    assert_eq!(again.invoice_charges_resumed, 0, "nothing left in flight");
}

#[tokio::test]
async fn the_sweep_asks_again_for_a_refund_left_pending() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let (customer, _, _) = customer_with_cards(&h, 0, &[GOOD_CARD], true).await;
    let customer_id = CustomerId::parse(&customer).unwrap();
    let invoice = InvoiceId::parse("inv_refund_swept").unwrap();
    let paid = pay(&h, &customer, "inv_refund_swept", 800, None).await;
    let intent = paid.body["charges"][0]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reversal = ReversalCommand {
        amount: Amount::new(250).unwrap(),
        reason: None,
        idempotency_key: None,
    };
    let lost = h
        .service()
        .reverse_invoice_payment_with(
            Some(&LosesTheRefundAnswer(gateway())),
            &tenant,
            &customer_id,
            &invoice,
            reversal,
            Destination::OriginalMethod,
        )
        .await
        .unwrap();
    assert_eq!(lost.payment.refunds[0].status, RefundStatus::Pending);
    let stripe = gateway();
    let sweep = |at| {
        h.service()
            .sweep_top_ups_and_holds(Some(&stripe), at, 1000, Duration::from_secs(60))
    };
    assert_eq!(sweep(later(10)).await.unwrap().invoice_charges_resumed, 0);
    assert_eq!(sweep(later(61)).await.unwrap().invoice_charges_resumed, 1);
    let found = h
        .service()
        .get_invoice_payment(&tenant, &customer_id, &invoice)
        .await
        .unwrap();
    assert_eq!(found.payment.refunds[0].status, RefundStatus::Succeeded);
    assert_eq!(
        gateway().refunds_of(&intent).await.unwrap().len(),
        1,
        "not refunded twice"
    );
    assert_eq!(sweep(later(200)).await.unwrap().invoice_charges_resumed, 0);
}
