//! Top-up link reads through the fault injector.

use super::FaultyStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, CustomerId, TopUpLinkId};
use crate::payins::links::{TopUpLink, TopUpLinkQuery, TopUpLinkRef};
use crate::ports::TopUpLinkStore;

impl<S: TopUpLinkStore> TopUpLinkStore for FaultyStore<S> {
    async fn get_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &TopUpLinkId,
    ) -> DomainResult<Option<TopUpLink>> {
        self.before_call().await?;
        self.inner.get_top_up_link(business_id, link_id).await
    }

    async fn list_top_up_links(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &TopUpLinkQuery,
    ) -> DomainResult<Vec<TopUpLink>> {
        self.before_call().await?;
        self.inner
            .list_top_up_links(business_id, customer_id, query)
            .await
    }

    async fn expired_top_up_links(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<TopUpLinkRef>> {
        self.before_call().await?;
        self.inner.expired_top_up_links(now_ms, limit).await
    }
}
