//! The recording store's pass-through of the top-up links' port.

use super::RecordingStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, CustomerId};

impl<S: crate::ports::TopUpLinkStore> crate::ports::TopUpLinkStore for RecordingStore<S> {
    async fn get_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &crate::kernel::TopUpLinkId,
    ) -> DomainResult<Option<crate::payins::links::TopUpLink>> {
        self.note("get_top_up_link");
        self.inner.get_top_up_link(business_id, link_id).await
    }

    async fn list_top_up_links(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &crate::payins::links::TopUpLinkQuery,
    ) -> DomainResult<Vec<crate::payins::links::TopUpLink>> {
        self.note("list_top_up_links");
        self.inner
            .list_top_up_links(business_id, customer_id, query)
            .await
    }

    async fn expired_top_up_links(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<crate::payins::links::TopUpLinkRef>> {
        self.note("expired_top_up_links");
        self.inner.expired_top_up_links(now_ms, limit).await
    }
}
