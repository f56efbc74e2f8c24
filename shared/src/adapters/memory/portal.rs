//! The portal's records, as `adapters::dynamo::portal` keeps them: settings per business (written
//! on condition of their version), a revocation instant per customer (never moving back), and
//! attempt counters per scope and window (taken while below the limit).

use std::collections::HashMap;

use super::MemoryStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, CustomerId, Timestamp};
use crate::portal::model::PortalSettings;
use crate::ports::PortalStore;

#[derive(Default)]
pub(super) struct PortalTables {
    settings: HashMap<BusinessId, PortalSettings>,
    revoked: HashMap<(BusinessId, CustomerId), Timestamp>,
    attempts: HashMap<(String, u64), u32>,
}

impl PortalStore for MemoryStore {
    async fn get_portal_settings(
        &self,
        business_id: &BusinessId,
    ) -> DomainResult<Option<PortalSettings>> {
        tokio::task::yield_now().await;
        Ok(self.lock().portal.settings.get(business_id).cloned())
    }

    async fn put_portal_settings(
        &self,
        business_id: &BusinessId,
        settings: &PortalSettings,
    ) -> DomainResult<bool> {
        tokio::task::yield_now().await;
        let mut state = self.lock();
        let stored = state
            .portal
            .settings
            .get(business_id)
            .map_or(0, |s| s.version);
        if stored + 1 != settings.version {
            return Ok(false);
        }
        state
            .portal
            .settings
            .insert(business_id.clone(), settings.clone());
        Ok(true)
    }

    async fn portal_revoked_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Timestamp>> {
        tokio::task::yield_now().await;
        let key = (business_id.clone(), customer_id.clone());
        Ok(self.lock().portal.revoked.get(&key).copied())
    }

    async fn revoke_portal(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> DomainResult<()> {
        tokio::task::yield_now().await;
        let key = (business_id.clone(), customer_id.clone());
        let mut state = self.lock();
        let revoked = state.portal.revoked.entry(key).or_insert(at);
        *revoked = (*revoked).max(at);
        Ok(())
    }

    async fn take_attempt(
        &self,
        scope: &str,
        window: u64,
        limit: u32,
        _expires_s: u64,
    ) -> DomainResult<bool> {
        tokio::task::yield_now().await;
        let mut state = self.lock();
        let taken = state
            .portal
            .attempts
            .entry((scope.to_owned(), window))
            .or_default();
        if *taken >= limit {
            return Ok(false);
        }
        *taken += 1;
        Ok(true)
    }
}
