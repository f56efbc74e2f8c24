//! Whose card an auto top-up may charge. The platform charges every business's top-ups with its
//! one Stripe key, so a gateway id alone proves nothing: a business that learned another's
//! customer and card ids could name them. A payment method is used for a wallet only when the
//! gateway shows that it is attached to a gateway customer whose metadata names the wallet's
//! business and customer (`topups::gateway::owned_by`). Settings are checked here when they are
//! saved; the charge checks again right before it is made (the adapter's `charge`), since the
//! gateway's records can change in between.
//!
//! Where such a gateway customer comes from: settings that name a payment method and no gateway
//! customer have one created here (its metadata naming the business and customer), and the
//! payment method, which must be attached to no customer yet (as Stripe.js makes it), is
//! attached to it. Settings that name a payment method already attached to a customer of this
//! business and customer take that customer.

use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, CustomerId, ValidationError};
use crate::ports::Store;
use crate::service::Service;

use super::gateway::{owned_by, GatewayFailure, PaymentGateway};
use super::operations::SettingsPatch;

impl<S: Store, C: Clock> Service<S, C> {
    /// A settings patch whose payment method, if it sets one, belongs to this business and
    /// customer at the gateway: completed with the gateway customer (created when the patch
    /// names none), or refused with [`DomainError::PaymentMethodNotOwned`]. Without a gateway
    /// (none configured: nothing is ever charged) the patch must name the gateway customer, and
    /// the charge checks it once a gateway is configured.
    pub async fn check_payment_method<G: PaymentGateway>(
        &self,
        gateway: Option<&G>,
        tenant: &Tenant,
        customer_id: &CustomerId,
        mut patch: SettingsPatch,
    ) -> DomainResult<SettingsPatch> {
        let Some(Some(auto)) = patch.auto_top_up.as_mut() else {
            return Ok(patch);
        };
        let method = &mut auto.payment_method;
        let Some(gateway) = gateway else {
            if method.gateway_customer_id.is_empty() {
                return Err(ValidationError::new(
                    "invalid_auto_top_up",
                    "auto_top_up.payment_method.gateway_customer_id is required: no payment gateway is configured to create one",
                )
                .into());
            }
            return Ok(patch);
        };
        // The customer first (404), so that nothing is made at the gateway for none.
        self.wallets_of(tenant, customer_id).await?;
        let (business, customer) = (tenant.business_id.to_string(), customer_id.to_string());
        let owner = match gateway
            .payment_method_owner(&method.payment_method_id)
            .await
        {
            Ok(owner) => owner,
            Err(GatewayFailure::Unavailable(detail)) => {
                return Err(DomainError::GatewayUnavailable(detail))
            }
            Err(GatewayFailure::Refused(why)) => {
                tracing::warn!(%business, %customer, %why, "payment method refused by the gateway");
                return Err(DomainError::PaymentMethodNotOwned);
            }
        };
        if method.gateway_customer_id.is_empty() {
            match owner.as_ref().map(|o| &o.customer) {
                // Already saved to a gateway customer: taken if it is this customer's (below).
                Some(Some(attached)) => method.gateway_customer_id = attached.id.clone(),
                // Saved to no customer yet: a new gateway customer of this business and
                // customer takes it.
                Some(None) => {
                    let created = gateway
                        .create_customer(&business, &customer)
                        .await
                        .map_err(|failure| {
                            DomainError::GatewayUnavailable(format!(
                                "creating the gateway customer: {failure}"
                            ))
                        })?;
                    match gateway
                        .attach_payment_method(&method.payment_method_id, &created)
                        .await
                    {
                        Ok(()) => {}
                        Err(GatewayFailure::Unavailable(detail)) => {
                            return Err(DomainError::GatewayUnavailable(detail))
                        }
                        Err(GatewayFailure::Refused(why)) => {
                            tracing::warn!(%business, %customer, %why, "the gateway refused to save the payment method");
                            return Err(ValidationError::new(
                                "invalid_auto_top_up",
                                "the payment gateway refused to save the payment method for this customer (a declined card, or one it cannot keep)",
                            )
                            .into());
                        }
                    }
                    tracing::info!(%business, %customer, gateway_customer_id = %created, "gateway customer created for auto top-up");
                    method.gateway_customer_id = created;
                    return Ok(patch);
                }
                None => {}
            }
        }
        if let Err(why) = owned_by(
            owner.as_ref(),
            &method.gateway_customer_id,
            &business,
            &customer,
        ) {
            tracing::warn!(%business, %customer, %why, "payment method not owned by the wallet's business and customer: settings refused");
            return Err(DomainError::PaymentMethodNotOwned);
        }
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::adapters::memory::fixtures::World;
    use crate::topups::gateway::{
        ChargeLookup, ChargeOutcome, ChargeRequest, FoundCharge, GatewayCustomer,
        PaymentMethodOwner, OWNER_BUSINESS_METADATA_KEY, OWNER_CUSTOMER_METADATA_KEY,
    };
    use crate::topups::model::{AutoTopUp, PaymentMethod, TopUpAmount};

    /// An in-memory gateway: payment methods (and the customer each is attached to) and
    /// customers (their metadata). It charges nothing: these tests are about settings.
    #[derive(Default)]
    struct MemoryGateway {
        methods: Mutex<BTreeMap<String, Option<String>>>,
        customers: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    }

    impl MemoryGateway {
        fn card(&self, id: &str, customer: Option<&str>) {
            let customer = customer.map(str::to_owned);
            self.methods.lock().unwrap().insert(id.into(), customer);
        }

        fn customer(&self, id: &str, business: &str, wallet_customer: &str) {
            let metadata = [
                (OWNER_BUSINESS_METADATA_KEY.to_owned(), business.to_owned()),
                (
                    OWNER_CUSTOMER_METADATA_KEY.to_owned(),
                    wallet_customer.to_owned(),
                ),
            ];
            self.customers
                .lock()
                .unwrap()
                .insert(id.into(), metadata.into());
        }
    }

    impl PaymentGateway for MemoryGateway {
        async fn charge(&self, _: &ChargeRequest) -> ChargeOutcome {
            unreachable!("settings charge nothing")
        }

        async fn find(&self, _: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
            unreachable!("settings charge nothing")
        }

        async fn payment_method_owner(
            &self,
            payment_method_id: &str,
        ) -> Result<Option<PaymentMethodOwner>, GatewayFailure> {
            let methods = self.methods.lock().unwrap();
            let customers = self.customers.lock().unwrap();
            Ok(methods
                .get(payment_method_id)
                .map(|customer| PaymentMethodOwner {
                    payment_method_id: payment_method_id.to_owned(),
                    customer: customer.as_ref().map(|id| GatewayCustomer {
                        id: id.clone(),
                        metadata: customers.get(id).cloned().unwrap_or_default(),
                        deleted: false,
                    }),
                }))
        }

        async fn create_customer(
            &self,
            business_id: &str,
            customer_id: &str,
        ) -> Result<String, GatewayFailure> {
            let id = format!("cus_g{}", self.customers.lock().unwrap().len());
            self.customer(&id, business_id, customer_id);
            Ok(id)
        }

        async fn attach_payment_method(
            &self,
            payment_method_id: &str,
            gateway_customer_id: &str,
        ) -> Result<(), GatewayFailure> {
            self.card(payment_method_id, Some(gateway_customer_id));
            Ok(())
        }
    }

    fn patch(gateway_customer_id: &str, payment_method_id: &str) -> SettingsPatch {
        SettingsPatch {
            low_balance_threshold: None,
            auto_top_up: Some(Some(AutoTopUp {
                enabled: true,
                threshold: 100,
                amount: TopUpAmount::Fixed(500),
                payment_method: PaymentMethod {
                    gateway_customer_id: gateway_customer_id.into(),
                    payment_method_id: payment_method_id.into(),
                },
                max_per_day: 3,
                max_amount_per_day: 1_500,
                paused_reason: None,
            })),
        }
    }

    fn saved(patch: &SettingsPatch) -> &PaymentMethod {
        &patch
            .auto_top_up
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
            .payment_method
    }

    #[tokio::test]
    async fn settings_take_only_a_payment_method_of_this_business_and_customer() {
        let world = World::new().await;
        let service = &world.service;
        let (a, b) = (&world.tenant, &world.other_business().await);
        let a_customer = world.customer().await;
        let a_other = world.customer().await;
        let b_customer = service
            .create_customer(
                b,
                crate::adapters::memory::fixtures::new_customer("b@x.io", "B"),
            )
            .await
            .unwrap()
            .customer_id;
        let gateway = MemoryGateway::default();
        gateway.customer("cus_a", &a.business_id.to_string(), &a_customer.to_string());
        gateway.card("pm_a", Some("cus_a"));
        let check = |tenant, customer, patch| {
            service.check_payment_method(Some(&gateway), tenant, customer, patch)
        };

        // A's own.
        let ok = check(a, &a_customer, patch("cus_a", "pm_a")).await.unwrap();
        assert_eq!(saved(&ok).gateway_customer_id, "cus_a");
        // Named by B, or by A's other customer, with the gateway customer or without.
        for (tenant, customer) in [(b, &b_customer), (a, &a_other)] {
            for named in ["cus_a", ""] {
                let refused = check(tenant, customer, patch(named, "pm_a")).await;
                assert!(
                    matches!(refused, Err(DomainError::PaymentMethodNotOwned)),
                    "{refused:?}"
                );
            }
        }
        // Unknown ids, and a card attached to no customer named with a gateway customer.
        gateway.card("pm_loose", None);
        for (named, card) in [("cus_x", "pm_x"), ("cus_a", "pm_loose")] {
            let refused = check(a, &a_customer, patch(named, card)).await;
            assert!(matches!(refused, Err(DomainError::PaymentMethodNotOwned)));
        }

        // A card attached to no customer, sent without one: saved to a new gateway customer
        // whose metadata names the business and customer.
        let made = check(b, &b_customer, patch("", "pm_loose")).await.unwrap();
        let gateway_customer = saved(&made).gateway_customer_id.clone();
        assert!(gateway_customer.starts_with("cus_g"), "{gateway_customer}");
        let owner = gateway.payment_method_owner("pm_loose").await.unwrap();
        assert_eq!(
            crate::topups::gateway::owned_by(
                owner.as_ref(),
                &gateway_customer,
                &b.business_id.to_string(),
                &b_customer.to_string()
            ),
            Ok(())
        );
        // Then it is B's customer's: A cannot take it over.
        let refused = check(a, &a_customer, patch("", "pm_loose")).await;
        assert!(matches!(refused, Err(DomainError::PaymentMethodNotOwned)));

        // A customer that does not exist: 404 before anything at the gateway.
        let nobody = CustomerId::generate();
        let missing = check(a, &nobody, patch("", "pm_new")).await;
        assert!(matches!(missing, Err(DomainError::CustomerNotFound(_))));

        // Without a gateway: the gateway customer must be named (nothing is charged until a
        // gateway is configured, and the charge checks it then).
        let none: Option<&MemoryGateway> = None;
        let unchecked = service
            .check_payment_method(none, a, &a_customer, patch("cus_x", "pm_x"))
            .await;
        assert!(unchecked.is_ok());
        let refused = service
            .check_payment_method(none, a, &a_customer, patch("", "pm_x"))
            .await;
        assert!(
            matches!(refused, Err(DomainError::Invalid(ref v)) if v.code == "invalid_auto_top_up")
        );
    }
}
