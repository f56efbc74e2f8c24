//! What a card top-up asks of the payment gateway beyond a charge (`topups::gateway`): a
//! SetupIntent for Stripe.js to collect the card into, the SetupIntent read back (which card,
//! whose), and a PaymentIntent read back (the sweep's reconciliation). Adapter:
//! `adapters::stripe::setup`.

use std::future::Future;

use super::model::GatewayPayment;
use crate::topups::gateway::{GatewayCustomer, GatewayFailure, PaymentGateway};

/// A SetupIntent as far as a top-up goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupIntent {
    pub id: String,
    /// For Stripe.js's `confirmCardSetup`; never stored.
    pub client_secret: String,
    /// The gateway customer it was made for.
    pub customer: Option<String>,
    /// The card it collected, once confirmed.
    pub payment_method: Option<String>,
    /// Stripe's status: `succeeded` once the card is set up.
    pub status: String,
}

/// The gateway of card top-ups.
pub trait CardGateway: PaymentGateway {
    /// `POST /v1/setup_intents` for the gateway customer, `usage=off_session`.
    fn create_setup_intent(
        &self,
        gateway_customer_id: &str,
    ) -> impl Future<Output = Result<SetupIntent, GatewayFailure>> + Send;

    /// The gateway customer with this id (its metadata names its owner); `Ok(None)` if there
    /// is none.
    fn gateway_customer(
        &self,
        gateway_customer_id: &str,
    ) -> impl Future<Output = Result<Option<GatewayCustomer>, GatewayFailure>> + Send;

    /// The SetupIntent with this id; `Ok(None)` if there is none.
    fn setup_intent(
        &self,
        setup_intent_id: &str,
    ) -> impl Future<Output = Result<Option<SetupIntent>, GatewayFailure>> + Send;

    /// The PaymentIntent with this id as a top-up reads it; `Ok(None)` if there is none.
    fn payment_intent(
        &self,
        payment_intent_id: &str,
    ) -> impl Future<Output = Result<Option<GatewayPayment>, GatewayFailure>> + Send;
}
