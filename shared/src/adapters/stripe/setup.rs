//! What a card top-up asks of Stripe beyond a charge (`payins::gateway::CardGateway`): a
//! SetupIntent for a gateway customer (`POST /v1/setup_intents`, `usage=off_session`), read back
//! (`GET /v1/setup_intents/{id}`), and a PaymentIntent read back as a top-up's payment.
//! localstripe serves all three (its SetupIntent confirmation does not attach the card to the
//! customer, as Stripe does: `start_card_top_up` attaches a card attached to no one).

use http::Method;
use serde::Deserialize;
use url::form_urlencoded;

use super::customers::is_gateway_id;
use super::wire::{failure, CustomerJson};
use super::StripeGateway;
use crate::payins::gateway::{CardGateway, SetupIntent};
use crate::payins::model::{GatewayPayment, PaymentState};
use crate::topups::gateway::{ChargeOutcome, GatewayCustomer, GatewayFailure};

#[derive(Deserialize)]
struct SetupIntentJson {
    id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    payment_method: Option<String>,
    #[serde(default)]
    status: String,
}

impl SetupIntentJson {
    fn into_setup(self) -> SetupIntent {
        SetupIntent {
            id: self.id,
            client_secret: self.client_secret.unwrap_or_default(),
            customer: self.customer,
            payment_method: self.payment_method,
            status: self.status,
        }
    }
}

fn unreadable(what: &str, e: serde_json::Error) -> GatewayFailure {
    GatewayFailure::Unavailable(format!("{what}: unreadable answer: {e}"))
}

impl StripeGateway {
    /// `POST /v1/setup_intents` with `customer`, `usage=off_session`, `payment_method_types[0]=card`.
    pub async fn create_setup_intent(
        &self,
        gateway_customer_id: &str,
    ) -> Result<SetupIntent, GatewayFailure> {
        if !is_gateway_id(gateway_customer_id) {
            return Err(GatewayFailure::Refused(format!(
                "invalid gateway customer id `{gateway_customer_id}`"
            )));
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("customer", gateway_customer_id)
            .append_pair("usage", "off_session")
            .append_pair("payment_method_types[0]", "card")
            .finish();
        let what = "POST /v1/setup_intents";
        let (status, body) = self
            .call(Method::POST, "/v1/setup_intents", Some(form), None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        if status != 200 {
            return Err(failure(what, status, &body));
        }
        serde_json::from_slice::<SetupIntentJson>(&body)
            .map(SetupIntentJson::into_setup)
            .map_err(|e| unreadable(what, e))
    }

    /// `GET /v1/customers/{id}`: `None` if there is no such customer.
    pub async fn gateway_customer(
        &self,
        gateway_customer_id: &str,
    ) -> Result<Option<GatewayCustomer>, GatewayFailure> {
        if !is_gateway_id(gateway_customer_id) {
            return Ok(None);
        }
        let path = format!("/v1/customers/{gateway_customer_id}");
        let (status, body) = self
            .call(Method::GET, &path, None, None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        match status {
            200 => serde_json::from_slice::<CustomerJson>(&body)
                .map(|c| {
                    Some(GatewayCustomer {
                        id: c.id,
                        metadata: c.metadata,
                        deleted: c.deleted,
                    })
                })
                .map_err(|e| unreadable("GET /v1/customers", e)),
            404 => Ok(None),
            _ => Err(failure("GET /v1/customers", status, &body)),
        }
    }

    /// `GET /v1/setup_intents/{id}`: `None` if there is no such SetupIntent.
    pub async fn setup_intent(
        &self,
        setup_intent_id: &str,
    ) -> Result<Option<SetupIntent>, GatewayFailure> {
        if !is_gateway_id(setup_intent_id) {
            return Ok(None);
        }
        let path = format!("/v1/setup_intents/{setup_intent_id}");
        let (status, body) = self
            .call(Method::GET, &path, None, None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        match status {
            200 => serde_json::from_slice::<SetupIntentJson>(&body)
                .map(|json| Some(json.into_setup()))
                .map_err(|e| unreadable("GET /v1/setup_intents", e)),
            404 => Ok(None),
            _ => Err(failure("GET /v1/setup_intents", status, &body)),
        }
    }

    /// The PaymentIntent with this id, as a top-up's payment.
    pub async fn top_up_payment(
        &self,
        payment_intent_id: &str,
    ) -> Result<Option<GatewayPayment>, GatewayFailure> {
        if !is_gateway_id(payment_intent_id) {
            return Ok(None);
        }
        let Some(intent) = self
            .retrieve(payment_intent_id)
            .await
            .map_err(GatewayFailure::Unavailable)?
        else {
            return Ok(None);
        };
        let decline_code = match &intent.outcome {
            ChargeOutcome::Declined { decline_code, .. } => Some(decline_code.clone()),
            _ => None,
        };
        Ok(Some(GatewayPayment {
            payment_intent_id: intent.id,
            amount: intent.amount,
            currency: intent.currency,
            state: PaymentState::of_stripe_status(&intent.status, decline_code),
        }))
    }
}

impl StripeGateway {
    /// For tests and local runs against localstripe: what Stripe.js's `confirmCardSetup` does
    /// with a test card number (`POST /v1/setup_intents/{id}/confirm` with the new card). Answers
    /// the card's payment method id; a card declined on setup (`4000000000000002`) is an error.
    pub async fn confirm_test_setup_intent(
        &self,
        setup_intent_id: &str,
        card_number: &str,
    ) -> Result<String, String> {
        let payment_method = self.create_test_card(card_number).await?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("payment_method", &payment_method)
            .finish();
        let path = format!("/v1/setup_intents/{setup_intent_id}/confirm");
        let (status, body) = self.call(Method::POST, &path, Some(form), None).await?;
        if status != 200 {
            return Err(format!(
                "{path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(payment_method)
    }
}

impl CardGateway for StripeGateway {
    fn create_setup_intent(
        &self,
        gateway_customer_id: &str,
    ) -> impl std::future::Future<Output = Result<SetupIntent, GatewayFailure>> + Send {
        StripeGateway::create_setup_intent(self, gateway_customer_id)
    }

    fn gateway_customer(
        &self,
        gateway_customer_id: &str,
    ) -> impl std::future::Future<Output = Result<Option<GatewayCustomer>, GatewayFailure>> + Send
    {
        StripeGateway::gateway_customer(self, gateway_customer_id)
    }

    fn setup_intent(
        &self,
        setup_intent_id: &str,
    ) -> impl std::future::Future<Output = Result<Option<SetupIntent>, GatewayFailure>> + Send {
        StripeGateway::setup_intent(self, setup_intent_id)
    }

    fn payment_intent(
        &self,
        payment_intent_id: &str,
    ) -> impl std::future::Future<Output = Result<Option<GatewayPayment>, GatewayFailure>> + Send
    {
        StripeGateway::top_up_payment(self, payment_intent_id)
    }
}
