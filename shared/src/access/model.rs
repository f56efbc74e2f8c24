//! Who is calling: businesses and the API keys that name them.

use crate::kernel::{BusinessId, Timestamp};

/// Identity of the caller's business, established by the API key.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key_hash: String,
    pub business_id: BusinessId,
    pub created_at: Timestamp,
}
