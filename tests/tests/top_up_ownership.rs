//! Tenant isolation of auto top-up (issue 24, items 7 and 10): a business can have only its own
//! customers' saved cards charged, and the gateway's own words never reach a tenant. Two
//! businesses on DynamoDB Local, the real Stripe adapter against localstripe (`STRIPE_BASE_URL`).

use std::time::Duration;

use integration_tests::webhooks::{Pump, Receiver};
use integration_tests::{assert_error, json, Harness, Route};
use lambda_http::http::StatusCode;
use shared::adapters::stripe::{Flavor, StripeGateway};
use shared::kernel::{BusinessId, Currency, CustomerId, Timestamp};
use shared::topups::operations::TopUpRun;

const GOOD_CARD: &str = "4242424242424242";
const DECLINING_CARD: &str = "4000000000000341";
const WAIT: Duration = Duration::from_secs(20);

/// One test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn gateway() -> StripeGateway {
    let base_url = std::env::var("STRIPE_BASE_URL").expect(
        "the top-up tests need localstripe: run ./infra/test.sh (it starts it and sets STRIPE_BASE_URL)",
    );
    StripeGateway::new(&base_url, "sk_test_local")
        .expect("gateway")
        .with_flavor(Flavor::Localstripe)
}

/// Runs the USD top-up of one wallet now, as the sweep would (only this wallet: tests of other
/// files share the table, and their due work is theirs).
async fn run(h: &Harness, customer: &str) -> TopUpRun {
    h.service()
        .run_top_up(
            &gateway(),
            &BusinessId::parse(&h.business_id).unwrap(),
            &CustomerId::parse(customer).unwrap(),
            Currency::USD,
            Timestamp::now(),
        )
        .await
        .expect("top-up run")
}

/// Removes a wallet's auto top-up, so that a declined one leaves no retry due for the sweeps of
/// other tests.
async fn stop(h: &Harness, customer: &str) {
    let stopped = patch(h, customer, json!({"currency": "USD", "auto_top_up": null})).await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.body);
}

async fn charges_at_gateway(gateway_customer: &str) -> usize {
    gateway()
        .payment_intents_of(gateway_customer, None)
        .await
        .unwrap()
        .len()
}

async fn usd_settings(h: &Harness, customer: &str) -> serde_json::Value {
    let got = h
        .request(Route::GetWalletSettings)
        .customer(customer)
        .send()
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    got.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "USD")
        .unwrap()
        .clone()
}

fn top_up(gateway_customer: &str, payment_method: &str) -> serde_json::Value {
    json!({"currency": "USD", "auto_top_up": {
        "threshold": 100, "amount": 500,
        "payment_method": {"gateway_customer_id": gateway_customer, "payment_method_id": payment_method}}})
}

async fn patch(h: &Harness, customer: &str, body: serde_json::Value) -> integration_tests::Reply {
    h.request(Route::UpdateWalletSettings)
        .customer(customer)
        .json(body)
        .send()
        .await
}

