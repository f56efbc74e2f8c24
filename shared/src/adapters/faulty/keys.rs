//! The key and session port of the fault-injecting store: each call may fail, stall or wait
//! first, as the store's faults say, then goes to the inner store.

use super::FaultyStore;
use crate::access::model::{ApiKey, FormClaim, Session};
use crate::error::DomainResult;
use crate::kernel::{BusinessId, Timestamp};
use crate::ports::KeyStore;

impl<S: KeyStore> KeyStore for FaultyStore<S> {
    async fn key_by_hash(&self, key_hash: &str) -> DomainResult<Option<ApiKey>> {
        self.before_call().await?;
        self.inner.key_by_hash(key_hash).await
    }

    async fn list_keys(&self, business_id: &BusinessId) -> DomainResult<Vec<ApiKey>> {
        self.before_call().await?;
        self.inner.list_keys(business_id).await
    }

    async fn touch_key(&self, key_hash: &str, now: Timestamp, every_ms: u64) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.touch_key(key_hash, now, every_ms).await
    }

    async fn end_key(&self, key_hash: &str, at: Timestamp, revoke: bool) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.end_key(key_hash, at, revoke).await
    }

    async fn put_session(&self, session: &Session) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.put_session(session).await
    }

    async fn session_by_hash(&self, id_hash: &str) -> DomainResult<Option<Session>> {
        self.before_call().await?;
        self.inner.session_by_hash(id_hash).await
    }

    async fn touch_session(&self, session: &Session, every_ms: u64) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.touch_session(session, every_ms).await
    }

    async fn end_session(&self, id_hash: &str) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.end_session(id_hash).await
    }

    async fn claim_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        expires_s: u64,
    ) -> DomainResult<FormClaim> {
        self.before_call().await?;
        self.inner.claim_form(business_id, key, expires_s).await
    }

    async fn finish_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        result: &str,
    ) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.finish_form(business_id, key, result).await
    }

    async fn release_form(&self, business_id: &BusinessId, key: &str) -> DomainResult<()> {
        self.before_call().await?;
        self.inner.release_form(business_id, key).await
    }
}
