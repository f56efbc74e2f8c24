//! A card top-up from the customer's side: set up a card (a SetupIntent for Stripe.js), start
//! the top-up (write it pending, then charge the card), read it back. Nothing here credits: the
//! wallet is credited only by `settle.rs`, when the gateway says the payment succeeded.

use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::customers::model::CustomerPatch;
use crate::error::{DomainError, DomainResult};
use crate::kernel::paging::PageRequest;
use crate::kernel::{Amount, Clock, CustomerId, ValidationError};
use crate::ledger::model::WalletStatus;
use crate::ledger::rules::wallet_of;
use crate::ports::Store;
use crate::service::Service;
use crate::topups::gateway::{
    owned_by, ChargeOutcome, ChargeRequest, GatewayFailure, OWNER_BUSINESS_METADATA_KEY,
    OWNER_CUSTOMER_METADATA_KEY,
};

use super::gateway::CardGateway;
use super::model::{
    CardSetup, CardTopUp, CardTopUpStatus, StartCardTopUp, CARD_TOP_UP_METADATA_KEY,
};

/// A gateway failure as the domain's error: unavailable (503, retry), or a refusal that says
/// nothing about which id exists.
pub(super) fn gateway_error(failure: GatewayFailure, what: &str) -> DomainError {
    match failure {
        GatewayFailure::Unavailable(detail) => DomainError::GatewayUnavailable(detail),
        GatewayFailure::Refused(why) => {
            tracing::warn!(%why, what, "the gateway refused a card top-up request");
            card_setup_invalid()
        }
    }
}

