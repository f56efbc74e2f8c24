//! The service's side of [`PortalBackend`]: each method is one call of issue 21's domain
//! operation of the same name (H-portal's `open_portal`, `portal_settings`, `take_attempt`;
//! H-pay's `prepare_card_top_up`, `start_card_top_up`, `get_card_top_up`, `list_card_top_ups`;
//! H-links' `claim_top_up_link`, `release_top_up_link`, and the link read by its token) and the
//! mapping of its answer to the pages' view.
//!
//! The handler tests run the pages on a fake backend instead (`tests.rs`); the DynamoDB tests
//! (`tests/tests/portal_pages.rs`) on this one.

use shared::access::model::Tenant;
use shared::adapters::stripe::StripeGateway;
use shared::kernel::paging::PageRequest;
use shared::kernel::{Clock, Currency, CustomerId, TopUpLinkId};
use shared::payins::limits::TopUpLimits;
use shared::payins::links::{TopUpLink, TopUpLinkStatus};
use shared::payins::links_url;
use shared::payins::model::{CardTopUp, CardTopUpStatus};
use shared::ports::Store;
use shared::{DomainError, DomainResult, Service};

use super::backend::{
    CardSetup, LinkStatus, LinkView, PortalBackend, PortalClaims, StartTopUp, TopUpSource,
    TopUpStatus, TopUpView,
};

/// The portal's list of a customer's latest top-ups.
const TOP_UPS_SHOWN: i64 = 10;

/// The configured payment gateway: the portal takes cards only with one.
fn gateway<S: Store, C: Clock>(app: &Service<S, C>) -> DomainResult<&StripeGateway> {
    app.stripe()
        .map_err(|e| {
            DomainError::GatewayUnavailable(format!("payment gateway configuration: {e}"))
        })?
        .ok_or_else(|| DomainError::GatewayUnavailable("no payment gateway is configured".into()))
}

/// A top-up as the customer may see it.
fn view(top_up: CardTopUp) -> TopUpView {
    TopUpView {
        status: match top_up.status {
            CardTopUpStatus::Pending => TopUpStatus::Pending,
            CardTopUpStatus::Succeeded => TopUpStatus::Succeeded,
            CardTopUpStatus::Failed => TopUpStatus::Failed,
        },
        id: top_up.id,
        customer_id: top_up.customer_id,
        currency: top_up.currency,
        amount: top_up.amount,
        message: top_up.message,
        link_id: match top_up.source {
            TopUpSource::Link { link_id } => Some(link_id),
            TopUpSource::Portal => None,
        },
        created_at: top_up.created_at,
    }
}

impl<S: Store, C: Clock> PortalBackend for Service<S, C> {
    async fn open_portal(&self, token: &str) -> DomainResult<PortalClaims> {
        let claims = self.open_portal(token).await?;
        Ok(PortalClaims {
            business_id: claims.business_id,
            customer_id: claims.customer_id,
            return_url: claims.return_url,
            expires_at: claims.expires_at,
        })
    }

    async fn take_attempt(&self, scope: &str, limit: u32, window_secs: u64) -> DomainResult<()> {
        self.take_attempt(scope, limit, window_secs).await
    }

    async fn top_up_limits(
        &self,
        tenant: &Tenant,
        currency: Currency,
    ) -> DomainResult<TopUpLimits> {
        Ok(self.portal_settings(tenant).await?.limits_for(currency))
    }

    async fn prepare_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<CardSetup> {
        let setup = self
            .prepare_card_top_up(gateway(self)?, tenant, customer_id)
            .await?;
        Ok(CardSetup {
            client_secret: setup.client_secret,
            setup_intent_id: setup.setup_intent_id,
        })
    }

    async fn start_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        start: StartTopUp,
    ) -> DomainResult<TopUpView> {
        self.start_card_top_up(gateway(self)?, tenant, customer_id, start)
            .await
            .map(view)
    }

    async fn get_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<TopUpView> {
        self.get_card_top_up(tenant, customer_id, id)
            .await
            .map(view)
    }

    async fn list_card_top_ups(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<Vec<TopUpView>> {
        let page = PageRequest::parse(Some(0), Some(TOP_UPS_SHOWN))?;
        let top_ups = self.list_card_top_ups(tenant, customer_id, page).await?;
        Ok(top_ups.into_iter().map(view).collect())
    }

    async fn top_up_link_by_token(&self, token: &str) -> DomainResult<LinkView> {
        // The link whatever its status (the page shows a used, expired or cancelled link's own
        // page, and `?top_up=` a paid link's top-up): not `Service::top_up_link_by_token`, which
        // refuses an ended link.
        let not_found = || DomainError::TopUpLinkNotFound("named by this token".to_owned());
        let key = self
            .config()
            .portal
            .signing_key
            .as_ref()
            .ok_or_else(not_found)?;
        let (business_id, link_id) = links_url::verify(key, token).ok_or_else(not_found)?;
        let link = self
            .store()
            .get_top_up_link(&business_id, &link_id)
            .await?
            .ok_or_else(not_found)?;
        let business_name = self.store().business_name(&link.business_id).await?;
        Ok(link_view(link, business_name))
    }

    async fn claim_top_up_link(
        &self,
        link: &LinkView,
        top_up_id: &str,
        amount: i64,
    ) -> DomainResult<()> {
        let id = TopUpLinkId::parse(&link.id)?;
        self.claim_top_up_link(&link.business_id, &id, top_up_id, amount)
            .await
            .map(drop)
    }

    async fn release_top_up_link(&self, link: &LinkView, top_up_id: &str) -> DomainResult<()> {
        let id = TopUpLinkId::parse(&link.id)?;
        self.release_top_up_link(&link.business_id, &id, top_up_id)
            .await
            .map(drop)
    }
}

/// A link as its page shows it, with the business's name.
fn link_view(link: TopUpLink, business_name: Option<String>) -> LinkView {
    LinkView {
        id: link.id.to_string(),
        business_name,
        customer_id: link.customer_id,
        currency: link.currency,
        amount: link.amount,
        min_amount: link.min_amount,
        max_amount: link.max_amount,
        reason: link.reason,
        status: match link.status {
            TopUpLinkStatus::Active => LinkStatus::Active,
            TopUpLinkStatus::Paid => LinkStatus::Paid,
            TopUpLinkStatus::Cancelled => LinkStatus::Cancelled,
            TopUpLinkStatus::Expired => LinkStatus::Expired,
        },
        expires_at: link.expires_at,
        business_id: link.business_id,
    }
}
