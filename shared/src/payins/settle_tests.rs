//! The one settle function on the memory store: settles at once on several instances credit
//! once, a payment that is not the top-up's is refused, a failure is final, and the sweep's
//! reconciliation ends a top-up never charged.

use super::*;
use crate::adapters::memory::fixtures::{World, T0};
use crate::change::model::{Change, Write};
use crate::kernel::{Currency, CustomerId, Timestamp};
use crate::payins::gateway::{CardGateway, SetupIntent};
use crate::payins::model::{
    CardTopUp, CardTopUpRef, CardTopUpStatus, GatewayPayment, PaymentState, TopUpSource,
};
use crate::ports::{PayinStore, WalletStore};
use crate::topups::gateway::{
    ChargeLookup, ChargeOutcome, ChargeRequest, FoundCharge, GatewayFailure, PaymentGateway,
};

async fn pending(w: &World, customer_id: &CustomerId, amount: i64) -> CardTopUp {
    let now = Timestamp::from_unix_ms(T0);
    let top_up = CardTopUp {
        id: CardTopUp::new_id(T0),
        business_id: w.tenant.business_id.clone(),
        customer_id: customer_id.clone(),
        currency: Currency::USD,
        amount,
        status: CardTopUpStatus::Pending,
        gateway_customer_id: "cus_g".into(),
        payment_method_id: "pm_1".into(),
        payment_intent_id: Some("pi_1".into()),
        decline_code: None,
        message: None,
        source: TopUpSource::Portal,
        save_card: false,
        entry_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let change = Change {
        business_id: w.tenant.business_id.clone(),
        writes: vec![Write::NewCardTopUp(top_up.clone())],
        token: crate::kernel::ids::change_token(T0),
    };
    w.store.commit(&change).await.unwrap().unwrap();
    top_up
}

fn paid(top_up: &CardTopUp, state: PaymentState) -> GatewayPayment {
    GatewayPayment {
        payment_intent_id: "pi_1".into(),
        amount: top_up.amount,
        currency: "usd".into(),
        state,
    }
}

#[tokio::test]
async fn settles_at_once_on_several_instances_credit_once() {
    let w = World::new().await;
    let customer = w.customer().await;
    let top_up = pending(&w, &customer, 2_500).await;
    let payment = paid(&top_up, PaymentState::Succeeded);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (service, top_up, payment) = (w.instance(), top_up.clone(), payment.clone());
        tasks.push(tokio::spawn(async move {
            service
                .settle_card_top_up(
                    &top_up.business_id,
                    &top_up.customer_id,
                    &top_up.id,
                    &payment,
                )
                .await
        }));
    }
    for task in tasks {
        let settled = task.await.unwrap().unwrap();
        assert_eq!(settled.status, CardTopUpStatus::Succeeded);
    }
    assert_eq!(w.wallet(&customer, Currency::USD).await.balance, 2_500);
    let ledger = w.ledger(&customer).await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].reason.as_deref(), Some(TOP_UP_REASON));
    assert_eq!(ledger[0].reference_object_id.as_deref(), Some("pi_1"));
    let stored = w
        .store
        .get_card_top_up(&top_up.business_id, &customer, &top_up.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.entry_id.as_ref(), Some(&ledger[0].id));
}

#[tokio::test]
async fn a_payment_that_is_not_the_top_up_s_is_refused_and_credits_nothing() {
    let w = World::new().await;
    let customer = w.customer().await;
    let top_up = pending(&w, &customer, 2_500).await;
    let good = paid(&top_up, PaymentState::Succeeded);
    for wrong in [
        GatewayPayment {
            amount: 2_501,
            ..good.clone()
        },
        GatewayPayment {
            currency: "inr".into(),
            ..good.clone()
        },
        GatewayPayment {
            payment_intent_id: "pi_other".into(),
            ..good.clone()
        },
    ] {
        let refused = w
            .service
            .settle_card_top_up(&top_up.business_id, &customer, &top_up.id, &wrong)
            .await;
        assert!(
            matches!(&refused, Err(crate::DomainError::Invalid(v)) if v.code == "payment_mismatch"),
            "{refused:?}"
        );
    }
    // Another business's ids find nothing.
    let other = w.other_business().await;
    let foreign = w
        .service
        .settle_card_top_up(&other.business_id, &customer, &top_up.id, &good)
        .await;
    assert!(
        matches!(foreign, Err(crate::DomainError::CardTopUpNotFound(_))),
        "{foreign:?}"
    );
    assert_eq!(w.wallet(&customer, Currency::USD).await.balance, 0);
}

#[tokio::test]
async fn a_failed_payment_is_final_and_credits_nothing() {
    let w = World::new().await;
    let customer = w.customer().await;
    let top_up = pending(&w, &customer, 2_500).await;
    let settle = |state| {
        let payment = paid(&top_up, state);
        let service = w.service.clone();
        let (business, id) = (top_up.business_id.clone(), top_up.id.clone());
        let customer = customer.clone();
        async move {
            service
                .settle_card_top_up(&business, &customer, &id, &payment)
                .await
        }
    };
    let still = settle(PaymentState::Pending).await.unwrap();
    assert_eq!(still.status, CardTopUpStatus::Pending);
    let failed = settle(PaymentState::Failed {
        decline_code: Some("insufficient_funds".into()),
    })
    .await
    .unwrap();
    assert_eq!(failed.status, CardTopUpStatus::Failed);
    assert_eq!(failed.decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(failed.message.as_deref(), Some("the card was declined"));
    let after = settle(PaymentState::Succeeded).await.unwrap();
    assert_eq!(after, failed);
    assert_eq!(w.wallet(&customer, Currency::USD).await.balance, 0);
    assert!(w.ledger(&customer).await.is_empty());
}

/// A gateway that never charged anything.
struct ChargedNothing;

impl PaymentGateway for ChargedNothing {
    async fn charge(&self, _: &ChargeRequest) -> ChargeOutcome {
        unreachable!("reconciliation never charges")
    }

    async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        Ok(None)
    }
    crate::charge_only_gateway!();
}

