//! Charging an invoice's remainder on the memory store with a scripted gateway: the order of the
//! cards, what each outcome records, the wallet's list of charges in flight, and a charge whose
//! outcome is unknown resumed with the same gateway attempt.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::adapters::memory::fixtures::{amount, World};
use crate::customers::model::{CustomerPatch, SavedPaymentMethod};
use crate::error::DomainError;
use crate::invoices::model::{ChargeStatus, InvoiceCommand, PaymentStatus};
use crate::kernel::{Currency, CustomerId, InvoiceId};
use crate::topups::gateway::{
    ChargeLookup, ChargeOutcome, ChargeRequest, DeclineClass, FoundCharge, PaymentGateway,
};
use crate::topups::rules::LEASE_MS;

/// Answers each card's charges from a script (`pm -> outcomes`, in turn; the last repeats) and
/// records every request's (payment method, gateway attempt).
#[derive(Default)]
struct Scripted {
    script: Mutex<BTreeMap<String, Vec<ChargeOutcome>>>,
    calls: Mutex<Vec<(String, String)>>,
}

impl Scripted {
    fn answer(self, card: &str, outcomes: Vec<ChargeOutcome>) -> Scripted {
        self.script.lock().unwrap().insert(card.into(), outcomes);
        self
    }

    fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

fn succeeded(id: &str) -> ChargeOutcome {
    ChargeOutcome::Succeeded {
        payment_intent_id: id.into(),
    }
}

fn declined() -> ChargeOutcome {
    DeclineClass::Card.declined(
        Some("pi_declined".into()),
        Some("insufficient_funds".into()),
    )
}

fn unknown() -> ChargeOutcome {
    ChargeOutcome::Unknown {
        error: "timeout".into(),
    }
}

impl PaymentGateway for Scripted {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        self.calls.lock().unwrap().push((
            request.payment_method_id.clone(),
            request.attempt_id.clone(),
        ));
        let mut script = self.script.lock().unwrap();
        let outcomes = script
            .get_mut(&request.payment_method_id)
            .expect("a scripted card");
        if outcomes.len() > 1 {
            outcomes.remove(0)
        } else {
            outcomes[0].clone()
        }
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }

    crate::charge_only_gateway!();
}

/// A customer with `balance` and cards `pm_a` (priority 1) and `pm_b` (2) at `cus_g`.
async fn customer(w: &World, balance: i64, auto_pay: bool) -> CustomerId {
    let c = w.customer().await;
    if balance > 0 {
        w.credit(&c, balance).await;
    }
    let patch = CustomerPatch {
        gateway_customer_id: Some(Some("cus_g".into())),
        // Listed out of order: the priority decides.
        payment_methods: Some(vec![
            SavedPaymentMethod {
                payment_method_id: "pm_b".into(),
                priority: 2,
            },
            SavedPaymentMethod {
                payment_method_id: "pm_a".into(),
                priority: 1,
            },
        ]),
        auto_pay: Some(auto_pay),
        ..Default::default()
    };
    w.service
        .update_customer(&w.tenant, &c, patch)
        .await
        .unwrap();
    c
}

fn invoice(id: &str, due: i64, charge: Option<bool>) -> InvoiceCommand {
    InvoiceCommand {
        invoice_id: InvoiceId::parse(id).unwrap(),
        currency: Currency::USD,
        amount_due: amount(due),
        charge_remainder: charge,
    }
}

#[tokio::test]
async fn cards_are_charged_in_priority_order_and_every_decline_leaves_the_wallet_part() {
    let w = World::new().await;
    let c = customer(&w, 100, true).await;
    let gateway = Scripted::default()
        .answer("pm_a", vec![declined()])
        .answer("pm_b", vec![declined()]);
    let paid = w
        .service
        .pay_invoice_with(Some(&gateway), &w.tenant, &c, invoice("inv_1", 500, None))
        .await
        .unwrap();
    assert_eq!(paid.payment.status(), PaymentStatus::PartiallyPaid);
    assert_eq!((paid.payment.applied, paid.payment.remaining), (100, 400));
    let cards: Vec<_> = paid
        .payment
        .charges
        .iter()
        .map(|c| c.payment_method_id.as_str())
        .collect();
    assert_eq!(cards, ["pm_a", "pm_b"]);
    assert!(paid
        .payment
        .charges
        .iter()
        .all(|c| c.status == ChargeStatus::Declined
            && c.amount == 400
            && c.decline_code.as_deref() == Some("insufficient_funds")));
    // Each card its own gateway attempt.
    let calls = gateway.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[0].1.ends_with("_0") && calls[1].1.ends_with("_1"),
        "{calls:?}"
    );
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 0);
    assert!(w.wallet(&c, Currency::USD).await.invoice_charges.is_empty());
}

#[tokio::test]
async fn without_auto_pay_or_when_asked_not_to_nothing_is_charged() {
    let w = World::new().await;
    let c = customer(&w, 0, false).await;
    let gateway = Scripted::default().answer("pm_a", vec![succeeded("pi_1")]);
    let plain = w
        .service
        .pay_invoice_with(Some(&gateway), &w.tenant, &c, invoice("inv_1", 50, None))
        .await
        .unwrap();
    assert_eq!(plain.payment.status(), PaymentStatus::Failed);
    let asked = w
        .service
        .pay_invoice_with(
            Some(&gateway),
            &w.tenant,
            &c,
            invoice("inv_2", 50, Some(true)),
        )
        .await
        .unwrap();
    assert_eq!(asked.payment.status(), PaymentStatus::Paid);
    assert_eq!(asked.payment.charged(), 50);
    assert_eq!(gateway.calls().len(), 1);
}

#[tokio::test]
async fn an_unknown_outcome_stays_in_flight_and_is_resumed_with_the_same_attempt_after_its_lease() {
    let w = World::new().await;
    let c = customer(&w, 0, true).await;
    let gateway = Scripted::default().answer("pm_a", vec![unknown(), succeeded("pi_1")]);
    let pending = w
        .service
        .pay_invoice_with(Some(&gateway), &w.tenant, &c, invoice("inv_1", 300, None))
        .await
        .unwrap();
    assert_eq!(pending.payment.status(), PaymentStatus::Processing);
    let lease = pending.payment.charge_attempt.as_ref().unwrap().lease_until;
    assert_eq!(
        w.wallet(&c, Currency::USD)
            .await
            .invoice_charges
            .get("inv_1"),
        Some(&lease),
        "the wallet lists it, so the sweep finds it"
    );
    // Repeated within the lease: the original, in flight; nothing charged.
    let again = w
        .service
        .pay_invoice_with(Some(&gateway), &w.tenant, &c, invoice("inv_1", 300, None))
        .await;
    assert!(
        matches!(again, Err(DomainError::InvoiceAlreadyPaid { .. })),
        "{again:?}"
    );
    assert_eq!(gateway.calls().len(), 1);
    // After it: taken over with the same gateway attempt.
    w.clock.advance(LEASE_MS + 1);
    let resumed = w
        .service
        .pay_invoice_with(Some(&gateway), &w.tenant, &c, invoice("inv_1", 300, None))
        .await
        .unwrap();
    assert_eq!(resumed.payment.status(), PaymentStatus::Paid);
    let calls = gateway.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0], calls[1], "the same card and gateway attempt");
    assert!(w.wallet(&c, Currency::USD).await.invoice_charges.is_empty());
}
