//! The service's side of [`PortalBackend`]: each method is one call of issue 21's domain
//! operation of the same name (H-portal's `open_portal`, `portal_settings`, `take_attempt`;
//! H-pay's `prepare_card_top_up`, `start_card_top_up`, `get_card_top_up`, `list_card_top_ups`;
//! H-links' `top_up_link_by_token`, `claim_top_up_link`, `release_top_up_link`) and the mapping
//! of its answer to the pages' view.
//!
//! GLUE (to wire at merge): H-pay's card top-ups and H-portal's session, settings and attempts
//! are wired; until H-links' operations are on this branch, their methods answer [`not_wired`]
//! (503), so the link pages compile and refuse; the handler tests run the pages on a fake
//! backend (`tests.rs`).

use shared::access::model::Tenant;
use shared::kernel::{Clock, Currency, CustomerId};
use shared::payins::limits::TopUpLimits;
use shared::ports::Store;
use shared::{DomainError, DomainResult, Service};

use shared::adapters::stripe::StripeGateway;
use shared::kernel::paging::PageRequest;
use shared::payins::model::{CardTopUp, CardTopUpStatus};

use super::backend::{
    CardSetup, LinkView, PortalBackend, PortalClaims, StartTopUp, TopUpStatus, TopUpView,
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
        created_at: top_up.created_at,
    }
}

/// The answer of an operation not wired yet.
fn not_wired(operation: &str) -> DomainError {
    DomainError::Unavailable(format!("{operation} is not wired to the portal yet"))
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

    async fn top_up_link_by_token(&self, _token: &str) -> DomainResult<LinkView> {
        // GLUE (H-links): the link whatever its status (the page shows a used, expired or
        // cancelled link's own page, and `?top_up=` a paid link's top-up), so NOT H-links'
        // `top_up_link_by_token`, which refuses an ended link. With i21-links merged:
        //   let not_found = || DomainError::TopUpLinkNotFound("named by this token".into());
        //   let (business_id, link_id) = <the link token's check: H-links' links_url::verify
        //       or H-portal's self.verify_link_token(token), whichever the merge keeps>
        //       .ok_or_else(not_found)?;
        //   let link = self.store().get_top_up_link(&business_id, &link_id).await?
        //       .ok_or_else(not_found)?;
        //   Ok(LinkView { id: link.id.to_string(), business_id, business_name: None,
        //       customer_id: link.customer_id, currency: link.currency, amount: link.amount,
        //       min_amount: link.min_amount, max_amount: link.max_amount, reason: link.reason,
        //       status: <TopUpLinkStatus::Active|Paid|Cancelled|Expired -> LinkStatus>,
        //       expires_at: link.expires_at })
        // (business_name: no read of a business exists in the store; the page names the
        // business when it is Some.)
        Err(not_wired("top_up_link_by_token"))
    }

    async fn claim_top_up_link(
        &self,
        _link: &LinkView,
        _top_up_id: &str,
        _amount: i64,
    ) -> DomainResult<()> {
        // GLUE (H-links): self.claim_top_up_link(&link.business_id,
        //     &TopUpLinkId::parse(&link.id)?, top_up_id, amount).await.map(drop)
        Err(not_wired("claim_top_up_link"))
    }

    async fn release_top_up_link(&self, _link: &LinkView, _top_up_id: &str) -> DomainResult<()> {
        // GLUE (H-links): self.release_top_up_link(&link.business_id,
        //     &TopUpLinkId::parse(&link.id)?, top_up_id).await.map(drop)
        Err(not_wired("release_top_up_link"))
    }
}
