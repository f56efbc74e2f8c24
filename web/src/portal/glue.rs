//! The service's side of [`PortalBackend`]: each method is one call of issue 21's domain
//! operation of the same name (H-portal's `open_portal`, `portal_settings`, `take_attempt`;
//! H-pay's `prepare_card_top_up`, `start_card_top_up`, `get_card_top_up`, `list_card_top_ups`;
//! H-links' `top_up_link_by_token`, `claim_top_up_link`, `release_top_up_link`) and the mapping
//! of its answer to the pages' view.
//!
//! GLUE (to wire at merge): until those operations are on this branch, every method answers
//! [`not_wired`] (503), so the portal's pages compile and refuse; the handler tests run the pages
//! on a fake backend (`tests.rs`).

use shared::access::model::Tenant;
use shared::kernel::{Clock, Currency, CustomerId};
use shared::payins::limits::TopUpLimits;
use shared::ports::Store;
use shared::{DomainError, DomainResult, Service};

use super::backend::{CardSetup, LinkView, PortalBackend, PortalClaims, StartTopUp, TopUpView};

/// The answer of an operation not wired yet.
fn not_wired(operation: &str) -> DomainError {
    DomainError::Unavailable(format!("{operation} is not wired to the portal yet"))
}

impl<S: Store, C: Clock> PortalBackend for Service<S, C> {
    async fn open_portal(&self, _token: &str) -> DomainResult<PortalClaims> {
        // let c = self.open_portal(token).await?;
        // Ok(PortalClaims { business_id: c.business_id, customer_id: c.customer_id,
        //     return_url: c.return_url, expires_at: c.expires_at })
        Err(not_wired("open_portal"))
    }

    async fn take_attempt(&self, _scope: &str, _limit: u32, _window_secs: u64) -> DomainResult<()> {
        // self.take_attempt(scope, limit, window_secs).await
        Err(not_wired("take_attempt"))
    }

    async fn top_up_limits(
        &self,
        _tenant: &Tenant,
        currency: Currency,
    ) -> DomainResult<TopUpLimits> {
        // Ok(self.portal_settings(tenant).await?.limits_for(currency))
        let _ = TopUpLimits::default_for(currency);
        Err(not_wired("portal_settings"))
    }

    async fn prepare_card_top_up(
        &self,
        _tenant: &Tenant,
        _customer_id: &CustomerId,
    ) -> DomainResult<CardSetup> {
        // let gateway = self.stripe().map_err(DomainError::GatewayUnavailable)?
        //     .ok_or_else(|| DomainError::GatewayUnavailable("no gateway configured".into()))?;
        // let s = self.prepare_card_top_up(gateway, tenant, customer_id).await?;
        // Ok(CardSetup { client_secret: s.client_secret, setup_intent_id: s.setup_intent_id })
        Err(not_wired("prepare_card_top_up"))
    }

    async fn start_card_top_up(
        &self,
        _tenant: &Tenant,
        _customer_id: &CustomerId,
        _start: StartTopUp,
    ) -> DomainResult<TopUpView> {
        // self.start_card_top_up(gateway, tenant, customer_id, shared::payins::StartCardTopUp {
        //     id, currency, amount, setup_intent_id, source (Portal | Link { link_id }),
        //     save_card, limits }).await.map(view)
        Err(not_wired("start_card_top_up"))
    }

    async fn get_card_top_up(
        &self,
        _tenant: &Tenant,
        _customer_id: &CustomerId,
        _id: &str,
    ) -> DomainResult<TopUpView> {
        // self.get_card_top_up(tenant, customer_id, id).await.map(view)
        Err(not_wired("get_card_top_up"))
    }

    async fn list_card_top_ups(
        &self,
        _tenant: &Tenant,
        _customer_id: &CustomerId,
    ) -> DomainResult<Vec<TopUpView>> {
        // self.list_card_top_ups(tenant, customer_id, first page of 10).await, each view(..)
        Err(not_wired("list_card_top_ups"))
    }

    async fn top_up_link_by_token(&self, _token: &str) -> DomainResult<LinkView> {
        // self.top_up_link_by_token(token).await.map(link view) (the link whatever its status)
        Err(not_wired("top_up_link_by_token"))
    }

    async fn claim_top_up_link(
        &self,
        _link: &LinkView,
        _top_up_id: &str,
        _amount: i64,
    ) -> DomainResult<()> {
        // self.claim_top_up_link(&link.business_id, &link.id, top_up_id, amount).await.map(drop)
        Err(not_wired("claim_top_up_link"))
    }

    async fn release_top_up_link(&self, _link: &LinkView, _top_up_id: &str) -> DomainResult<()> {
        // self.release_top_up_link(link, top_up_id).await
        Err(not_wired("release_top_up_link"))
    }
}
