//! Customers and their payment methods: whose card it is (checked right before a charge), a
//! customer made for a wallet, a payment method attached to it, and the test helpers that make
//! cards and customers on localstripe.

use std::collections::BTreeMap;

use http::Method;
use url::form_urlencoded;

use super::wire::{failure, CustomerField, PaymentMethodJson};
use super::StripeGateway;
use crate::topups::gateway::{
    owned_by, ChargeOutcome, ChargeRequest, DeclineClass, GatewayCustomer, GatewayFailure,
    PaymentMethodOwner, OWNER_BUSINESS_METADATA_KEY, OWNER_CUSTOMER_METADATA_KEY,
};

impl StripeGateway {
    /// Right before a charge: the payment method must still be attached to the request's
    /// gateway customer, whose metadata names the wallet's business and customer. A refusal is
    /// `Declined` (`payment_method_not_owned`); a gateway that cannot say is `Unknown` (nothing
    /// was charged; the attempt is resumed later).
    pub(super) async fn check_owner(&self, request: &ChargeRequest) -> Result<(), ChargeOutcome> {
        let owner = match self.payment_method_owner(&request.payment_method_id).await {
            Ok(owner) => owner,
            Err(GatewayFailure::Unavailable(error)) => {
                return Err(ChargeOutcome::Unknown {
                    error: format!("checking the payment method's owner: {error}"),
                })
            }
            Err(GatewayFailure::Refused(error)) => {
                tracing::warn!(attempt_id = %request.attempt_id, %error, "payment method refused by the gateway: not charged");
                return Err(DeclineClass::NotOwned.declined(None, None));
            }
        };
        owned_by(
            owner.as_ref(),
            &request.gateway_customer_id,
            &request.business_id,
            &request.customer_id,
        )
        .map_err(|why| {
            tracing::warn!(
                attempt_id = %request.attempt_id,
                business_id = %request.business_id,
                customer_id = %request.customer_id,
                %why,
                "payment method not owned by the wallet's business and customer: not charged"
            );
            DeclineClass::NotOwned.declined(None, None)
        })
    }

    /// `GET /v1/payment_methods/{id}?expand[0]=customer`: the customer it is attached to, with
    /// that customer's metadata, in one request. `None` if there is no such payment method.
    pub async fn payment_method_owner(
        &self,
        payment_method_id: &str,
    ) -> Result<Option<PaymentMethodOwner>, GatewayFailure> {
        if !is_gateway_id(payment_method_id) {
            return Ok(None);
        }
        let path = format!("/v1/payment_methods/{payment_method_id}?expand[0]=customer");
        let (status, body) = self
            .call(Method::GET, &path, None, None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        match status {
            200 => {
                let method: PaymentMethodJson = serde_json::from_slice(&body).map_err(|e| {
                    GatewayFailure::Unavailable(format!("unreadable payment method: {e}"))
                })?;
                let customer = match method.customer {
                    None => None,
                    // Not expanded: a gateway that ignored `expand`; its metadata is unknown.
                    Some(CustomerField::Id(id)) => Some(GatewayCustomer {
                        id,
                        metadata: BTreeMap::new(),
                        deleted: false,
                    }),
                    Some(CustomerField::Expanded(c)) => Some(GatewayCustomer {
                        id: c.id,
                        metadata: c.metadata,
                        deleted: c.deleted,
                    }),
                };
                Ok(Some(PaymentMethodOwner {
                    payment_method_id: method.id,
                    customer,
                }))
            }
            404 => Ok(None),
            _ => Err(failure(
                &format!("GET /v1/payment_methods/{payment_method_id}"),
                status,
                &body,
            )),
        }
    }

    /// `POST /v1/customers` with metadata naming the wallet's business and customer.
    pub async fn create_customer(
        &self,
        business_id: &str,
        customer_id: &str,
    ) -> Result<String, GatewayFailure> {
        // Built apart: the serializer is not `Send`, so it must not live across the await.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            append_owner(&mut form, business_id, customer_id);
            form.finish()
        };
        self.post_for_id("/v1/customers", form).await
    }

