//! Stripe's webhook events (`POST /stripe/webhooks`): the `Stripe-Signature` check, and the
//! events of a card top-up's PaymentIntent settled through the one settle function.
//!
//! The signature: the header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` (other schemes, such
//! as `v0`, are ignored); a `v1` is the HMAC-SHA256 of `"<t>.<raw body>"` keyed with the
//! endpoint's secret (`whsec_...`, used as it is). Any `v1` may match (Stripe sends one per
//! secret while a secret is rolled); the comparison takes the same time whatever matches; `t`
//! must be within [`TOLERANCE_S`] of now, either way. localstripe signs the same way
//! (`t=<event.created>,v1=<hex>`).
//!
//! Deduplication: an event id is recorded (kept 30 days) only after its event was handled, so a
//! settle that failed is retried when Stripe sends the event again; an event recorded is
//! answered at once. The record only saves work: settling twice credits once anyway.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, CustomerId};
use crate::ports::Store;
use crate::service::Service;

use super::model::{GatewayPayment, PaymentState, CARD_TOP_UP_METADATA_KEY};

/// How far a signature's time may be from now.
pub const TOLERANCE_S: u64 = 5 * 60;
/// How long a handled event's id is kept.
pub const EVENT_KEPT_S: u64 = 30 * 24 * 60 * 60;

/// HMAC-SHA256 (RFC 2104) of `message` keyed with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal, in a time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Stripe-Signature` header for `body` signed at `t` (tests, and the local tools).
pub fn signature_header(secret: &str, t: u64, body: &[u8]) -> String {
    let signed = [format!("{t}.").as_bytes(), body].concat();
    format!("t={t},v1={}", hex(&hmac_sha256(secret.as_bytes(), &signed)))
}

/// Whether `header` signs `body` with `secret`, at a time within [`TOLERANCE_S`] of `now_s`.
pub fn verify_signature(secret: &str, header: Option<&str>, body: &[u8], now_s: u64) -> bool {
    let Some(header) = header else {
        return false;
    };
    if secret.is_empty() {
        return false;
    }
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if t.abs_diff(now_s) > TOLERANCE_S || signatures.is_empty() {
        return false;
    }
    let signed = [format!("{t}.").as_bytes(), body].concat();
    let expected = hex(&hmac_sha256(secret.as_bytes(), &signed));
    // Every candidate is compared (no early exit on a match).
    signatures.iter().fold(false, |found, v1| {
        same(v1.as_bytes(), expected.as_bytes()) | found
    })
}

#[derive(Deserialize)]
struct EventJson {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct IntentJson {
    id: String,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    last_payment_error: Option<ErrorJson>,
}

#[derive(Deserialize)]
struct ErrorJson {
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// What a webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A card top-up's PaymentIntent event, settled (the top-up's status after it).
    Settled {
        top_up_id: String,
        status: &'static str,
    },
    /// An event handled before (its id was recorded).
    Duplicate,
    /// An event of no card top-up: nothing to do.
    Ignored,
}

/// A decline code from the gateway's fixed list, or none (free text is never kept).
fn listed(code: Option<String>) -> Option<String> {
    code.filter(|c| {
        !c.is_empty()
            && c.len() <= 64
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Handles one Stripe webhook: `secret` is the endpoint's (`STRIPE_WEBHOOK_SECRET`),
    /// `signature` the `Stripe-Signature` header, `body` the raw body. A bad, missing or stale
    /// signature is [`DomainError::InvalidSignature`] (400) and changes nothing.
    pub async fn receive_stripe_webhook(
        &self,
        secret: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> DomainResult<WebhookOutcome> {
        let now_s = self.now().unix_ms / 1000;
        if !verify_signature(secret, signature, body, now_s) {
            return Err(DomainError::InvalidSignature);
        }
        let event: EventJson = serde_json::from_slice(body).map_err(|e| {
            crate::kernel::ValidationError::new("invalid_event", format!("unreadable event: {e}"))
        })?;
        if event.kind != "payment_intent.succeeded" && event.kind != "payment_intent.payment_failed"
        {
            return Ok(WebhookOutcome::Ignored);
        }
        let Ok(intent) = serde_json::from_value::<IntentJson>(event.data.object) else {
            return Ok(WebhookOutcome::Ignored);
        };
        let named = |key: &str| intent.metadata.get(key).cloned();
        let (Some(top_up_id), Some(business), Some(customer)) = (
            named(CARD_TOP_UP_METADATA_KEY),
            named("business_id"),
            named("customer_id"),
        ) else {
            return Ok(WebhookOutcome::Ignored);
        };
        if self.store().gateway_event_seen(&event.id).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        let (Ok(business_id), Ok(customer_id)) =
            (BusinessId::parse(&business), CustomerId::parse(&customer))
        else {
            tracing::warn!(event = %event.id, "a top-up event names an invalid business or customer: ignored");
            return Ok(WebhookOutcome::Ignored);
        };
        let decline_code = intent
            .last_payment_error
            .and_then(|e| listed(e.decline_code).or(listed(e.code)));
        let state = if event.kind == "payment_intent.payment_failed" {
            PaymentState::Failed { decline_code }
        } else {
            PaymentState::of_stripe_status(&intent.status, decline_code)
        };
        let payment = GatewayPayment {
            payment_intent_id: intent.id,
            amount: intent.amount,
            currency: intent.currency,
            state,
        };
        let top_up = match self
            .settle_card_top_up(&business_id, &customer_id, &top_up_id, &payment)
            .await
        {
            Ok(top_up) => top_up,
            // A PaymentIntent of a top-up this deployment does not hold (another environment on
            // the same Stripe account): nothing to do, and nothing Stripe should send again.
            Err(DomainError::CardTopUpNotFound(_)) => {
                tracing::warn!(event = %event.id, %top_up_id, "a top-up event names no top-up of this deployment: ignored");
                return Ok(WebhookOutcome::Ignored);
            }
            Err(other) => return Err(other),
        };
        self.store()
            .record_gateway_event(&event.id, now_s + EVENT_KEPT_S)
            .await?;
        Ok(WebhookOutcome::Settled {
            top_up_id,
            status: top_up.status.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_signature_is_accepted_only_with_the_secret_the_body_and_a_recent_time() {
        let (secret, body, t) = ("whsec_test", br#"{"id":"evt_1"}"#.as_slice(), 1_800_000_000);
        let header = signature_header(secret, t, body);
        assert!(verify_signature(secret, Some(&header), body, t));
        assert!(verify_signature(
            secret,
            Some(&header),
            body,
            t + TOLERANCE_S
        ));
        assert!(!verify_signature(
            secret,
            Some(&header),
            body,
            t + TOLERANCE_S + 1
        ));
        assert!(!verify_signature(
            secret,
            Some(&header),
            body,
            t - TOLERANCE_S - 1
        ));
        assert!(!verify_signature("whsec_other", Some(&header), body, t));
        assert!(!verify_signature(secret, Some(&header), b"{}", t));
        assert!(!verify_signature(secret, None, body, t));
        assert!(!verify_signature("", Some(&header), body, t));
        assert!(!verify_signature(secret, Some("t=1800000000"), body, t));
        assert!(!verify_signature(secret, Some("v1=00"), body, t));
        // Any v1 may match; a v0 is ignored.
        let good = header.split_once(",v1=").unwrap().1;
        let several = format!("t={t},v0={good},v1=deadbeef,v1={good}");
        assert!(verify_signature(secret, Some(&several), body, t));
        assert!(!verify_signature(
            secret,
            Some(&format!("t={t},v0={good}")),
            body,
            t
        ));
    }
}
