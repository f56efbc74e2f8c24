//! `POST /stripe/webhooks`
//!
//! The whole binary of StripeWebhookFunction (template.yaml): Stripe's webhook events, verified
//! by their `Stripe-Signature` (no API key); a card top-up's PaymentIntent events settle it.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::StripeWebhook>().await
}
