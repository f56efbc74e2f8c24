//! Stripe's JSON as this adapter reads it (PaymentIntents, payment methods, customers, errors),
//! and what an answer means: a charge's outcome, a failure's class, a short summary for the logs.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::PaymentIntent;
use crate::topups::gateway::{ChargeOutcome, DeclineClass, GatewayFailure};

/// A payment method as Stripe (or localstripe) sends it, its customer expanded.
#[derive(Debug, Deserialize)]
pub(super) struct PaymentMethodJson {
    pub(super) id: String,
    #[serde(default)]
    pub(super) customer: Option<CustomerField>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum CustomerField {
    Id(String),
    Expanded(CustomerJson),
}

#[derive(Debug, Deserialize)]
pub(super) struct CustomerJson {
    pub(super) id: String,
    #[serde(default)]
    pub(super) metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) deleted: bool,
}

/// A failed answer: `Unavailable` when trying again can help (429, 5xx, anything odd), else
/// `Refused` (the gateway's words, for the logs).
pub(super) fn failure(what: &str, status: u16, body: &[u8]) -> GatewayFailure {
    let summary = format!("{what}: {}", error_summary(status, body));
    match status {
        400..=499 if status != 409 && status != 429 => GatewayFailure::Refused(summary),
        _ => GatewayFailure::Unavailable(summary),
    }
}

