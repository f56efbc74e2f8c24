//! What invoice payment asks of Stripe besides a charge (issue 22): the cards saved to a gateway
//! customer (`GET /v1/payment_methods?customer=..&type=card`) and a refund of a charge
//! (`POST /v1/refunds`). localstripe serves both.

use http::Method;
use serde::Deserialize;
use url::form_urlencoded;

use super::wire::{error_summary, failure, PaymentMethodJson};
use super::StripeGateway;
use crate::topups::gateway::{GatewayFailure, RefundOutcome, RefundRequest};

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
    status: String,
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

    /// `POST /v1/refunds` with `payment_intent`, `amount`, metadata and the idempotency key.
    pub async fn refund(&self, request: &RefundRequest) -> RefundOutcome {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("payment_intent", &request.payment_intent_id)
                .append_pair("amount", &request.amount.minor().to_string());
            for (key, value) in &request.metadata {
                form.append_pair(&format!("metadata[{key}]"), value);
            }
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
                Ok(refund) if refund.status != "failed" && refund.status != "canceled" => {
                    RefundOutcome::Succeeded {
                        refund_id: refund.id,
                    }
                }
                Ok(refund) => RefundOutcome::Refused {
                    reason: format!("refund {} is {}", refund.id, refund.status),
                },
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
