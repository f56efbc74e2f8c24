//! Authenticating a caller, creating businesses, and the API key lifecycle: several keys per
//! business, each with an id, a name, a prefix, an optional expiry; created (the secret shown
//! once), listed, revoked, rotated (a new key, the old one valid for a grace period). A key has a
//! scope (`full` or `read_only`): [`permit_change`] is the check every change for a caller passes.

use super::actor;
use super::model::{ApiKey, Business, Scope, Tenant};
use super::rules::{
    generate_key, hash_key, key_name, prefix_of, KEY_LENGTH_MAX, LAST_USED_EVERY_MS,
};
use crate::change::model::{Plan, Write};
use crate::customers::rules::name;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, KeyId, Timestamp, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// The longest a rotated key stays valid beside its successor.
pub const ROTATION_GRACE_MAX_S: u64 = 30 * 86_400;
/// The grace period of a rotation when none is asked for.
pub const ROTATION_GRACE_DEFAULT_S: u64 = 86_400;

/// Whether a caller whose key has `scope` may make a change: `Ok` for a full key, 403
/// `insufficient_scope` for a read-only one. The API asks it before every route other than a GET
/// (`api::respond`); the dashboard asks it before every form that changes something.
pub fn permit_change(scope: Scope) -> DomainResult<()> {
    if scope.allows_changes() {
        Ok(())
    } else {
        Err(DomainError::InsufficientScope)
    }
}

/// What a new key is: its name, its end (none: never expires) and its scope.
struct KeySpec {
    name: String,
    expires_at: Option<Timestamp>,
    scope: Scope,
}

fn new_key(business_id: &BusinessId, spec: KeySpec, now: Timestamp) -> (ApiKey, String) {
    let secret = generate_key();
    let key = ApiKey {
        id: KeyId::generate_at(now.unix_ms),
        key_hash: hash_key(&secret),
        business_id: business_id.clone(),
        name: spec.name,
        prefix: prefix_of(&secret),
        created_at: now,
        expires_at: spec.expires_at,
        revoked_at: None,
        last_used_at: None,
        scope: spec.scope,
    };
    (key, secret)
}

impl<S: Store, C: Clock> Service<S, C> {
    /// The business and key of a bearer token; 401 for an unknown, revoked or expired key. A key
    /// read lately comes from the instance's cache (`cache.rs`: the bound on a revocation made
    /// elsewhere). Marks the key used, at most once a minute (a failure to mark it does not fail
    /// the request).
    pub async fn authenticate_key(
        &self,
        bearer_token: Option<&str>,
    ) -> DomainResult<(Tenant, ApiKey)> {
        let token = bearer_token
            .filter(|t| !t.is_empty() && t.len() <= KEY_LENGTH_MAX)
            .ok_or(DomainError::Unauthenticated)?;
        self.authenticate_hash(hash_key(token)).await
    }

    /// [`Service::authenticate_key`] for a key known by its stored hash (a dashboard session's
    /// key): the same cache, the same checks.
    pub async fn authenticate_hash(&self, key_hash: String) -> DomainResult<(Tenant, ApiKey)> {
        let now = self.now();
        let key = match self.keys().get(&key_hash, now) {
            Some(key) => key,
            None => {
                let key = self
                    .store()
                    .key_by_hash(&key_hash)
                    .await?
                    .ok_or(DomainError::Unauthenticated)?;
                self.keys().put(&key, now);
                key
            }
        };
        if !key.valid_at(now) {
            return Err(DomainError::Unauthenticated);
        }
        let stale = key
            .last_used_at
            .is_none_or(|at| at.unix_ms + LAST_USED_EVERY_MS <= now.unix_ms);
        if stale {
            if let Err(error) = self
                .store()
                .touch_key(&key_hash, now, LAST_USED_EVERY_MS)
                .await
            {
                tracing::warn!(%error, key_id = %key.id, "could not record the key's last use");
            }
            // Recorded (or someone else did it within the minute): not again from this instance.
            self.keys().used(&key_hash, now);
        }
        Ok((
            Tenant {
                business_id: key.business_id.clone(),
            },
            key,
        ))
    }

    /// The business whose API key this is.
    pub async fn authenticate(&self, bearer_token: Option<&str>) -> DomainResult<Tenant> {
        self.authenticate_key(bearer_token)
            .await
            .map(|(tenant, _)| tenant)
    }

    /// Creates a business and returns its id and its first API key (shown only now).
    pub async fn create_business(&self, raw_name: &str) -> DomainResult<(BusinessId, String)> {
        let business_id = BusinessId::generate();
        let name = &name(raw_name)?;
        let first = KeySpec {
            name: "first key".to_owned(),
            expires_at: None,
            scope: Scope::Full,
        };
        let (key, secret) = new_key(&business_id, first, self.now());
        let (id, key) = (&business_id, &key);
        self.change(&business_id, None, |now| async move {
            let business = Business {
                business_id: id.clone(),
                name: name.clone(),
                created_at: now,
            };
            let writes = vec![Write::NewBusiness(business), Write::NewApiKey(key.clone())];
            Ok(Plan::Commit(writes, ()))
        })
        .await?;
        Ok((business_id, secret))
    }

