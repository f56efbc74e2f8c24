//! The portal's store calls on a [`FaultyStore`]: the same faults before each call as every
//! other port.

use super::faulty::FaultyStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, CustomerId, Timestamp};
use crate::portal::model::PortalSettings;
use crate::ports::PortalStore;

impl<S: PortalStore> PortalStore for FaultyStore<S> {
    async fn get_portal_settings(
        &self,
        business_id: &BusinessId,
    ) -> DomainResult<Option<PortalSettings>> {
        self.before_call().await?;
        self.inner().get_portal_settings(business_id).await
    }

    async fn put_portal_settings(
        &self,
        business_id: &BusinessId,
        settings: &PortalSettings,
    ) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner()
            .put_portal_settings(business_id, settings)
            .await
    }

    async fn portal_revoked_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Timestamp>> {
        self.before_call().await?;
        self.inner()
            .portal_revoked_at(business_id, customer_id)
            .await
    }

    async fn revoke_portal(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> DomainResult<()> {
        self.before_call().await?;
        self.inner()
            .revoke_portal(business_id, customer_id, at)
            .await
    }

    async fn take_attempt(
        &self,
        scope: &str,
        window: u64,
        limit: u32,
        expires_s: u64,
    ) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner()
            .take_attempt(scope, window, limit, expires_s)
            .await
    }
}
