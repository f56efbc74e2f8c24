//! Who is calling: businesses, the API keys that name them, and who made a change.

use serde::{Deserialize, Serialize};

use crate::kernel::{BusinessId, KeyId, Timestamp, ValidationError};

/// Identity of the caller's business, established by the API key (whose [`ApiKey::scope`] says
/// what the caller may do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub business_id: BusinessId,
}

/// A business: the tenant that owns customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    pub business_id: BusinessId,
    pub name: String,
    pub created_at: Timestamp,
}

/// An API key of a business, stored only as its SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: KeyId,
    #[serde(skip)]
    pub key_hash: String,
    pub business_id: BusinessId,
    pub name: String,
    /// The key's first characters (`cw_` and 8 more), to recognise it; never enough to use it.
    pub prefix: String,
    pub created_at: Timestamp,
    /// From this instant the key answers 401 (set at creation, by a rotation's grace, or by a
    /// revocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Updated at most once a minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// What the key may do. A key stored before keys had a scope has none: `full`.
    #[serde(default)]
    pub scope: Scope,
}

/// What an API key may do: `full` (anything its business may), or `read_only` (read, never
/// change: no money moved, no setting, customer, webhook or key changed). Fixed at the key's
/// creation; a rotation passes it on to the new key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    Full,
    ReadOnly,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Full, Scope::ReadOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "full",
            Scope::ReadOnly => "read_only",
        }
    }

    /// The scope named `raw` (`full`, `read_only`); 422 `invalid_scope` for any other.
    pub fn parse(raw: &str) -> Result<Scope, ValidationError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw)
            .ok_or_else(|| {
                ValidationError::new("invalid_scope", "scope must be `full` or `read_only`")
            })
    }

    /// Whether a caller of this scope may change anything: move money, change a setting, a
    /// customer, a webhook endpoint or a key (`operations::permit_change` answers the refusal).
    pub fn allows_changes(self) -> bool {
        self == Scope::Full
    }
}

impl ApiKey {
    /// Whether the key still opens the API at `now`.
    pub fn valid_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Who made a change: the API key and the request that carried it, or an automatic process
/// (`sweep`, `dispatcher`) and its invocation. Recorded on every ledger entry, hold, invoice
/// payment, settings change and webhook endpoint change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The dashboard session the change was made in (`Session::label`), with the key that
    /// opened it in `key_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// A signed-in browser: which business, through which key, and the token its forms must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the session id the cookie holds (the id itself is never stored).
    #[serde(skip)]
    pub id_hash: String,
    pub business_id: BusinessId,
    /// The key the session was opened with, by its stored hash (never the key itself).
    pub key_hash: String,
    pub key_id: KeyId,
    /// The anti-forgery token every state-changing form of this session carries.
    pub csrf_token: String,
    pub created_at: Timestamp,
    /// The last request seen (kept to within [`SESSION_TOUCH_EVERY_MS`]).
    #[serde(skip, default = "epoch")]
    pub seen_at: Timestamp,
}

fn epoch() -> Timestamp {
    Timestamp::from_unix_ms(0)
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormClaim {
    /// Claimed now: this submission does the work.
    New,
    /// An earlier submission did the work; its result is here.
    Done(String),
    /// An earlier submission claimed it and has not recorded a result.
    Started,
}
