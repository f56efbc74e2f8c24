//! The Stripe adapter against a running Stripe stand-in (`localstripe`): real HTTP, real
//! PaymentIntents, counted at the gateway.
//!
//! Needs `STRIPE_BASE_URL` (`./infra/test.sh` starts localstripe and sets it); fails without it,
//! never passes silently. Optional: `STRIPE_SECRET_KEY` (default `sk_test_localstripe`; localstripe
//! takes any key that starts with `sk_`), `STRIPE_FLAVOR` (`localstripe`, the default, or
//! `stripe` for Stripe's test mode).
//!
//! By hand:
//! ```text
//! .local/localstripe-venv/bin/localstripe --port 8420 --from-scratch &
//! STRIPE_BASE_URL=http://127.0.0.1:8420 cargo test -p shared --test stripe_gateway
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use shared::adapters::stripe::{Flavor, StripeGateway};
use shared::kernel::{Amount, Currency, Timestamp};
use shared::topups::gateway::{ChargeLookup, ChargeOutcome, ChargeRequest, PaymentGateway};

/// Attaches, and every charge succeeds.
const GOOD_CARD: &str = "4242424242424242";
/// Attaches, then every charge is declined (`card_declined`): Stripe's "charge customer fail".
const DECLINING_CARD: &str = "4000000000000341";
/// Attaches, then every charge wants 3-D Secure (`requires_action`).
const AUTHENTICATION_CARD: &str = "4000002500003155";

fn gateway() -> StripeGateway {
    let base_url = std::env::var("STRIPE_BASE_URL").expect(
        "the Stripe gateway tests need a Stripe stand-in: run ./infra/test.sh (it starts \
         localstripe and sets STRIPE_BASE_URL), or start `localstripe --port 8420 --from-scratch` \
         and set STRIPE_BASE_URL=http://127.0.0.1:8420",
    );
    let key = std::env::var("STRIPE_SECRET_KEY").unwrap_or_else(|_| "sk_test_localstripe".into());
    let flavor: Flavor = std::env::var("STRIPE_FLAVOR")
        .unwrap_or_else(|_| "localstripe".into())
        .parse()
        .expect("STRIPE_FLAVOR");
    StripeGateway::new(&base_url, &key)
        .expect("STRIPE_BASE_URL and STRIPE_SECRET_KEY")
        .with_flavor(flavor)
}

/// The wallet's business and customer every charge here is made for.
const BUSINESS: &str = "bus_stripe_gateway_test";
const WALLET_CUSTOMER: &str = "cus_stripe_gateway_test";

/// A new customer at the gateway, owned by [`BUSINESS`] and [`WALLET_CUSTOMER`], with this card
/// saved: `(customer, payment method)`.
async fn customer_with(gateway: &StripeGateway, card: &str) -> (String, String) {
    gateway
        .create_test_customer(card, BUSINESS, WALLET_CUSTOMER)
        .await
        .unwrap_or_else(|e| panic!("creating a customer with card {card}: {e}"))
}

fn request(customer: &str, payment_method: &str, amount: i64, currency: &str) -> ChargeRequest {
    let attempt = ulid::Ulid::new().to_string();
    ChargeRequest {
        amount: Amount::new(amount).unwrap(),
        currency: Currency::parse(currency).unwrap(),
        gateway_customer_id: customer.to_string(),
        payment_method_id: payment_method.to_string(),
        business_id: BUSINESS.to_string(),
        customer_id: WALLET_CUSTOMER.to_string(),
        idempotency_key: format!("topup-{attempt}"),
        attempt_id: attempt,
        attempt_started_at: Timestamp::now(),
        description: "Wallet auto top-up".to_string(),
        metadata: BTreeMap::from([("wallet_currency".to_string(), currency.to_string())]),
    }
}