    /// A new key of the business; the secret is in the answer only. A key made with a key that
    /// expires (`caller`; `None`: the operator's tool) expires no later than it: a key must not
    /// outlive the one that made it, or a leaked short-lived key could mint a lasting one. A
    /// read-only caller makes no key at all (403 `insufficient_scope`), so it cannot mint a full
    /// one.
    pub async fn create_key(
        &self,
        tenant: &Tenant,
        caller: Option<&ApiKey>,
        raw_name: Option<&str>,
        expires_at: Option<Timestamp>,
        scope: Scope,
    ) -> DomainResult<(ApiKey, String)> {
        if let Some(caller) = caller {
            permit_change(caller.scope)?;
        }
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ValidationError::new(
                "invalid_expires_at",
                "expires_at must be in the future",
            )
            .into());
        }
        if let Some(caller_ends) = caller.and_then(|key| key.expires_at) {
            if expires_at.is_none_or(|at| at > caller_ends) {
                return Err(ValidationError::new(
                    "key_outlives_caller",
                    format!(
                        "the key making this request expires at {}: a key it makes must expire no later (set expires_at), or use a key without expiry",
                        caller_ends.rfc3339()
                    ),
                )
                .into());
            }
        }
        let spec = KeySpec {
            name: key_name(raw_name)?,
            expires_at,
            scope,
        };
        let (key, secret) = new_key(&tenant.business_id, spec, now);
        let written = &key;
        self.change(&tenant.business_id, None, |_| async move {
            Ok(Plan::Commit(vec![Write::NewApiKey(written.clone())], ()))
        })
        .await?;
        Ok((key, secret))
    }

    /// The business's keys (never their secrets), oldest first.
    pub async fn list_keys(&self, tenant: &Tenant) -> DomainResult<Vec<ApiKey>> {
        let mut keys = self.store().list_keys(&tenant.business_id).await?;
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn key_of(&self, tenant: &Tenant, id: &KeyId) -> DomainResult<ApiKey> {
        self.list_keys(tenant)
            .await?
            .into_iter()
            .find(|key| key.id == *id)
            .ok_or_else(|| DomainError::KeyNotFound(id.to_string()))
    }

    /// Revokes a key now: from the next request on it answers 401. (A read-only key is refused
    /// before: by `api::respond`, or the dashboard's check, both through [`permit_change`].)
    pub async fn revoke_key(&self, tenant: &Tenant, id: &KeyId) -> DomainResult<ApiKey> {
        let mut key = self.key_of(tenant, id).await?;
        let now = self.now();
        if key.revoked_at.is_none() {
            self.store().end_key(&key.key_hash, now, true).await?;
            self.keys().forget(&key.key_hash);
            // Answered as written (the listing index may not show it for a moment).
            key.revoked_at = Some(now);
            key.expires_at = Some(now);
        }
        Ok(key)
    }

    /// Rotates a key: a new key with the same name and scope, and the old one valid `grace_s`
    /// more seconds (0: ends now). Answers the new key (its secret) and the old one. A read-only
    /// caller rotates nothing (403 `insufficient_scope`).
    pub async fn rotate_key(
        &self,
        tenant: &Tenant,
        caller: Option<&ApiKey>,
        id: &KeyId,
        grace_s: Option<u64>,
    ) -> DomainResult<((ApiKey, String), ApiKey)> {
        if let Some(caller) = caller {
            permit_change(caller.scope)?;
        }
        let grace_s = grace_s.unwrap_or(ROTATION_GRACE_DEFAULT_S);
        if grace_s > ROTATION_GRACE_MAX_S {
            return Err(ValidationError::new(
                "invalid_grace_period",
                format!("grace_period_seconds must be at most {ROTATION_GRACE_MAX_S}"),
            )
            .into());
        }
        let mut old = self.key_of(tenant, id).await?;
        let now = self.now();
        if !old.valid_at(now) {
            return Err(ValidationError::new(
                "key_not_active",
                "a revoked or expired key cannot be rotated",
            )
            .into());
        }
        // The new key does not inherit the old one's end (which may be a grace period already),
        // but a caller that expires makes a key that ends with it, never later.
        let ends_with_caller = caller.and_then(|key| key.expires_at);
        let (new, secret) = self
            .create_key(tenant, caller, Some(&old.name), ends_with_caller, old.scope)
            .await?;
        let ends = Timestamp::from_unix_ms(now.unix_ms + grace_s * 1_000);
        if old.expires_at.is_none_or(|at| at > ends) {
            self.store().end_key(&old.key_hash, ends, false).await?;
            self.keys().forget(&old.key_hash);
            old.expires_at = Some(ends);
        }
        Ok(((new, secret), old))
    }
}

/// The actor of a request made with `key` (and the invocation's request id).
pub fn key_actor(key: &ApiKey, request_id: Option<String>) -> super::model::Actor {
    super::model::Actor {
        key_id: Some(key.id.clone()),
        process: None,
        request_id,
        session_id: None,
    }
}

pub use actor::acting;

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
