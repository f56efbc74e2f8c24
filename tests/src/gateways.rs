//! The real Stripe adapter (on localstripe) wrapped to fail the way a worker or a network does
//! right after the gateway acted: it dies, or the answer is lost. The top-up and invoice-charge
//! tests resume such a charge and count what localstripe made.

use shared::adapters::stripe::StripeGateway;
use shared::topups::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};

/// The look-ups of a wrapper around the real gateway (`self.0`): only what the wrapper names
/// differs (its charge, or its refund).
#[macro_export]
macro_rules! delegate_lookups {
    () => {
        async fn find(
            &self,
            lookup: &shared::topups::gateway::ChargeLookup,
        ) -> Result<Option<shared::topups::gateway::FoundCharge>, String> {
            self.0.find(lookup).await
        }

        async fn payment_method_owner(
            &self,
            payment_method_id: &str,
        ) -> Result<
            Option<shared::topups::gateway::PaymentMethodOwner>,
            shared::topups::gateway::GatewayFailure,
        > {
            self.0.payment_method_owner(payment_method_id).await
        }

        async fn create_customer(
            &self,
            business_id: &str,
            customer_id: &str,
        ) -> Result<String, shared::topups::gateway::GatewayFailure> {
            self.0.create_customer(business_id, customer_id).await
        }

        async fn attach_payment_method(
            &self,
            payment_method_id: &str,
            gateway_customer_id: &str,
        ) -> Result<(), shared::topups::gateway::GatewayFailure> {
            self.0
                .attach_payment_method(payment_method_id, gateway_customer_id)
                .await
        }
    };
}

/// Charges through the real gateway, then never answers: the worker died after the charge.
pub struct DiesAfterCharge(pub StripeGateway);

impl PaymentGateway for DiesAfterCharge {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        let outcome = self.0.charge(request).await;
        assert!(
            matches!(outcome, ChargeOutcome::Succeeded { .. }),
            "{outcome:?}"
        );
        std::future::pending().await
    }

    delegate_lookups!();
}

/// Charges through the real gateway, then answers that the outcome is unknown (a timeout: the
/// answer was lost).
pub struct LosesTheAnswer(pub StripeGateway);

impl PaymentGateway for LosesTheAnswer {
    async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        self.0.charge(request).await;
        ChargeOutcome::Unknown {
            error: "timeout after 10 s (injected)".into(),
        }
    }

    delegate_lookups!();
}
