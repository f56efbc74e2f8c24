//! `POST /stripe/webhooks`: Stripe's webhook events. Stripe sends no API key: the request is
//! authenticated by its `Stripe-Signature` header instead (`shared::payins::stripe_events`), so
//! `crate::answer` sends it here before it looks for a key.

use lambda_http::http::StatusCode;
use shared::kernel::Clock;
use shared::payins::stripe_events::WebhookOutcome;
use shared::ports::Store;
use shared::{DomainError, Service};

use crate::http::{json, Answer, ApiError, Call, Request};

/// The longest event read (Stripe's events are a few KB; a PaymentIntent with its charge inline
/// is under 20 KB).
pub const STRIPE_EVENT_LENGTH_MAX: usize = 256 * 1024;

/// The body Stripe is answered with: what was done, never why a signature failed.
#[derive(serde::Serialize)]
struct Received {
    received: bool,
    outcome: &'static str,
}

/// Handles one Stripe webhook, unauthenticated by key: a bad, missing or stale signature (or no
/// configured secret) is 400 `invalid_signature` and changes nothing; every verified event is
/// 200 (a card top-up's PaymentIntent event is settled first; a failure to settle is 5xx, and
/// Stripe sends the event again).
pub async fn stripe_webhook<S: Store, C: Clock>(app: &Service<S, C>, request: &Request) -> Answer {
    let Some(secret) = app.config().stripe_webhook_secret.as_ref() else {
        tracing::error!("a Stripe webhook arrived but STRIPE_WEBHOOK_SECRET is not configured");
        return Err(DomainError::InvalidSignature.into());
    };
    let body: &[u8] = request.body().as_ref();
    if body.len() > STRIPE_EVENT_LENGTH_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a Stripe event must be at most {STRIPE_EVENT_LENGTH_MAX} bytes"),
        ));
    }
    let signature = request
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let outcome = app
        .receive_stripe_webhook(&secret.0, signature, body)
        .await?;
    let outcome = match outcome {
        WebhookOutcome::Settled { .. } => "settled",
        WebhookOutcome::Duplicate => "duplicate",
        WebhookOutcome::Ignored => "ignored",
    };
    json(&Received {
        received: true,
        outcome,
    })
}

/// The route's line in the table: never reached with a key (`crate::answer` serves the route
/// before authenticating), so a call here is refused as the route refuses an unsigned one.
pub async fn signed_not_keyed<S: Store, C: Clock>(_call: Call<'_, S, C>) -> Answer {
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_signature",
        "Stripe webhooks are authenticated by their Stripe-Signature header",
    ))
}
