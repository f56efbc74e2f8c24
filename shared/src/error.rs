//! Typed domain errors. The HTTP layer maps each variant to a status and a `{code, message}` body.

use crate::model::LedgerEntry;

/// A rejected input: a stable machine `code` and a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub code: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ValidationError {
        ValidationError {
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("missing or unknown API key")]
    Unauthenticated,
    #[error("customer `{0}` not found")]
    CustomerNotFound(String),
    #[error("customer `{customer_id}` has no {currency} wallet; enabled currencies are {enabled}")]
    CurrencyNotEnabled {
        customer_id: String,
        currency: String,
        enabled: String,
    },
    #[error("Insufficient balance: the {currency} wallet has {available} available, the debit needs {requested}")]
    InsufficientBalance {
        currency: String,
        available: i64,
        requested: i64,
    },
    #[error("the {currency} balance would exceed the maximum of {max} minor units")]
    BalanceLimitExceeded { currency: String, max: i64 },
    #[error("idempotency key `{key}` was already used; the original ledger entry is returned in `ledger_entry`")]
    IdempotencyKeyReused {
        key: String,
        original: Box<LedgerEntry>,
    },
    #[error("too many concurrent updates to this customer's wallets; retry the request")]
    Contention,
    #[error("storage failure: {0}")]
    Storage(String),
}

impl DomainError {
    /// Stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid(v) => v.code,
            DomainError::Unauthenticated => "unauthenticated",
            DomainError::CustomerNotFound(_) => "customer_not_found",
            DomainError::CurrencyNotEnabled { .. } => "currency_not_enabled",
            DomainError::InsufficientBalance { .. } => "insufficient_balance",
            DomainError::BalanceLimitExceeded { .. } => "balance_limit_exceeded",
            DomainError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            DomainError::Contention => "concurrent_update",
            DomainError::Storage(_) => "internal_error",
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
