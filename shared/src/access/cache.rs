//! API keys this process read lately, so that a request with a known key costs no read.
//!
//! An entry is trusted for [`Config::key_cache_ttl_ms`](crate::Config) after its read (default
//! [`KEY_CACHE_TTL_MS_DEFAULT`]); expiry is checked on every request against the cached
//! `expires_at`, so it is exact. What a cache can delay is news from elsewhere: a key revoked, or
//! its grace shortened, through another instance stays usable on this one until its entry is
//! older than the TTL (plus the key lookup's eventually consistent read). A revocation or
//! rotation made through this instance forgets the entry at once.

use std::collections::HashMap;
use std::sync::Mutex;

use super::model::ApiKey;
use crate::kernel::Timestamp;

/// How long a key read is trusted when `API_KEY_CACHE_SECONDS` is not set: the bound on a
/// revocation made elsewhere.
pub const KEY_CACHE_TTL_MS_DEFAULT: u64 = 5_000;
/// Keys kept at most; when full, the cache starts again empty (an instance serves few keys).
const ENTRIES_MAX: usize = 1_000;

#[derive(Debug, Default)]
pub struct KeyCache {
    ttl_ms: u64,
    /// Key hash → (the key as read, when it was read).
    entries: Mutex<HashMap<String, (ApiKey, u64)>>,
}

impl KeyCache {
    /// A cache trusting reads `ttl_ms`; 0 turns it off.
    pub fn new(ttl_ms: u64) -> KeyCache {
        KeyCache {
            ttl_ms,
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ApiKey, u64)>> {
        crate::kernel::wait::locked(&self.entries)
    }

    /// The key of `key_hash` if read less than the TTL ago.
    pub fn get(&self, key_hash: &str, now: Timestamp) -> Option<ApiKey> {
        let entries = self.entries();
        let (key, read_at) = entries.get(key_hash)?;
        (now.unix_ms < read_at + self.ttl_ms).then(|| key.clone())
    }

    /// Keeps `key`, read at `now`.
    pub fn put(&self, key: &ApiKey, now: Timestamp) {
        if self.ttl_ms == 0 {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= ENTRIES_MAX && !entries.contains_key(&key.key_hash) {
            entries.clear();
        }
        entries.insert(key.key_hash.clone(), (key.clone(), now.unix_ms));
    }

    /// The key's last use as this instance recorded it, without making the entry younger.
    pub fn used(&self, key_hash: &str, at: Timestamp) {
        if let Some((key, _)) = self.entries().get_mut(key_hash) {
            key.last_used_at = Some(at);
        }
    }

    /// Drops the key: its next request reads it again.
    pub fn forget(&self, key_hash: &str) {
        self.entries().remove(key_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{BusinessId, KeyId};

    fn key(hash: &str) -> ApiKey {
        ApiKey {
            id: KeyId::generate(),
            key_hash: hash.to_owned(),
            business_id: BusinessId::generate(),
            name: "k".to_owned(),
            prefix: "cw_00000000".to_owned(),
            created_at: Timestamp::from_unix_ms(0),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            scope: crate::access::model::Scope::Full,
        }
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_unix_ms(ms)
    }

    #[test]
    fn a_key_is_trusted_for_the_ttl_after_its_read_and_not_a_millisecond_more() {
        let cache = KeyCache::new(5_000);
        cache.put(&key("h"), at(1_000));
        assert!(cache.get("h", at(5_999)).is_some());
        cache.used("h", at(5_000));
        assert_eq!(
            cache.get("h", at(5_999)).unwrap().last_used_at,
            Some(at(5_000))
        );
        assert!(
            cache.get("h", at(6_000)).is_none(),
            "a use does not extend it"
        );
        assert!(cache.get("other", at(1_000)).is_none());
    }

    #[test]
    fn a_forgotten_key_is_read_again_and_a_zero_ttl_keeps_nothing() {
        let cache = KeyCache::new(5_000);
        cache.put(&key("h"), at(0));
        cache.forget("h");
        assert!(cache.get("h", at(1)).is_none());
        let off = KeyCache::new(0);
        off.put(&key("h"), at(0));
        assert!(off.get("h", at(0)).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = KeyCache::new(5_000);
        for i in 0..ENTRIES_MAX + 10 {
            cache.put(&key(&i.to_string()), at(0));
        }
        assert!(cache.entries().len() <= ENTRIES_MAX);
        assert!(cache.get(&(ENTRIES_MAX + 9).to_string(), at(0)).is_some());
    }
}
