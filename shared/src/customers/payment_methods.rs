//! A customer's saved cards for invoice payment (issue 22): the gateway customer they are saved
//! to, and the order the business charges them in. A change of either is checked at the gateway
//! before it is saved, as auto top-up's settings are (`topups::ownership`): every listed payment
//! method must be among the cards the gateway lists for the gateway customer
//! (`PaymentGateway::saved_cards`), and must belong to this business and customer there (the
//! gateway customer's metadata names both: `topups::gateway::owned_by`). The charge checks the
//! owner again right before it is made.

use super::model::CustomerPatch;
use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, CustomerId, ValidationError};
use crate::ports::Store;
use crate::service::Service;
use crate::topups::gateway::{owned_by, GatewayFailure, PaymentGateway};

fn gateway_failure(failure: GatewayFailure, business: &str, customer: &str) -> DomainError {
    match failure {
        GatewayFailure::Unavailable(detail) => DomainError::GatewayUnavailable(detail),
        GatewayFailure::Refused(why) => {
            tracing::warn!(%business, %customer, %why, "gateway refused a payment-method look-up");
            DomainError::PaymentMethodNotOwned
        }
    }
}

impl<S: Store, C: Clock> Service<S, C> {
    /// The patch, if what it makes of the customer's gateway customer and payment methods is
    /// theirs at the gateway; else [`DomainError::PaymentMethodNotOwned`] (which never tells
    /// whether an id exists). A patch that touches neither passes unchecked.
    pub async fn check_customer_payment_methods<G: PaymentGateway>(
        &self,
        gateway: Option<&G>,
        tenant: &Tenant,
        customer_id: &CustomerId,
        patch: CustomerPatch,
    ) -> DomainResult<CustomerPatch> {
        if !patch.touches_payment_methods() {
            return Ok(patch);
        }
        let current = self.get_customer(tenant, customer_id).await?;
        let gateway_customer = patch
            .gateway_customer_id
            .clone()
            .unwrap_or(current.gateway_customer_id);
        let methods = patch
            .payment_methods
            .clone()
            .unwrap_or(current.payment_methods);
        if methods.is_empty() {
            return Ok(patch);
        }
        let Some(gateway_customer) = gateway_customer else {
            return Err(ValidationError::new(
                "invalid_payment_methods",
                "payment_methods need the customer's gateway_customer_id",
            )
            .into());
        };
        let Some(gateway) = gateway else {
            return Err(ValidationError::new(
                "invalid_payment_methods",
                "no payment gateway is configured: payment methods cannot be checked",
            )
            .into());
        };
        let (business, customer) = (tenant.business_id.to_string(), customer_id.to_string());
        let saved = gateway
            .saved_cards(&gateway_customer)
            .await
            .map_err(|f| gateway_failure(f, &business, &customer))?;
        for method in &methods {
            if !saved.contains(&method.payment_method_id) {
                tracing::warn!(%business, %customer, payment_method = %method.payment_method_id, "not a card saved to the gateway customer: refused");
                return Err(DomainError::PaymentMethodNotOwned);
            }
            let owner = gateway
                .payment_method_owner(&method.payment_method_id)
                .await
                .map_err(|f| gateway_failure(f, &business, &customer))?;
            if let Err(why) = owned_by(owner.as_ref(), &gateway_customer, &business, &customer) {
                tracing::warn!(%business, %customer, %why, "payment method not owned by the customer: refused");
                return Err(DomainError::PaymentMethodNotOwned);
            }
        }
        Ok(patch)
    }
}
