//! The card top-up port of the fault-injecting store: each call may fail, stall or wait first,
//! as the store's faults say, then goes to the inner store.

use super::FaultyStore;
use crate::error::DomainResult;
use crate::kernel::paging::PageRequest as PayinPage;
use crate::kernel::{BusinessId, CustomerId};
use crate::payins::model::{CardTopUp, CardTopUpRef};
use crate::ports::PayinStore;

impl<S: PayinStore> PayinStore for FaultyStore<S> {
    async fn get_card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<Option<CardTopUp>> {
        self.before_call().await?;
        self.inner
            .get_card_top_up(business_id, customer_id, id)
            .await
    }

    async fn list_card_top_ups(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        page: PayinPage,
    ) -> DomainResult<Vec<CardTopUp>> {
        self.before_call().await?;
        self.inner
            .list_card_top_ups(business_id, customer_id, page)
            .await
    }

    async fn pending_card_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<CardTopUpRef>> {
        self.before_call().await?;
        self.inner.pending_card_top_ups(now_ms, limit).await
    }

    async fn gateway_event_seen(&self, event_id: &str) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.gateway_event_seen(event_id).await
    }

    async fn record_gateway_event(&self, event_id: &str, expires_s: u64) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner.record_gateway_event(event_id, expires_s).await
    }
}