    /// `POST /v1/payment_methods/{id}/attach`.
    pub async fn attach_payment_method(
        &self,
        payment_method_id: &str,
        gateway_customer_id: &str,
    ) -> Result<(), GatewayFailure> {
        if !is_gateway_id(payment_method_id) {
            return Err(GatewayFailure::Refused(format!(
                "invalid payment method id `{payment_method_id}`"
            )));
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("customer", gateway_customer_id)
            .finish();
        self.post_for_id(
            &format!("/v1/payment_methods/{payment_method_id}/attach"),
            form,
        )
        .await
        .map(|_| ())
    }

    /// For tests and local runs against `localstripe` (which takes raw test card numbers):
    /// creates a card payment method with this number, attached to no customer (as Stripe.js
    /// makes one). A card that Stripe declines on attach (`4000000000000002`) fails when it is
    /// attached; `4000000000000341` attaches and then declines every charge.
    pub async fn create_test_card(&self, card_number: &str) -> Result<String, String> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("type", "card")
            .append_pair("card[number]", card_number)
            .append_pair("card[exp_month]", "12")
            .append_pair("card[exp_year]", "2034")
            .append_pair("card[cvc]", "123");
        self.post_for_id("/v1/payment_methods", form.finish())
            .await
            .map_err(|e| e.to_string())
    }

    /// For tests and local runs: a test card ([`create_test_card`](Self::create_test_card))
    /// saved to a new gateway customer owned by a wallet's business and customer (its metadata
    /// names them, as [`create_customer`](Self::create_customer) makes it), and set as its
    /// default. Returns `(gateway customer id, payment method id)`.
    pub async fn create_test_customer(
        &self,
        card_number: &str,
        business_id: &str,
        customer_id: &str,
    ) -> Result<(String, String), String> {
        let payment_method = self.create_test_card(card_number).await?;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("payment_method", &payment_method)
            .append_pair("invoice_settings[default_payment_method]", &payment_method);
        append_owner(&mut form, business_id, customer_id);
        let customer = self
            .post_for_id("/v1/customers", form.finish())
            .await
            .map_err(|e| e.to_string())?;
        Ok((customer, payment_method))
    }

    /// For tests: sets one metadata entry of a gateway customer (`POST /v1/customers/{id}`).
    pub async fn set_customer_metadata(
        &self,
        gateway_customer_id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), String> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair(&format!("metadata[{key}]"), value);
        self.post_for_id(
            &format!("/v1/customers/{gateway_customer_id}"),
            form.finish(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// For tests: detaches a payment method from its customer.
    pub async fn detach_payment_method(&self, payment_method_id: &str) -> Result<(), String> {
        self.post_for_id(
            &format!("/v1/payment_methods/{payment_method_id}/detach"),
            String::new(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// The metadata that names a gateway customer's owner: the wallet's business and customer.
fn append_owner(
    form: &mut form_urlencoded::Serializer<'_, String>,
    business_id: &str,
    customer_id: &str,
) {
    form.append_pair(
        &format!("metadata[{OWNER_BUSINESS_METADATA_KEY}]"),
        business_id,
    )
    .append_pair(
        &format!("metadata[{OWNER_CUSTOMER_METADATA_KEY}]"),
        customer_id,
    );
}

/// An id that can go into a path as it is.
pub(super) fn is_gateway_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::stripe::fake_stripe::*;

    #[tokio::test]
    async fn a_payment_method_not_owned_by_the_wallet_s_business_and_customer_is_never_charged() {
        let cases = [
            // Another business's customer.
            payment_method("cus_A", "bus_2", "cus_wallet"),
            // Another customer of the same business.
            payment_method("cus_A", "bus_1", "cus_other"),
            // Attached to another gateway customer than the one named.
            payment_method("cus_B", "bus_1", "cus_wallet"),
            // Detached.
            (200, r#"{"id":"pm_A","customer":null}"#.to_string()),
            // A customer without the metadata.
            (200, r#"{"id":"pm_A","customer":{"id":"cus_A","metadata":{}}}"#.to_string()),
            // Deleted.
            (200, r#"{"id":"pm_A","customer":{"id":"cus_A","deleted":true,"metadata":{"wallet_business_id":"bus_1","wallet_customer_id":"cus_wallet"}}}"#.to_string()),
            // Unknown.
            (404, r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such PaymentMethod: 'pm_A'"}}"#.to_string()),
        ];
        for (status, body) in cases {
            let fake = FakeStripe::start(vec![now(EMPTY_LIST), now((status, &body))]).await;
            let outcome = fake.gateway().charge(&request()).await;
            assert_eq!(
                outcome,
                ChargeOutcome::Declined {
                    payment_intent_id: None,
                    decline_code: "payment_method_not_owned".to_string(),
                    message: DeclineClass::NotOwned.message().to_string(),
                },
                "{body}"
            );
            assert_eq!(fake.received().len(), 2, "no POST: {body}");
        }
        // A gateway that cannot say: unknown, nothing charged.
        let fake = FakeStripe::start(vec![now(EMPTY_LIST), now((503, "down"))]).await;
        let outcome = fake.gateway().charge(&request()).await;
        assert!(
            matches!(outcome, ChargeOutcome::Unknown { .. }),
            "{outcome:?}"
        );
        assert_eq!(fake.received().len(), 2, "no POST");
    }
}