#[tokio::test]
async fn a_business_cannot_have_another_business_s_customer_s_card_charged() {
    let _serial = SERIAL.lock().await;
    let a = Harness::new().await;
    let b = a.other_business().await;
    // Business A's customer, with a card saved at the gateway to a customer made for it.
    let a_customer = a.customer().await;
    let (a_gateway_customer, a_card) = gateway()
        .create_test_customer(GOOD_CARD, &a.business_id, &a_customer)
        .await
        .unwrap();
    // Business B learns those ids and names them on its own customer's wallet: with A's gateway
    // customer, or with none (to have one made for its own customer).
    let b_customer = b.customer().await;
    for stolen in [
        top_up(&a_gateway_customer, &a_card),
        json!({"currency": "USD", "auto_top_up": {
            "threshold": 100, "amount": 500, "payment_method": {"payment_method_id": a_card}}}),
    ] {
        let refused = patch(&b, &b_customer, stolen).await;
        assert_error(
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "payment_method_not_owned",
        );
        // The same answer whether the ids exist or not: it tells B nothing.
        let message = refused.body["message"].as_str().unwrap();
        assert!(!message.contains(&a_gateway_customer) && !message.contains(&a.business_id));
    }
    let unknown = patch(&b, &b_customer, top_up("cus_nosuch", "pm_nosuch")).await;
    assert_error(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "payment_method_not_owned",
    );
    // A's other customer cannot use it either.
    let a_other = a.customer().await;
    let refused = patch(&a, &a_other, top_up(&a_gateway_customer, &a_card)).await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "payment_method_not_owned",
    );
    assert!(
        usd_settings(&b, &b_customer).await["auto_top_up"].is_null(),
        "nothing saved"
    );
    assert_eq!(run(&b, &b_customer).await, TopUpRun::Nothing);
    assert_eq!(charges_at_gateway(&a_gateway_customer).await, 0);
    assert_eq!(b.balance(&b_customer, "USD").await, 0);

    // Settings saved before the check existed (written here past the route): the charge itself
    // refuses A's card for B's wallet, and charges nothing.
    let legacy = shared::topups::operations::SettingsPatch {
        low_balance_threshold: None,
        auto_top_up: Some(Some(
            shared::topups::rules::auto_top_up(shared::topups::rules::AutoTopUpFields {
                threshold: Some(100),
                amount: Some(500),
                gateway_customer_id: Some(a_gateway_customer.clone()),
                payment_method_id: Some(a_card.clone()),
                ..Default::default()
            })
            .unwrap(),
        )),
    };
    let b_tenant = shared::access::model::Tenant {
        business_id: BusinessId::parse(&b.business_id).unwrap(),
    };
    b.service()
        .update_settings(
            &b_tenant,
            &CustomerId::parse(&b_customer).unwrap(),
            Currency::USD,
            &legacy,
        )
        .await
        .unwrap();
    assert_eq!(
        run(&b, &b_customer).await,
        TopUpRun::Declined {
            decline_code: "payment_method_not_owned".into()
        }
    );
    assert_eq!(charges_at_gateway(&a_gateway_customer).await, 0);
    assert_eq!(b.balance(&b_customer, "USD").await, 0);
    stop(&b, &b_customer).await;

    // A itself may: its customer's card tops its customer's wallet up.
    let set = patch(&a, &a_customer, top_up(&a_gateway_customer, &a_card)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(matches!(
        run(&a, &a_customer).await,
        TopUpRun::Credited { amount: 500, .. }
    ));
    assert_eq!(a.balance(&a_customer, "USD").await, 500);
    assert_eq!(charges_at_gateway(&a_gateway_customer).await, 1);
}

#[tokio::test]
async fn the_charge_checks_the_owner_again_and_charges_nothing_when_it_changed() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let other = h.other_business().await;
    // Two customers saved with their own cards; then, before the sweep, one gateway customer's
    // metadata comes to name another business, and the other's card is detached.
    let relabelled = h.customer().await;
    let (relabelled_gateway, relabelled_card) = gateway()
        .create_test_customer(GOOD_CARD, &h.business_id, &relabelled)
        .await
        .unwrap();
    let detached = h.customer().await;
    let (detached_gateway, detached_card) = gateway()
        .create_test_customer(GOOD_CARD, &h.business_id, &detached)
        .await
        .unwrap();
    for (customer, gateway_customer, card) in [
        (&relabelled, &relabelled_gateway, &relabelled_card),
        (&detached, &detached_gateway, &detached_card),
    ] {
        let set = patch(&h, customer, top_up(gateway_customer, card)).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    }
    gateway()
        .set_customer_metadata(
            &relabelled_gateway,
            shared::topups::gateway::OWNER_BUSINESS_METADATA_KEY,
            &other.business_id,
        )
        .await
        .unwrap();
    gateway()
        .detach_payment_method(&detached_card)
        .await
        .unwrap();

    for customer in [&relabelled, &detached] {
        let refused = run(&h, customer).await;
        assert_eq!(
            refused,
            TopUpRun::Declined {
                decline_code: "payment_method_not_owned".into()
            }
        );
    }
    for (customer, gateway_customer) in [
        (&relabelled, &relabelled_gateway),
        (&detached, &detached_gateway),
    ] {
        assert_eq!(
            charges_at_gateway(gateway_customer).await,
            0,
            "nothing charged"
        );
        assert_eq!(h.balance(customer, "USD").await, 0);
        let last = &usd_settings(&h, customer).await["top_up"]["last"];
        assert_eq!(last["decline_code"], "payment_method_not_owned", "{last}");
        assert!(last["payment_intent_id"].is_null());
        stop(&h, customer).await;
    }
}