fn card_setup_invalid() -> DomainError {
    ValidationError::new(
        "card_setup_invalid",
        "the card was not set up for this customer: set it up again (confirmCardSetup) and retry",
    )
    .into()
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Makes sure the customer has a gateway customer whose metadata names the business and the
    /// customer (created and saved on the customer when it has none), and creates a SetupIntent
    /// for it: its client secret is what Stripe.js's `confirmCardSetup` takes.
    pub async fn prepare_card_top_up<G: CardGateway>(
        &self,
        gateway: &G,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<CardSetup> {
        let customer = self.get_customer(tenant, customer_id).await?;
        let (business, wallet_customer) = (tenant.business_id.as_str(), customer_id.as_str());
        // The customer's gateway customer, if its metadata names this business and customer (a
        // business may have named another's: the card must never be saved there).
        let mut owned = None;
        if let Some(id) = customer.gateway_customer_id.clone() {
            let found = gateway
                .gateway_customer(&id)
                .await
                .map_err(|f| gateway_error(f, "read the gateway customer"))?;
            let named = |key: &str| {
                found
                    .as_ref()
                    .and_then(|c| c.metadata.get(key))
                    .map(String::as_str)
            };
            if found.as_ref().is_some_and(|c| !c.deleted)
                && named(OWNER_BUSINESS_METADATA_KEY) == Some(business)
                && named(OWNER_CUSTOMER_METADATA_KEY) == Some(wallet_customer)
            {
                owned = Some(id);
            } else {
                tracing::warn!(%business, customer = %wallet_customer, gateway_customer_id = %id, "the customer's gateway customer is not theirs at the gateway: a card top-up uses a new one");
            }
        }
        let gateway_customer_id = match owned {
            Some(id) => id,
            None => {
                let created = gateway
                    .create_customer(business, wallet_customer)
                    .await
                    .map_err(|f| gateway_error(f, "create the gateway customer"))?;
                // Saved on the customer only where it had none (issue 22's saved cards keep
                // the one they were checked against).
                if customer.gateway_customer_id.is_none() {
                    let patch = CustomerPatch {
                        gateway_customer_id: Some(Some(created.clone())),
                        ..CustomerPatch::default()
                    };
                    self.update_customer(tenant, customer_id, patch).await?;
                }
                created
            }
        };
        let setup = gateway
            .create_setup_intent(&gateway_customer_id)
            .await
            .map_err(|f| gateway_error(f, "create a SetupIntent"))?;
        Ok(CardSetup {
            client_secret: setup.client_secret,
            setup_intent_id: setup.id,
            gateway_customer_id,
        })
    }

    /// Starts a card top-up: checks the limits against the wallet's balance, takes the card from
    /// the gateway's SetupIntent (it must be this customer's there), writes the top-up pending
    /// (a second call with the same id answers the first one's record and charges nothing new),
    /// then creates and confirms the PaymentIntent (idempotency key: the top-up's id). A decline
    /// marks it failed; a success leaves it pending until settled (webhook or sweep).
    pub async fn start_card_top_up<G: CardGateway>(
        &self,
        gateway: &G,
        tenant: &Tenant,
        customer_id: &CustomerId,
        start: StartCardTopUp,
    ) -> DomainResult<CardTopUp> {
        CardTopUp::check_id(&start.id)?;
        start.limits.validate()?;
        let amount = Amount::new(start.amount)?;
        let business_id = &tenant.business_id;
        if let Some(existing) = self
            .store()
            .get_card_top_up(business_id, customer_id, &start.id)
            .await?
        {
            return Ok(existing);
        }
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let wallet = wallet_of(&wallets, start.currency)?;
        if wallet.status == WalletStatus::Closed {
            return Err(DomainError::WalletClosed {
                currency: start.currency.code().to_owned(),
            });
        }
        // Top-ups still pending count toward the balance they may bring (the newest 100: a
        // pending one is at most an hour old).
        let pending: i64 = self
            .store()
            .list_card_top_ups(
                business_id,
                customer_id,
                PageRequest::parse(None, Some(100))?,
            )
            .await?
            .iter()
            .filter(|t| t.status == CardTopUpStatus::Pending && t.currency == start.currency)
            .map(|t| t.amount)
            .sum();
        start
            .limits
            .check(start.amount, wallet.balance.saturating_add(pending))?;

        // The card comes from the gateway, never from the browser.
        let setup = gateway
            .setup_intent(&start.setup_intent_id)
            .await
            .map_err(|f| gateway_error(f, "read the SetupIntent"))?
            .ok_or_else(card_setup_invalid)?;
        let (Some(gateway_customer_id), Some(payment_method_id)) =
            (setup.customer.clone(), setup.payment_method.clone())
        else {
            return Err(card_setup_invalid());
        };
        if setup.status != "succeeded" {
            return Err(ValidationError::new(
                "card_setup_incomplete",
                "the card was declined or not confirmed when it was set up; nothing was charged",
            )
            .into());
        }
        self.card_of_customer(
            gateway,
            tenant,
            customer_id,
            &gateway_customer_id,
            &payment_method_id,
        )
        .await?;

        let now = self.now();
        let top_up = CardTopUp {
            id: start.id.clone(),
            business_id: business_id.clone(),
            customer_id: customer_id.clone(),
            currency: start.currency,
            amount: start.amount,
            status: CardTopUpStatus::Pending,
            gateway_customer_id,
            payment_method_id,
            payment_intent_id: None,
            decline_code: None,
            message: None,
            source: start.source.clone(),
            save_card: start.save_card,
            entry_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let fresh = &top_up;
        let (written, mine) = self
            .change(business_id, None, |_| async move {
                match self
                    .store()
                    .get_card_top_up(business_id, customer_id, &fresh.id)
                    .await?
                {
                    Some(existing) => Ok(Plan::Answer((existing, false))),
                    None => Ok(Plan::Commit(
                        vec![Write::NewCardTopUp(fresh.clone())],
                        (fresh.clone(), true),
                    )),
                }
            })
            .await?;
        if !mine {
            return Ok(written);
        }

        let request = ChargeRequest {
            amount,
            currency: top_up.currency,
            gateway_customer_id: top_up.gateway_customer_id.clone(),
            payment_method_id: top_up.payment_method_id.clone(),
            business_id: business_id.to_string(),
            customer_id: customer_id.to_string(),
            attempt_id: top_up.id.clone(),
            attempt_started_at: top_up.created_at,
            idempotency_key: top_up.id.clone(),
            description: format!("Wallet top-up ({})", top_up.currency),
            metadata: [
                (CARD_TOP_UP_METADATA_KEY.to_owned(), top_up.id.clone()),
                ("business_id".to_owned(), business_id.to_string()),
                ("customer_id".to_owned(), customer_id.to_string()),
            ]
            .into(),
        };
        match gateway.charge(&request).await {
            ChargeOutcome::Succeeded { payment_intent_id } => {
                // Not credited here: the webhook (or the sweep) settles it.
                self.note_payment_intent(&top_up, &payment_intent_id).await
            }
            ChargeOutcome::Declined {
                payment_intent_id,
                decline_code,
                message,
            } => {
                self.fail_card_top_up(&top_up, payment_intent_id, &decline_code, &message)
                    .await
            }
            ChargeOutcome::Unknown { error } => {
                tracing::warn!(top_up = %top_up.id, %error, "card top-up charge outcome unknown; the sweep reconciles it");
                Ok(top_up)
            }
        }
    }

    /// The card must be this customer's at the gateway: a card attached to no customer yet (a
    /// SetupIntent confirmed where the gateway does not attach it: localstripe) is attached to
    /// the SetupIntent's customer first; then the gateway customer's metadata must name this
    /// business and customer (`topups::gateway::owned_by`).
    async fn card_of_customer<G: CardGateway>(
        &self,
        gateway: &G,
        tenant: &Tenant,
        customer_id: &CustomerId,
        gateway_customer_id: &str,
        payment_method_id: &str,
    ) -> DomainResult<()> {
        let owner = || async {
            gateway
                .payment_method_owner(payment_method_id)
                .await
                .map_err(|f| gateway_error(f, "read the card's owner"))
        };
        let mut found = owner().await?;
        if found.as_ref().is_some_and(|o| o.customer.is_none()) {
            gateway
                .attach_payment_method(payment_method_id, gateway_customer_id)
                .await
                .map_err(|f| gateway_error(f, "attach the card"))?;
            found = owner().await?;
        }
        owned_by(
            found.as_ref(),
            gateway_customer_id,
            tenant.business_id.as_str(),
            customer_id.as_str(),
        )
        .map_err(|why| {
            tracing::warn!(business = %tenant.business_id, customer = %customer_id, %why, "a card top-up named a card that is not this customer's");
            card_setup_invalid()
        })
    }

    /// A top-up of this customer.
    pub async fn get_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<CardTopUp> {
        self.store()
            .get_card_top_up(&tenant.business_id, customer_id, id)
            .await?
            .ok_or_else(|| DomainError::CardTopUpNotFound(id.to_owned()))
    }

    /// The customer's top-ups, newest first.
    pub async fn list_card_top_ups(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        page: PageRequest,
    ) -> DomainResult<Vec<CardTopUp>> {
        self.store()
            .list_card_top_ups(&tenant.business_id, customer_id, page)
            .await
    }
}
