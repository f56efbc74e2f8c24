//! What invoice payment asks of Stripe besides a charge (issue 22): the cards saved to a gateway
//! customer (`GET /v1/payment_methods?customer=..&type=card`) and a refund of a charge
//! (`POST /v1/refunds`, reconciled first by `GET /v1/refunds?payment_intent=..`). localstripe
//! serves all three.

use http::Method;
use serde::Deserialize;
use url::form_urlencoded;

use super::wire::{error_summary, failure, PaymentMethodJson};
use super::StripeGateway;
use crate::topups::gateway::{GatewayFailure, RefundOutcome, RefundRequest, REFUND_METADATA_KEY};

/// Saved cards listed at most (Stripe's page maximum; a customer orders at most 10).
const CARDS_PAGE: usize = 100;

#[derive(Deserialize)]
struct MethodList {
    data: Vec<PaymentMethodJson>,
}

#[derive(Deserialize)]
struct RefundJson {
    id: String,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    status: String,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RefundList {
    data: Vec<RefundJson>,
}

/// What a refund's state means: made (`succeeded`, `pending`), or refused (`failed`,
/// `canceled`).
fn outcome_of(refund: RefundJson) -> RefundOutcome {
    if refund.status == "failed" || refund.status == "canceled" {
        RefundOutcome::Refused {
            reason: format!("refund {} is {}", refund.id, refund.status),
        }
    } else {
        RefundOutcome::Succeeded {
            refund_id: refund.id,
        }
    }
}

impl StripeGateway {
    /// `GET /v1/payment_methods?customer=..&type=card&limit=100`: the ids of the cards saved to
    /// the gateway customer.
    pub async fn saved_cards(
        &self,
        gateway_customer_id: &str,
    ) -> Result<Vec<String>, GatewayFailure> {
        if !super::customers::is_gateway_id(gateway_customer_id) {
            return Err(GatewayFailure::Refused(format!(
                "invalid gateway customer id `{gateway_customer_id}`"
            )));
        }
        let path = format!(
            "/v1/payment_methods?customer={gateway_customer_id}&type=card&limit={CARDS_PAGE}"
        );
        let (status, body) = self
            .call(Method::GET, &path, None, None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        if status != 200 {
            return Err(failure("GET /v1/payment_methods", status, &body));
        }
        let list: MethodList = serde_json::from_slice(&body).map_err(|e| {
            GatewayFailure::Unavailable(format!("unreadable payment method list: {e}"))
        })?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    /// `GET /v1/refunds?payment_intent=..&limit=100`: the refunds of a PaymentIntent.
    async fn listed_refunds(&self, payment_intent_id: &str) -> Result<Vec<RefundJson>, String> {
        if !super::customers::is_gateway_id(payment_intent_id) {
            return Err(format!("invalid PaymentIntent id `{payment_intent_id}`"));
        }
        let path = format!("/v1/refunds?payment_intent={payment_intent_id}&limit=100");
        let (status, body) = self.call(Method::GET, &path, None, None).await?;
        if status != 200 {
            return Err(format!("GET /v1/refunds: {}", error_summary(status, &body)));
        }
        serde_json::from_slice::<RefundList>(&body)
            .map(|list| list.data)
            .map_err(|e| format!("GET /v1/refunds: unreadable answer: {e}"))
    }

    /// For tests: the refunds of a PaymentIntent, `(id, amount)`.
    pub async fn refunds_of(&self, payment_intent_id: &str) -> Result<Vec<(String, i64)>, String> {
        Ok(self
            .listed_refunds(payment_intent_id)
            .await?
            .into_iter()
            .map(|r| (r.id, r.amount))
            .collect())
    }

    /// Reconciles, then refunds if the request's refund was not made yet: first the
    /// PaymentIntent's refunds are listed and one whose metadata `refund_attempt` is the
    /// request's idempotency key answers (localstripe does not replay idempotency keys, and
    /// Stripe forgets them after 24 hours); only when there is none, `POST /v1/refunds` with
    /// `payment_intent`, `amount`, metadata (with `refund_attempt`) and the idempotency key.
    pub async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        if request.idempotency_key.is_empty() {
            return RefundOutcome::Refused {
                reason: "a refund needs an idempotency key".into(),
            };
        }
        match self.listed_refunds(&request.payment_intent_id).await {
            Err(error) => {
                return RefundOutcome::Unknown {
                    error: format!("reconciling before the refund: {error}"),
                }
            }
            Ok(made) => {
                if let Some(found) = made
                    .into_iter()
                    .find(|r| r.metadata.get(REFUND_METADATA_KEY) == Some(&request.idempotency_key))
                {
                    tracing::info!(refund = %request.idempotency_key, id = %found.id, "refund already made: answering it");
                    return outcome_of(found);
                }
            }
        }
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("payment_intent", &request.payment_intent_id)
                .append_pair("amount", &request.amount.minor().to_string());
            for (key, value) in &request.metadata {
                if key != REFUND_METADATA_KEY {
                    form.append_pair(&format!("metadata[{key}]"), value);
                }
            }
            form.append_pair(
                &format!("metadata[{REFUND_METADATA_KEY}]"),
                &request.idempotency_key,
            );
            form.finish()
        };
        let answer = self
            .call(
                Method::POST,
                "/v1/refunds",
                Some(form),
                Some(&request.idempotency_key),
            )
            .await;
        let (status, body) = match answer {
            Ok(answer) => answer,
            Err(error) => return RefundOutcome::Unknown { error },
        };
        match status {
            200 => match serde_json::from_slice::<RefundJson>(&body) {
                Ok(refund) => outcome_of(refund),
                Err(e) => RefundOutcome::Unknown {
                    error: format!("POST /v1/refunds: unreadable answer: {e}"),
                },
            },
            400..=499 if status != 409 && status != 429 => RefundOutcome::Refused {
                reason: format!("POST /v1/refunds: {}", error_summary(status, &body)),
            },
            _ => RefundOutcome::Unknown {
                error: format!("POST /v1/refunds: {}", error_summary(status, &body)),
            },
        }
    }
}
