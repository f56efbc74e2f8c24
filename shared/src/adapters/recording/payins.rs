//! The recording store's pass-through of the card top-ups' and the portal's ports.

use super::RecordingStore;
use crate::error::DomainResult;
use crate::kernel::paging::PageRequest as PayinPage;
use crate::kernel::{BusinessId, CustomerId, Timestamp};
use crate::payins::model::{CardTopUp, CardTopUpRef};
use crate::portal::model::PortalSettings;
use crate::ports::{PayinStore, PortalStore};

impl<S: PayinStore> PayinStore for RecordingStore<S> {
    async fn get_card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<Option<CardTopUp>> {
        self.note("get_card_top_up");
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
        self.note("list_card_top_ups");
        self.inner
            .list_card_top_ups(business_id, customer_id, page)
            .await
    }

    async fn pending_card_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<CardTopUpRef>> {
        self.note("pending_card_top_ups");
        self.inner.pending_card_top_ups(now_ms, limit).await
    }

    async fn gateway_event_seen(&self, event_id: &str) -> DomainResult<bool> {
        self.note("gateway_event_seen");
        self.inner.gateway_event_seen(event_id).await
    }

    async fn record_gateway_event(&self, event_id: &str, expires_s: u64) -> DomainResult<bool> {
        self.note("record_gateway_event");
        self.inner.record_gateway_event(event_id, expires_s).await
    }
}

impl<S: PortalStore> PortalStore for RecordingStore<S> {
    async fn get_portal_settings(
        &self,
        business_id: &BusinessId,
    ) -> DomainResult<Option<PortalSettings>> {
        self.note("get_portal_settings");
        self.inner.get_portal_settings(business_id).await
    }

    async fn put_portal_settings(
        &self,
        business_id: &BusinessId,
        settings: &PortalSettings,
    ) -> DomainResult<bool> {
        self.note("put_portal_settings");
        self.inner.put_portal_settings(business_id, settings).await
    }

    async fn portal_revoked_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Timestamp>> {
        self.note("portal_revoked_at");
        self.inner.portal_revoked_at(business_id, customer_id).await
    }

    async fn revoke_portal(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> DomainResult<()> {
        self.note("revoke_portal");
        self.inner.revoke_portal(business_id, customer_id, at).await
    }

    async fn take_attempt(
        &self,
        scope: &str,
        window: u64,
        limit: u32,
        expires_s: u64,
    ) -> DomainResult<bool> {
        self.note("take_attempt");
        self.inner
            .take_attempt(scope, window, limit, expires_s)
            .await
    }
}