#[tokio::test]
async fn settings_naming_only_a_new_card_save_it_to_a_gateway_customer_of_their_own() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    // A card as Stripe.js makes it: saved to no customer.
    let card = gateway().create_test_card(GOOD_CARD).await.unwrap();
    let set = patch(
        &h,
        &customer,
        json!({"currency": "USD", "auto_top_up": {
            "threshold": 100, "amount": 500, "payment_method": {"payment_method_id": card}}}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    let method = &set.body["auto_top_up"]["payment_method"];
    assert_eq!(method["payment_method_id"], card.as_str());
    let gateway_customer = method["gateway_customer_id"].as_str().unwrap().to_owned();
    let owner = gateway()
        .payment_method_owner(&card)
        .await
        .unwrap()
        .unwrap();
    let saved_to = owner.customer.unwrap();
    assert_eq!(saved_to.id, gateway_customer);
    assert_eq!(
        saved_to.metadata[shared::topups::gateway::OWNER_BUSINESS_METADATA_KEY],
        h.business_id
    );
    assert_eq!(
        saved_to.metadata[shared::topups::gateway::OWNER_CUSTOMER_METADATA_KEY],
        customer
    );
    // Saved again as it is shown: the same gateway customer, nothing new made.
    let again = patch(&h, &customer, top_up(&gateway_customer, &card)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let again = patch(
        &h,
        &customer,
        json!({"currency": "USD", "auto_top_up": {
            "threshold": 100, "amount": 500, "payment_method": {"payment_method_id": card}}}),
    )
    .await;
    assert_eq!(
        again.body["auto_top_up"]["payment_method"]["gateway_customer_id"],
        gateway_customer.as_str()
    );
    assert!(matches!(
        run(&h, &customer).await,
        TopUpRun::Credited { amount: 500, .. }
    ));
    assert_eq!(h.balance(&customer, "USD").await, 500);
    assert_eq!(charges_at_gateway(&gateway_customer).await, 1);
    // Another customer (of this business or another) cannot take it over.
    let other = h.customer().await;
    let refused = patch(
        &h,
        &other,
        json!({"currency": "USD", "auto_top_up": {
            "threshold": 100, "amount": 500, "payment_method": {"payment_method_id": card}}}),
    )
    .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "payment_method_not_owned",
    );
}

#[tokio::test]
async fn a_gateway_error_s_own_words_never_reach_the_tenant() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let receiver = Receiver::start().await;
    let _pump = Pump::start(h.calm_service()).await;
    h.request(Route::CreateWebhook)
        .json(json!({"url": receiver.url(), "filter_types": ["wallet.auto_top_up_failed"]}))
        .send()
        .await;
    let customer = h.customer().await;
    let (gateway_customer, card) = gateway()
        .create_test_customer(DECLINING_CARD, &h.business_id, &customer)
        .await
        .unwrap();
    let set = h
        .request(Route::UpdateWalletSettings)
        .customer(&customer)
        .json(top_up(&gateway_customer, &card))
        .send()
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(matches!(
        run(&h, &customer).await,
        TopUpRun::Declined { .. }
    ));

    // localstripe's words for this decline.
    let stripe_words = "Your card was declined";
    let state = usd_settings(&h, &customer).await;
    let last = &state["top_up"]["last"];
    assert_eq!(last["decline_code"], "card_declined");
    assert!(
        last["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{last}"
    );
    assert!(!state.to_string().contains(stripe_words), "{state}");
    let failed = receiver
        .wait_for(1, WAIT, |r| {
            r.event_type() == "wallet.auto_top_up_failed"
                && r.json()["data"]["customer_id"] == customer
        })
        .await;
    assert_eq!(failed.len(), 1);
    let event = failed[0].json().to_string();
    assert!(event.contains("card_declined"), "{event}");
    assert!(!event.contains(stripe_words), "{event}");
    stop(&h, &customer).await;
}
