//! Dashboard sessions. A business's staff sign in with one of its API keys; the browser then
//! holds only a random session id (in an HttpOnly cookie), and the table holds the session under
//! the id's SHA-256, with the hash of the key it was opened with. Every request re-checks that
//! key through the same cache as the API (`cache.rs`), so revoking or expiring the key ends its
//! sessions within the cache's bound. A session ends after [`SESSION_IDLE_MS`] without use (the
//! table's TTL removes the item later; the check here does not wait for it).

pub use super::model::Session;
use super::model::{ApiKey, Tenant};
use super::rules::{hash_key, random_hex};
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, Timestamp};
use crate::ports::Store;
use crate::service::Service;

/// A session ends after 8 hours without a request.
pub const SESSION_IDLE_MS: u64 = 8 * 3_600 * 1_000;
/// How often a session's last use is written at most (not once per page).
pub const SESSION_TOUCH_EVERY_MS: u64 = 60_000;
/// Length of a session id's random part: 64 hex digits (256 random bits). The id is
/// `<business id>.<random part>`.
const SESSION_ID_LENGTH: usize = 64;

impl Session {
    /// The session's name in audit records (`created_by.session_id`): the start of the id's
    /// hash, which identifies the session without opening it.
    pub fn label(&self) -> String {
        format!("ses_{}", &self.id_hash[..16.min(self.id_hash.len())])
    }

    /// Whether the session is still open at `now`.
    pub fn open_at(&self, now: Timestamp) -> bool {
        self.seen_at.unix_ms + SESSION_IDLE_MS > now.unix_ms
    }

    /// When the table may delete the item (epoch seconds): the idle limit after the last use.
    pub fn expires_at_s(&self) -> u64 {
        (self.seen_at.unix_ms + SESSION_IDLE_MS) / 1_000 + 1
    }
}

/// A request of an open session: its business, its key (re-checked), the session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub tenant: Tenant,
    pub key: ApiKey,
    pub session: Session,
}

/// The business a session id names and its random part, if it can be one of ours:
/// `<business id>.<64 hex digits>`.
fn parts(session_id: Option<&str>) -> Option<(BusinessId, &str)> {
    let (business, random) = session_id?.split_once('.')?;
    let business = BusinessId::parse(business).ok()?;
    (random.len() == SESSION_ID_LENGTH && random.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some((business, random))
}

/// The hash of a session id as the browser sent it, or `None` if it cannot be one of ours.
fn id_hash(session_id: Option<&str>) -> Option<String> {
    parts(session_id).and(session_id).map(hash_key)
}

/// The business a session id claims, before anything proves it: a page may start reading that
/// business's data while its session is read, and must show it only once [`Service::session`]
/// has proven the session (whose business it checks against this claim).
pub fn claimed_business(session_id: Option<&str>) -> Option<BusinessId> {
    parts(session_id).map(|(business, _)| business)
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Opens a session with an API key: answers the session id for the browser's cookie (shown
    /// only now) and the session. 401 for a key that does not open the API.
    pub async fn sign_in(&self, api_key: Option<&str>) -> DomainResult<(String, Session)> {
        let (_, key) = self.authenticate_key(api_key).await?;
        let now = self.now();
        let session_id = format!("{}.{}", key.business_id, random_hex(32));
        let session = Session {
            id_hash: hash_key(&session_id),
            business_id: key.business_id.clone(),
            key_hash: key.key_hash.clone(),
            key_id: key.id.clone(),
            csrf_token: random_hex(32),
            created_at: now,
            seen_at: now,
        };
        self.store().put_session(&session).await?;
        Ok((session_id, session))
    }

    /// The open session of a session id, with its key checked again as the API checks a bearer
    /// key: 401 for an unknown, idle or signed-out session, or one whose key no longer opens
    /// the API. Records the use at most once a minute (a failure to record it fails nothing).
    pub async fn session(&self, session_id: Option<&str>) -> DomainResult<SignedIn> {
        let id_hash = id_hash(session_id).ok_or(DomainError::Unauthenticated)?;
        let session = self
            .store()
            .session_by_hash(&id_hash)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        let now = self.now();
        if !session.open_at(now) {
            return Err(DomainError::Unauthenticated);
        }
        let (tenant, key) = self.authenticate_hash(session.key_hash.clone()).await?;
        let claimed = claimed_business(session_id);
        if tenant.business_id != session.business_id
            || claimed.as_ref() != Some(&tenant.business_id)
        {
            return Err(DomainError::Unauthenticated);
        }
        if session.seen_at.unix_ms + SESSION_TOUCH_EVERY_MS <= now.unix_ms {
            let mut touched = session.clone();
            touched.seen_at = now;
            if let Err(error) = self
                .store()
                .touch_session(&touched, SESSION_TOUCH_EVERY_MS)
                .await
            {
                tracing::warn!(%error, "could not record the session's last use");
            }
        }
        Ok(SignedIn {
            tenant,
            key,
            session,
        })
    }

    /// Ends a session (signing out). Ending one that is already gone is not an error.
    pub async fn sign_out(&self, session_id: Option<&str>) -> DomainResult<()> {
        match id_hash(session_id) {
            Some(id_hash) => self.store().end_session(&id_hash).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