impl CardGateway for ChargedNothing {
    async fn create_setup_intent(&self, _: &str) -> Result<SetupIntent, GatewayFailure> {
        Err(GatewayFailure::Unavailable("unused".into()))
    }

    async fn gateway_customer(
        &self,
        _: &str,
    ) -> Result<Option<crate::topups::gateway::GatewayCustomer>, GatewayFailure> {
        Ok(None)
    }

    async fn setup_intent(&self, _: &str) -> Result<Option<SetupIntent>, GatewayFailure> {
        Ok(None)
    }

    async fn payment_intent(&self, _: &str) -> Result<Option<GatewayPayment>, GatewayFailure> {
        Ok(None)
    }
}

#[tokio::test]
async fn the_sweep_ends_a_top_up_never_charged_after_an_hour_and_only_then() {
    let w = World::new().await;
    let customer = w.customer().await;
    let mut top_up = pending(&w, &customer, 2_500).await;
    // Its start died before the charge: no PaymentIntent noted.
    let unnoted = top_up.changed(top_up.created_at, |t| t.payment_intent_id = None);
    let change = Change {
        business_id: w.tenant.business_id.clone(),
        writes: vec![Write::CardTopUp(unnoted.clone())],
        token: crate::kernel::ids::change_token(T0),
    };
    w.store.commit(&change).await.unwrap().unwrap();
    top_up = unnoted;
    let item = CardTopUpRef {
        business_id: top_up.business_id.clone(),
        customer_id: customer.clone(),
        id: top_up.id.clone(),
    };
    let at = |ms: u64| Timestamp::from_unix_ms(T0 + ms);
    assert!(w
        .store
        .pending_card_top_ups(T0 + 59_999, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        w.store.pending_card_top_ups(T0 + 60_000, 10).await.unwrap(),
        vec![item.clone()]
    );
    let soon = w
        .service
        .reconcile_card_top_up(&ChargedNothing, &item, at(60_000))
        .await
        .unwrap();
    assert_eq!(soon.status, CardTopUpStatus::Pending);
    let late = w
        .service
        .reconcile_card_top_up(
            &ChargedNothing,
            &item,
            at(super::super::reconcile::NEVER_CHARGED_AFTER_MS),
        )
        .await
        .unwrap();
    assert_eq!(late.status, CardTopUpStatus::Failed);
    assert_eq!(late.decline_code.as_deref(), Some("not_charged"));
    assert!(w
        .store
        .pending_card_top_ups(T0 + 7_200_000, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_payment_failed_event_marks_the_top_up_failed_with_its_listed_code() {
    use crate::payins::stripe_events::{signature_header, WebhookOutcome};
    let w = World::new().await;
    let customer = w.customer().await;
    let top_up = pending(&w, &customer, 2_500).await;
    let event = |id: &str, code: &str| {
        serde_json::to_vec(&serde_json::json!({
            "id": id, "type": "payment_intent.payment_failed",
            "data": {"object": {
                "id": "pi_1", "amount": 2_500, "currency": "usd", "status": "requires_payment_method",
                "last_payment_error": {"code": "card_declined", "decline_code": code,
                    "message": "Your card has insufficient funds."},
                "metadata": {"card_top_up": top_up.id, "business_id": top_up.business_id.as_str(),
                    "customer_id": customer.as_str()},
            }},
        }))
        .unwrap()
    };
    let now_s = T0 / 1000;
    let body = event("evt_failed", "insufficient_funds");
    let outcome = w
        .service
        .receive_stripe_webhook(
            "whsec_t",
            Some(&signature_header("whsec_t", now_s, &body)),
            &body,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        WebhookOutcome::Settled {
            top_up_id: top_up.id.clone(),
            status: "failed"
        }
    );
    let stored = w
        .store
        .get_card_top_up(&top_up.business_id, &customer, &top_up.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.decline_code.as_deref(), Some("insufficient_funds"));
    // The gateway's own words are never kept.
    assert_eq!(stored.message.as_deref(), Some("the card was declined"));
    // An event of no card top-up, and an unsigned one.
    let other = br#"{"id":"evt_x","type":"customer.created","data":{"object":{}}}"#;
    let ignored = w
        .service
        .receive_stripe_webhook(
            "whsec_t",
            Some(&signature_header("whsec_t", now_s, other)),
            other,
        )
        .await
        .unwrap();
    assert_eq!(ignored, WebhookOutcome::Ignored);
    let unsigned = w
        .service
        .receive_stripe_webhook("whsec_t", None, other)
        .await;
    assert!(matches!(
        unsigned,
        Err(crate::DomainError::InvalidSignature)
    ));
}