/// A decline code from the gateway's fixed list (`insufficient_funds`, `lost_card`, ...), or
/// `None` for anything else (it is shown to tenants; free text never is).
fn listed_code(raw: Option<String>) -> Option<String> {
    raw.filter(|code| {
        !code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// A PaymentIntent as Stripe (or localstripe) sends it; only what is read here.
#[derive(Debug, Deserialize)]
pub(super) struct IntentJson {
    pub(super) id: String,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    last_payment_error: Option<ErrorJson>,
    #[serde(default)]
    cancellation_reason: Option<String>,
}

impl IntentJson {
    pub(super) fn into_intent(self) -> PaymentIntent {
        let outcome = intent_outcome(&self);
        PaymentIntent {
            id: self.id,
            customer: self.customer,
            amount: self.amount,
            currency: self.currency,
            status: self.status,
            created: self.created,
            metadata: self.metadata,
            outcome,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ListJson {
    pub(super) data: Vec<IntentJson>,
    #[serde(default)]
    pub(super) has_more: bool,
}

/// Stripe's `error` object.
#[derive(Debug, Default, Deserialize)]
struct ErrorJson {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    payment_intent: Option<IntentRef>,
}

#[derive(Debug, Deserialize)]
struct IntentRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ErrorJson,
}

pub(super) fn parse_intent(body: &[u8]) -> Result<PaymentIntent, String> {
    serde_json::from_slice::<IntentJson>(body)
        .map(IntentJson::into_intent)
        .map_err(|e| format!("unreadable PaymentIntent: {e}"))
}

fn parse_error(body: &[u8]) -> ErrorJson {
    serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .unwrap_or_default()
}

/// What a PaymentIntent's state means for the charge.
fn intent_outcome(pi: &IntentJson) -> ChargeOutcome {
    let id = Some(pi.id.clone());
    match pi.status.as_str() {
        "succeeded" => ChargeOutcome::Succeeded {
            payment_intent_id: pi.id.clone(),
        },
        "requires_payment_method" => {
            let error = pi.last_payment_error.as_ref();
            let code = error.and_then(|e| e.decline_code.clone().or_else(|| e.code.clone()));
            let code = listed_code(code).unwrap_or_else(|| "requires_payment_method".to_string());
            if code == "authentication_required" {
                DeclineClass::AuthenticationRequired.declined(id, Some(code))
            } else {
                DeclineClass::Card.declined(id, Some(code))
            }
        }
        "requires_action" => DeclineClass::AuthenticationRequired.declined(id, None),
        "canceled" => {
            DeclineClass::Canceled.declined(id, listed_code(pi.cancellation_reason.clone()))
        }
        "requires_confirmation" => {
            DeclineClass::Canceled.declined(id, Some("requires_confirmation".to_string()))
        }
        other => ChargeOutcome::Unknown {
            error: format!("{} is {other}", pi.id),
        },
    }
}

/// What the answer to a create means.
pub(super) fn outcome_of_answer(status: u16, body: &[u8]) -> ChargeOutcome {
    match status {
        200..=299 => match serde_json::from_slice::<IntentJson>(body) {
            Ok(intent) => {
                // The decline's own words, for the logs only (not on every listed PaymentIntent:
                // only on the answer to this charge).
                if let Some(message) = intent
                    .last_payment_error
                    .as_ref()
                    .and_then(|e| e.message.as_deref())
                {
                    tracing::info!(payment_intent_id = %intent.id, gateway_message = %message, "the gateway's words on the decline");
                }
                intent.into_intent().outcome
            }
            Err(error) => ChargeOutcome::Unknown {
                error: format!("HTTP {status}: unreadable PaymentIntent: {error}"),
            },
        },
        402 => {
            let error = parse_error(body);
            tracing::info!(status, gateway_error = %error_summary(status, body), "the gateway declined the charge");
            let code = listed_code(error.decline_code.or(error.code));
            let class = if code.as_deref() == Some("authentication_required") {
                DeclineClass::AuthenticationRequired
            } else {
                DeclineClass::Card
            };
            class.declined(error.payment_intent.map(|pi| pi.id), code)
        }
        400..=499 => {
            let error = parse_error(body);
            let in_flight_or_busy =
                matches!(status, 409 | 429) || error.kind.as_deref() == Some("idempotency_error");
            if in_flight_or_busy {
                ChargeOutcome::Unknown {
                    error: error_summary(status, body),
                }
            } else {
                // Its code and words can name the platform's account or tell whether an id
                // exists: the logs get them, the tenant the class.
                tracing::warn!(status, gateway_error = %error_summary(status, body), "the gateway refused the charge request");
                DeclineClass::InvalidRequest.declined(error.payment_intent.map(|pi| pi.id), None)
            }
        }
        _ => ChargeOutcome::Unknown {
            error: error_summary(status, body),
        },
    }
}

/// `HTTP 500: <Stripe's message>` (or the start of the body).
pub(super) fn error_summary(status: u16, body: &[u8]) -> String {
    let error = parse_error(body);
    let detail = match (error.code, error.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message,
        (Some(code), None) => code,
        (None, None) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            text.trim().to_string()
        }
    };
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::stripe::fake_stripe::*;

    #[test]
    fn answers_map_to_outcomes() {
        let declined = |status, body: &str| match outcome_of_answer(status, body.as_bytes()) {
            ChargeOutcome::Declined {
                payment_intent_id,
                decline_code,
                message,
            } => (payment_intent_id, decline_code, message),
            other => panic!("{status} {body}: {other:?}"),
        };
        let unknown = |status, body: &str| {
            assert!(
                matches!(
                    outcome_of_answer(status, body.as_bytes()),
                    ChargeOutcome::Unknown { .. }
                ),
                "{status} {body}"
            )
        };

        // Stripe's card error: the decline code and the PaymentIntent left behind.
        let stripe_decline = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_9","status":"requires_payment_method"}}}"#;
        assert_eq!(
            declined(402, stripe_decline),
            (
                Some("pi_9".to_string()),
                "insufficient_funds".to_string(),
                "the card was declined".to_string()
            ),
            "Stripe's code, never its words"
        );
        // localstripe's: only a code.
        let local_decline = r#"{"error":{"type":"invalid_request_error","code":"card_declined","charge":"ch_1","message":"Your card was declined."}}"#;
        assert_eq!(declined(402, local_decline).1, "card_declined");
        assert_eq!(declined(402, "not json").1, "card_declined");
        assert_eq!(
            declined(
                402,
                r#"{"error":{"type":"card_error","code":"authentication_required","message":"m"}}"#
            )
            .1,
            "authentication_required"
        );
        // A request that will not succeed as it is: one class, whatever Stripe said (its code
        // tells whether an id exists, its words can name the platform's account).
        for (status, body) in [
            (
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer: 'cus_x'"}}"#,
            ),
            (
                401,
                r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_live_****1234"}}"#,
            ),
            (
                400,
                r#"{"error":{"type":"invalid_request_error","code":"parameter_invalid","message":"The account acct_1Platform cannot ..."}}"#,
            ),
        ] {
            assert_eq!(
                declined(status, body),
                (
                    None,
                    "invalid_request".to_string(),
                    "the payment gateway refused the charge request".to_string()
                )
            );
        }
        // A code that is not a plain code is not shown either.
        assert_eq!(
            declined(
                402,
                r#"{"error":{"type":"card_error","code":"Card of acct_1X declined"}}"#
            ),
            (
                None,
                "card_declined".to_string(),
                "the card was declined".to_string()
            )
        );
        // 2xx states.
        assert_eq!(
            outcome_of_answer(200, intent("pi_1", "succeeded", "a").as_bytes()),
            ChargeOutcome::Succeeded {
                payment_intent_id: "pi_1".to_string()
            }
        );
        assert_eq!(
            declined(200, &intent("pi_1", "requires_action", "a")),
            (
                Some("pi_1".to_string()),
                "authentication_required".to_string(),
                "the bank asks for the customer's authentication, impossible off-session"
                    .to_string()
            )
        );
        assert_eq!(
            declined(200, &intent("pi_1", "canceled", "a")).1,
            "canceled"
        );
        let after_decline = serde_json::json!({
            "id": "pi_2", "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "lost_card", "message": "lost"},
        })
        .to_string();
        assert_eq!(
            declined(200, &after_decline),
            (
                Some("pi_2".to_string()),
                "lost_card".to_string(),
                "the card was declined".to_string()
            )
        );
        // Unknown: the charge may have happened.
        unknown(200, &intent("pi_1", "processing", "a"));
        unknown(200, "<html>proxy</html>");
        unknown(500, r#"{"error":{"type":"api_error","message":"boom"}}"#);
        unknown(503, "");
        unknown(
            409,
            r#"{"error":{"type":"idempotency_error","message":"There is currently another in-progress request using this Idempotent Key"}}"#,
        );
        unknown(
            400,
            r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#,
        );
        unknown(
            429,
            r#"{"error":{"type":"invalid_request_error","code":"rate_limit"}}"#,
        );
        unknown(302, "");
    }
}