#[tokio::test]
async fn a_good_card_is_charged_and_the_payment_intent_is_recorded() {
    let gateway = gateway();
    let (customer, pm) = customer_with(&gateway, GOOD_CARD).await;
    for (amount, currency) in [(2500, "USD"), (1000, "EUR"), (700, "JPY")] {
        let request = request(&customer, &pm, amount, currency);
        let outcome = PaymentGateway::charge(&gateway, &request).await;
        let ChargeOutcome::Succeeded { payment_intent_id } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(payment_intent_id.starts_with("pi_"), "{payment_intent_id}");

        let at_gateway = gateway.retrieve(payment_intent_id).await.unwrap().unwrap();
        assert_eq!(at_gateway.status, "succeeded");
        assert_eq!(at_gateway.amount, amount);
        assert_eq!(at_gateway.currency, currency.to_ascii_lowercase());
        assert_eq!(at_gateway.customer.as_deref(), Some(customer.as_str()));
        assert_eq!(at_gateway.attempt_id(), Some(request.attempt_id.as_str()));
        assert_eq!(at_gateway.metadata["wallet_currency"], currency);
    }
    assert_eq!(
        gateway
            .payment_intents_of(&customer, None)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_declining_card_gives_its_decline_code_and_is_not_charged_again_for_the_attempt() {
    let gateway = gateway();
    let (customer, pm) = customer_with(&gateway, DECLINING_CARD).await;
    let request = request(&customer, &pm, 2500, "USD");
    let outcome = gateway.charge(&request).await;
    let ChargeOutcome::Declined {
        decline_code,
        message,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(decline_code, "card_declined");
    assert!(!message.is_empty());

    // The same attempt again answers the same decline from the PaymentIntent left behind, without
    // a second attempt at the card.
    let again = gateway.charge(&request).await;
    let ChargeOutcome::Declined {
        payment_intent_id: Some(id),
        decline_code,
        ..
    } = &again
    else {
        panic!("{again:?}")
    };
    assert_eq!(decline_code, "card_declined");
    let intents = gateway.payment_intents_of(&customer, None).await.unwrap();
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(&intents[0].id, id);
    assert_eq!(intents[0].status, "requires_payment_method");

    // A new attempt (the retry after the backoff) tries the card again.
    let retry = self::request(&customer, &pm, 2500, "USD");
    assert!(matches!(
        gateway.charge(&retry).await,
        ChargeOutcome::Declined { .. }
    ));
    assert_eq!(
        gateway
            .payment_intents_of(&customer, None)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_card_that_wants_authentication_is_declined_off_session() {
    let gateway = gateway();
    let (customer, pm) = customer_with(&gateway, AUTHENTICATION_CARD).await;
    let outcome = gateway.charge(&request(&customer, &pm, 2500, "USD")).await;
    let ChargeOutcome::Declined {
        payment_intent_id: Some(id),
        decline_code,
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(decline_code, "authentication_required");
    let at_gateway = gateway.retrieve(id).await.unwrap().unwrap();
    assert_eq!(at_gateway.status, "requires_action");
}

#[tokio::test]
async fn the_same_attempt_and_idempotency_key_twice_charge_once() {
    let gateway = gateway();
    let (customer, pm) = customer_with(&gateway, GOOD_CARD).await;
    let request = request(&customer, &pm, 4200, "USD");
    let first = gateway.charge(&request).await;
    assert!(
        matches!(first, ChargeOutcome::Succeeded { .. }),
        "{first:?}"
    );
    // A retry, and a rerun by another instance after a crash between the charge and the credit.
    let second = gateway.charge(&request).await;
    let rerun = self::gateway().charge(&request).await;
    assert_eq!(second, first);
    assert_eq!(rerun, first);

    let intents = gateway.payment_intents_of(&customer, None).await.unwrap();
    assert_eq!(
        intents.len(),
        1,
        "one PaymentIntent at the gateway: {intents:?}"
    );
    assert_eq!(Some(intents[0].id.as_str()), first.payment_intent_id());
}

#[tokio::test]
async fn find_gives_the_payment_intent_of_an_attempt() {
    let gateway = gateway();
    let (customer, pm) = customer_with(&gateway, GOOD_CARD).await;
    let (other_customer, other_pm) = customer_with(&gateway, GOOD_CARD).await;
    let before = request(&customer, &pm, 1100, "USD");
    let wanted = request(&customer, &pm, 1200, "USD");
    let after = request(&customer, &pm, 1300, "USD");
    let mut elsewhere = request(&other_customer, &other_pm, 1200, "USD");
    elsewhere.attempt_id = wanted.attempt_id.clone(); // the same attempt id, another customer
    for r in [&before, &wanted, &after, &elsewhere] {
        assert!(matches!(
            gateway.charge(r).await,
            ChargeOutcome::Succeeded { .. }
        ));
    }

    // Searched by the attempt's metadata.
    let found = PaymentGateway::find(&gateway, &wanted.lookup())
        .await
        .unwrap()
        .expect("the attempt's PaymentIntent");
    assert_eq!(found.amount, 1200);
    assert_eq!(found.currency, "usd");
    assert_eq!(
        found.outcome,
        ChargeOutcome::Succeeded {
            payment_intent_id: found.payment_intent_id.clone()
        }
    );
    let at_gateway = gateway
        .retrieve(&found.payment_intent_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at_gateway.customer.as_deref(), Some(customer.as_str()));

    // Without a creation bound, too.
    let unbounded = ChargeLookup {
        created_after: None,
        ..wanted.lookup()
    };
    assert_eq!(
        gateway.find(&unbounded).await.unwrap().as_ref(),
        Some(&found)
    );

    // Retrieved by id when known.
    let by_id = ChargeLookup {
        payment_intent_id: Some(found.payment_intent_id.clone()),
        ..wanted.lookup()
    };
    assert_eq!(gateway.find(&by_id).await.unwrap(), Some(found.clone()));

    // An attempt that was never charged has none.
    let never = request(&customer, &pm, 1200, "USD");
    assert_eq!(gateway.find(&never.lookup()).await.unwrap(), None);
}

#[tokio::test]
async fn an_unreachable_gateway_gives_unknown() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let gateway = StripeGateway::new(&format!("http://127.0.0.1:{port}"), "sk_test_x")
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    let request = request("cus_x", "pm_x", 2500, "USD");
    let outcome = gateway.charge(&request).await;
    let ChargeOutcome::Unknown { error } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(error.contains("connection refused"), "{error}");
    let error = gateway.find(&request.lookup()).await.unwrap_err();
    assert!(error.contains("connection refused"), "{error}");
}
