//! Saved cards at localstripe for the invoice-payment tests (issue 22): a customer whose gateway
//! customer holds cards in a given order, the invoice-payment request with `charge_remainder`,
//! and the PaymentIntents localstripe holds (localstripe does not replay idempotency keys, so
//! "charged once" is proven by counting them).

use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use shared::adapters::stripe::{Flavor, PaymentIntent, StripeGateway};
use shared::kernel::Timestamp;

use crate::{Harness, Reply, Route};

pub const GOOD_CARD: &str = "4242424242424242";
/// Attaches, then declines every charge.
pub const DECLINING_CARD: &str = "4000000000000341";

/// The real Stripe adapter on localstripe (`STRIPE_BASE_URL`).
pub fn gateway() -> StripeGateway {
    let base_url = std::env::var("STRIPE_BASE_URL")
        .expect("these tests need localstripe: run ./infra/test.sh (it sets STRIPE_BASE_URL)");
    StripeGateway::new(&base_url, "sk_test_local")
        .expect("gateway")
        .with_flavor(Flavor::Localstripe)
}

/// `PATCH /customers/{id}`.
pub async fn patch_customer(h: &Harness, customer: &str, body: Value) -> Reply {
    h.request(Route::UpdateCustomer)
        .customer(customer)
        .json(body)
        .send()
        .await
}

/// A customer of `h` with USD `balance` and `cards` saved to one gateway customer (owned by the
/// business and customer) in this order (priority 1, 2, ...), set on the customer with
/// `auto_pay`. Answers (customer, gateway customer, payment methods).
pub async fn customer_with_cards(
    h: &Harness,
    balance: i64,
    cards: &[&str],
    auto_pay: bool,
) -> (String, String, Vec<String>) {
    let customer = h.customer().await;
    if balance > 0 {
        h.credit(&customer, balance).await;
    }
    let stripe = gateway();
    let (gateway_customer, first) = stripe
        .create_test_customer(cards[0], &h.business_id, &customer)
        .await
        .unwrap();
    let mut methods = vec![first];
    for card in &cards[1..] {
        let method = stripe.create_test_card(card).await.unwrap();
        stripe
            .attach_payment_method(&method, &gateway_customer)
            .await
            .unwrap();
        methods.push(method);
    }
    let ordered: Vec<Value> = methods
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"payment_method_id": m, "priority": i + 1}))
        .collect();
    let set = patch_customer(
        h,
        &customer,
        json!({"gateway_customer_id": gateway_customer, "payment_methods": ordered, "auto_pay": auto_pay}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    (customer, gateway_customer, methods)
}

/// Pays a USD invoice; `charge` is the request's `charge_remainder` (absent when `None`).
pub async fn pay(
    h: &Harness,
    customer: &str,
    invoice: &str,
    due: i64,
    charge: Option<bool>,
) -> Reply {
    let mut body = json!({"invoice_id": invoice, "currency": "USD", "amount_due": due});
    if let Some(charge) = charge {
        body["charge_remainder"] = json!(charge);
    }
    h.request(Route::PayInvoice)
        .customer(customer)
        .json(body)
        .send()
        .await
}

/// `GET` of one invoice payment.
pub async fn invoice_payment(h: &Harness, customer: &str, invoice: &str) -> Reply {
    h.request(Route::GetInvoicePayment)
        .customer(customer)
        .path("invoice_id", invoice)
        .send()
        .await
}

/// Every PaymentIntent localstripe holds for the gateway customer.
pub async fn intents(gateway_customer: &str) -> Vec<PaymentIntent> {
    gateway()
        .payment_intents_of(gateway_customer, None)
        .await
        .unwrap()
}

/// Those of them that succeeded.
pub async fn succeeded_intents(gateway_customer: &str) -> usize {
    intents(gateway_customer)
        .await
        .iter()
        .filter(|pi| pi.status == "succeeded")
        .count()
}

/// `seconds` from now.
pub fn later(seconds: u64) -> Timestamp {
    Timestamp::from_unix_ms(Timestamp::now().unix_ms + seconds * 1000)
}
