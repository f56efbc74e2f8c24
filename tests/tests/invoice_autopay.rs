//! Invoice payment with the remainder charged to the customer's saved cards (issue 22): the real
//! handlers on DynamoDB Local, the real Stripe adapter against localstripe (`STRIPE_BASE_URL`).
//! localstripe does not replay idempotency keys, so "charged once" is proven by counting the
//! PaymentIntents it holds for the customer (`integration_tests::cards`).

use std::time::Duration;

use integration_tests::cards::{
    customer_with_cards, intents, invoice_payment, patch_customer, pay, succeeded_intents,
    DECLINING_CARD, GOOD_CARD,
};
use integration_tests::{assert_error, json, Harness};
use lambda_http::http::StatusCode;

#[tokio::test]
async fn the_wallet_covers_all_then_part_with_card_one_paying_the_rest() {
    let h = Harness::new().await;
    let (customer, gateway_customer, methods) =
        customer_with_cards(&h, 1_000, &[GOOD_CARD], true).await;
    let all = pay(&h, &customer, "inv_all", 400, None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["status"], "paid");
    assert_eq!(
        (all.body["applied"].as_i64(), all.body["remaining"].as_i64()),
        (Some(400), Some(0))
    );
    assert_eq!(all.body["charges"], json!([]));
    assert_eq!(intents(&gateway_customer).await.len(), 0);

    // 600 left in the wallet: 600 applied, 900 charged to card 1 (auto_pay: the default).
    let part = pay(&h, &customer, "inv_part", 1_500, None).await;
    assert_eq!(part.status, StatusCode::OK, "{}", part.body);
    assert_eq!(part.body["status"], "paid", "{}", part.body);
    assert_eq!(part.body["applied"], 600);
    assert_eq!(part.body["remaining"], 0);
    assert_eq!(part.body["charged"], 900);
    let charges = part.body["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["payment_method_id"], methods[0].as_str());
    assert_eq!(charges[0]["amount"], 900);
    assert_eq!(charges[0]["status"], "succeeded");
    let found = intents(&gateway_customer).await;
    assert_eq!(found.len(), 1);
    assert_eq!(charges[0]["payment_intent_id"], found[0].id.as_str());
    assert_eq!(found[0].amount, 900);
    assert_eq!(h.balance(&customer, "USD").await, 0);
    // Read back the same.
    let got = invoice_payment(&h, &customer, "inv_part").await;
    assert_eq!(got.body["charges"], part.body["charges"]);
    assert_eq!(got.body["status"], "paid");

    // `charge_remainder: false` overrides auto_pay: the wallet part only, as before.
    let plain = pay(&h, &customer, "inv_plain", 300, Some(false)).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_eq!(
        plain.body["status"], "failed",
        "nothing applied: the wallet is empty"
    );
    assert_eq!(plain.body["remaining"], 300);
    assert_eq!(intents(&gateway_customer).await.len(), 1);
}

#[tokio::test]
async fn card_one_declines_and_card_two_pays() {
    let h = Harness::new().await;
    let (customer, gateway_customer, methods) =
        customer_with_cards(&h, 200, &[DECLINING_CARD, GOOD_CARD], false).await;
    // auto_pay is off: the request asks.
    let paid = pay(&h, &customer, "inv_fallback", 1_000, Some(true)).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(paid.body["status"], "paid", "{}", paid.body);
    assert_eq!(
        (paid.body["applied"].as_i64(), paid.body["charged"].as_i64()),
        (Some(200), Some(800))
    );
    let charges = paid.body["charges"].as_array().unwrap();
    assert_eq!(charges.len(), 2, "{charges:?}");
    assert_eq!(charges[0]["payment_method_id"], methods[0].as_str());
    assert_eq!(charges[0]["status"], "declined");
    assert_eq!(charges[0]["decline_code"], "card_declined");
    assert_eq!(charges[1]["payment_method_id"], methods[1].as_str());
    assert_eq!(charges[1]["status"], "succeeded");
    assert_eq!(charges[1]["amount"], 800);
    assert_eq!(succeeded_intents(&gateway_customer).await, 1);
}

#[tokio::test]
async fn every_card_declining_or_no_card_leaves_the_wallet_part_applied_as_partially_paid() {
    let h = Harness::new().await;
    let (customer, gateway_customer, _) =
        customer_with_cards(&h, 300, &[DECLINING_CARD, DECLINING_CARD], true).await;
    let declined = pay(&h, &customer, "inv_declined", 1_000, None).await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    assert_eq!(
        declined.body["status"], "partially_paid",
        "{}",
        declined.body
    );
    assert_eq!(
        (
            declined.body["applied"].as_i64(),
            declined.body["remaining"].as_i64()
        ),
        (Some(300), Some(700))
    );
    assert_eq!(declined.body["charges"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.balance(&customer, "USD").await,
        0,
        "the wallet part stays applied"
    );
    assert_eq!(succeeded_intents(&gateway_customer).await, 0);

    // No card at all.
    let bare = h.customer().await;
    h.credit(&bare, 100).await;
    let set = patch_customer(&h, &bare, json!({"auto_pay": true})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let none = pay(&h, &bare, "inv_nocard", 250, None).await;
    assert_eq!(none.status, StatusCode::OK, "{}", none.body);
    assert_eq!(none.body["status"], "partially_paid");
    assert_eq!(
        (
            none.body["applied"].as_i64(),
            none.body["remaining"].as_i64()
        ),
        (Some(100), Some(150))
    );
    assert_eq!(none.body["charges"], json!([]));
}

#[tokio::test]
async fn ten_racing_requests_for_one_invoice_make_one_payment_intent() {
    let h = Harness::new().await;
    let (customer, gateway_customer, _) = customer_with_cards(&h, 100, &[GOOD_CARD], true).await;
    let replies = integration_tests::race(10, |_| {
        let (h, customer) = (h.clone(), customer.clone());
        async move { pay(&h, &customer, "inv_race", 1_100, None).await }
    })
    .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    for reply in &replies {
        assert!(
            reply.status == StatusCode::OK || reply.status == StatusCode::CONFLICT,
            "{} {}",
            reply.status,
            reply.body
        );
    }
    assert!(ok >= 1, "one request paid the invoice");
    let found = intents(&gateway_customer).await;
    assert_eq!(found.len(), 1, "exactly one PaymentIntent: {found:?}");
    assert_eq!(found[0].amount, 1_000);
    let got = invoice_payment(&h, &customer, "inv_race").await;
    assert_eq!(got.body["status"], "paid", "{}", got.body);
    assert_eq!(h.balance(&customer, "USD").await, 0);
    println!(
        "ten racing requests: {} PaymentIntent(s) at localstripe",
        found.len()
    );
}

#[tokio::test]
async fn every_commit_answer_lost_by_the_store_still_charges_once() {
    // The fault-injecting store: every commit lands and then answers a failure.
    let faults = shared::adapters::faulty::Faults {
        ambiguous: 0.5,
        ..shared::adapters::faulty::Faults::NONE
    };
    let faulty = Harness::with_faults(7, faults).await;
    let calm = faulty.without_faults();
    let (customer, gateway_customer, _) = customer_with_cards(&calm, 250, &[GOOD_CARD], true).await;
    for attempt in 0..5 {
        let reply = pay(&faulty, &customer, "inv_ambiguous", 1_000, None).await;
        if reply.status == StatusCode::OK {
            assert_eq!(reply.body["status"], "paid", "{}", reply.body);
            break;
        }
        assert!(
            [
                StatusCode::CONFLICT,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::INTERNAL_SERVER_ERROR
            ]
            .contains(&reply.status),
            "attempt {attempt}: {} {}",
            reply.status,
            reply.body
        );
    }
    let got = invoice_payment(&calm, &customer, "inv_ambiguous").await;
    assert_eq!(got.body["status"], "paid", "{}", got.body);
    assert_eq!(got.body["applied"], 250);
    assert_eq!(got.body["charged"], 750);
    assert_eq!(intents(&gateway_customer).await.len(), 1);
    assert_eq!(calm.balance(&customer, "USD").await, 0);
    let lost = faulty
        .fault_counts()
        .ambiguous
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(lost > 0, "answers were lost");
    println!("{lost} commit answers lost: 1 PaymentIntent at localstripe");
}

#[tokio::test]
async fn refunds_go_to_the_wallet_or_the_card_capped_at_what_each_paid() {
    let h = Harness::new().await;
    let (customer, gateway_customer, _) = customer_with_cards(&h, 400, &[GOOD_CARD], true).await;
    let paid = pay(&h, &customer, "inv_refund", 1_000, None).await;
    assert_eq!(paid.body["status"], "paid", "{}", paid.body);
    let intent = paid.body["charges"][0]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Default: the wallet part back to the wallet, the card part back to the card, in
    // proportion (400 of 1000 from the wallet): 500 is 200 to the wallet, 300 to the card.
    let first = h
        .reverse_payment(&customer, "inv_refund", json!({"amount": 500}))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(h.balance(&customer, "USD").await, 200);
    assert_eq!(first.body["reversed"], 200);
    assert_eq!(first.body["refunded_to_card"], 300);
    let refunds = first.body["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["payment_intent_id"], intent.as_str());
    assert_eq!(refunds[0]["amount"], 300);
    assert_eq!(refunds[0]["status"], "succeeded");
    assert!(refunds[0]["refund_id"].as_str().unwrap().starts_with("re_"));

    // To the wallet, as the merchant chooses: the card part goes to the wallet too.
    let to_wallet = h
        .reverse_payment(
            &customer,
            "inv_refund",
            json!({"amount": 100, "destination": "wallet"}),
        )
        .await;
    assert_eq!(to_wallet.status, StatusCode::OK, "{}", to_wallet.body);
    assert_eq!(h.balance(&customer, "USD").await, 300);
    assert_eq!(
        to_wallet.body["refunds"].as_array().unwrap().len(),
        1,
        "no card refund"
    );

    // 400 left in all (160 wallet part... as split): more than that is refused.
    let too_much = h
        .reverse_payment(&customer, "inv_refund", json!({"amount": 401}))
        .await;
    assert_error(
        &too_much,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_applied",
    );
    let rest = h
        .reverse_payment(
            &customer,
            "inv_refund",
            json!({"amount": 400, "destination": "original_method"}),
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    let wallet_back = rest.body["reversed"].as_i64().unwrap();
    let card_back = rest.body["refunded_to_card"].as_i64().unwrap();
    assert_eq!(wallet_back + card_back, 1_000, "{}", rest.body);
    assert!(wallet_back >= 400 && card_back <= 600, "{}", rest.body);
    let nothing = h
        .reverse_payment(&customer, "inv_refund", json!({"amount": 1}))
        .await;
    assert_error(
        &nothing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reversal_exceeds_applied",
    );
    assert_eq!(intents(&gateway_customer).await.len(), 1);
}

#[tokio::test]
async fn each_outcome_sends_its_invoice_event_with_the_split() {
    use integration_tests::webhooks::{Pump, Receiver};
    use integration_tests::Route;
    let h = Harness::new().await;
    let _pump = Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    let hook = h
        .request(Route::CreateWebhook)
        .json(json!({"url": receiver.url()}))
        .send()
        .await;
    assert_eq!(hook.status, StatusCode::OK, "{}", hook.body);
    let (customer, _, methods) =
        customer_with_cards(&h, 300, &[DECLINING_CARD, GOOD_CARD], true).await;
    let paid = pay(&h, &customer, "inv_evt_paid", 1_000, None).await;
    assert_eq!(paid.body["status"], "paid", "{}", paid.body);
    let nothing = pay(&h, &customer, "inv_evt_failed", 50, Some(false)).await;
    assert_eq!(nothing.body["status"], "failed", "{}", nothing.body);
    h.credit(&customer, 20).await;
    let part = pay(&h, &customer, "inv_evt_part", 50, Some(false)).await;
    assert_eq!(part.body["status"], "partially_paid", "{}", part.body);

    let mine = |event_type: &'static str| {
        let customer = customer.clone();
        move |r: &integration_tests::webhooks::Received| {
            r.event_type() == event_type && r.json()["data"]["customer_id"] == customer.as_str()
        }
    };
    let wait = Duration::from_secs(20);
    let got = receiver
        .wait_for(1, wait, mine("wallet.invoice.paid"))
        .await;
    assert_eq!(got.len(), 1);
    let data = &got[0].json()["data"]["invoice_payment"];
    assert_eq!(data["invoice_id"], "inv_evt_paid");
    assert_eq!(
        (data["applied"].as_i64(), data["charged"].as_i64()),
        (Some(300), Some(700))
    );
    assert_eq!(data["charges"][0]["status"], "declined");
    assert_eq!(data["charges"][1]["payment_method_id"], methods[1].as_str());
    let failed = receiver
        .wait_for(1, wait, mine("wallet.invoice.failed"))
        .await;
    assert_eq!(
        failed[0].json()["data"]["invoice_payment"]["invoice_id"],
        "inv_evt_failed"
    );
    let partial = receiver
        .wait_for(1, wait, mine("wallet.invoice.partially_paid"))
        .await;
    assert_eq!(partial[0].json()["data"]["invoice_payment"]["applied"], 20);
    // One each: the charge's progress (processing) sends none.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paid_events = receiver
        .wait_for(1, Duration::from_millis(10), mine("wallet.invoice.paid"))
        .await;
    assert_eq!(paid_events.len(), 1);
}

#[tokio::test]
async fn a_repeated_reversal_key_never_refunds_the_card_twice() {
    let h = Harness::new().await;
    let (customer, _, _) = customer_with_cards(&h, 0, &[GOOD_CARD], true).await;
    let paid = pay(&h, &customer, "inv_keyed", 1_000, None).await;
    assert_eq!(paid.body["status"], "paid", "{}", paid.body);
    let intent = paid.body["charges"][0]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // All of it was paid by the card: the reversal credits nothing to the wallet.
    let body = json!({"amount": 300, "idempotency_key": "refund-k1"});
    let first = h
        .reverse_payment(&customer, "inv_keyed", body.clone())
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["refunded_to_card"], 300);
    let again = h.reverse_payment(&customer, "inv_keyed", body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["refunded_to_card"], 300, "not applied again");
    assert_eq!(again.body["refunds"].as_array().unwrap().len(), 1);
    let made = integration_tests::cards::gateway()
        .refunds_of(&intent)
        .await
        .unwrap();
    assert_eq!(made.len(), 1, "{made:?}");
}
