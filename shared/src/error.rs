//! Typed domain errors. The HTTP layer maps each variant to a status and a `{code, message}` body.
//! Sits above the capability models (it carries their records), below their rules.

use crate::holds::model::Hold;
use crate::invoices::model::InvoicePayment;
use crate::kernel::ValidationError;
use crate::ledger::model::LedgerEntry;
use crate::payins::links::TopUpLink;

/// The record an idempotency key first produced, returned when the key is repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    Entry(LedgerEntry),
    Hold(Hold),
    TopUpLink(Box<TopUpLink>),
}

impl Original {
    /// The record's id, which only the request that wrote it knows beforehand.
    pub fn id(&self) -> &str {
        match self {
            Original::Entry(entry) => entry.id.as_str(),
            Original::Hold(hold) => hold.id.as_str(),
            Original::TopUpLink(link) => link.id.as_str(),
        }
    }

    /// What the record is, in words.
    pub fn noun(&self) -> &'static str {
        match self {
            Original::Entry(_) => "ledger entry",
            Original::Hold(_) => "hold",
            Original::TopUpLink(_) => "top-up link",
        }
    }

    /// The response field that carries it.
    pub fn field(&self) -> &'static str {
        match self {
            Original::Entry(_) => "ledger_entry",
            Original::Hold(_) => "hold",
            Original::TopUpLink(_) => "top_up_link",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("missing or unknown API key")]
    Unauthenticated,
    #[error("this API key is read-only: it may read, not change anything; use a key with the `full` scope")]
    InsufficientScope,
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
    #[error(
        "idempotency key `{key}` was already used; the original {} is returned in `{}`",
        original.noun(),
        original.field()
    )]
    IdempotencyKeyReused {
        key: String,
        original: Box<Original>,
    },
    #[error("the {currency} wallet is closed: it takes no more credits, debits or holds (it can still be read)")]
    WalletClosed { currency: String },
    #[error("the {currency} wallet has {pending_charges} in pending holds; capture or release them before closing it")]
    HoldsPending {
        currency: String,
        pending_charges: i64,
    },
    #[error("hold `{0}` not found")]
    HoldNotFound(String),
    #[error("hold `{}` is {}, not pending; it is returned in `hold`", hold.id, hold.status.as_str())]
    HoldNotPending { hold: Box<Hold> },
    #[error("hold `{}` expired at {}; it can no longer be captured (it is returned in `hold`)", hold.id, hold.expires_at)]
    HoldExpired { hold: Box<Hold> },
    #[error("cannot capture {requested}: hold `{hold_id}` reserves only {held}")]
    CaptureExceedsHold {
        hold_id: String,
        held: i64,
        requested: i64,
    },
    #[error("invoice `{}` was already paid from this customer's wallet; the original payment is returned in `invoice_payment`", original.invoice_id)]
    InvoiceAlreadyPaid { original: Box<InvoicePayment> },
    #[error("no wallet payment of invoice `{0}` for this customer")]
    InvoicePaymentNotFound(String),
    #[error("cannot reverse {requested}: invoice `{invoice_id}` had {applied} applied from the wallet and {reversed} already reversed")]
    ReversalExceedsApplied {
        invoice_id: String,
        applied: i64,
        reversed: i64,
        requested: i64,
    },
    #[error("top-up link `{0}` not found")]
    TopUpLinkNotFound(String),
    #[error("top-up link `{0}` is being paid in another tab or window; wait for that payment, or try again in a few minutes if it was abandoned")]
    TopUpLinkInUse(String),
    #[error("top-up link `{0}` was already paid")]
    TopUpLinkUsed(String),
    #[error("top-up link `{0}` has expired; ask the merchant for a new one")]
    TopUpLinkExpired(String),
    #[error("top-up link `{0}` was cancelled by the merchant")]
    TopUpLinkCancelled(String),
    #[error("API key `{0}` not found")]
    KeyNotFound(String),
    #[error("webhook endpoint `{0}` not found")]
    WebhookNotFound(String),
    #[error("delivery `{0}` not found for this webhook endpoint")]
    DeliveryNotFound(String),
    #[error("delivery `{0}` is being attempted right now; try the resend again in a minute")]
    DeliveryInFlight(String),
    #[error("the payment method is not one saved at the payment gateway for this customer of this business: name a gateway customer created for it (its metadata names the business and the customer), or leave `gateway_customer_id` out to have one created")]
    PaymentMethodNotOwned,
    #[error("the payment gateway did not answer: {0}")]
    GatewayUnavailable(String),
    #[error("card top-up `{0}` not found")]
    CardTopUpNotFound(String),
    #[error("the webhook's signature is missing, invalid or too old")]
    InvalidSignature,
    /// A portal token that is malformed, tampered with, signed with another key, expired or
    /// revoked: one error for all, which never says which.
    #[error(
        "this portal link is not valid (it may have expired or been revoked); ask for a new one"
    )]
    PortalSessionInvalid,
    #[error("too many attempts; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// A capability the deployment did not configure (e.g. no `PORTAL_SIGNING_KEY`).
    #[error("not configured: {0}")]
    NotConfigured(String),
    #[error("the mail service did not accept the email: {0}")]
    MailUnavailable(String),
    #[error("too many concurrent updates to this customer's wallets; retry the request")]
    Contention,
    #[error("the store is unavailable (timed out, throttled or failing): {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Storage(String),
}

impl DomainError {
    /// Stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid(v) => v.code,
            DomainError::Unauthenticated => "unauthenticated",
            DomainError::InsufficientScope => "insufficient_scope",
            DomainError::CustomerNotFound(_) => "customer_not_found",
            DomainError::CurrencyNotEnabled { .. } => "currency_not_enabled",
            DomainError::InsufficientBalance { .. } => "insufficient_balance",
            DomainError::BalanceLimitExceeded { .. } => "balance_limit_exceeded",
            DomainError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            DomainError::WalletClosed { .. } => "wallet_closed",
            DomainError::HoldsPending { .. } => "holds_pending",
            DomainError::HoldNotFound(_) => "hold_not_found",
            DomainError::HoldNotPending { .. } => "hold_not_pending",
            DomainError::HoldExpired { .. } => "hold_expired",
            DomainError::CaptureExceedsHold { .. } => "capture_exceeds_hold",
            DomainError::InvoiceAlreadyPaid { .. } => "invoice_already_paid",
            DomainError::InvoicePaymentNotFound(_) => "invoice_payment_not_found",
            DomainError::ReversalExceedsApplied { .. } => "reversal_exceeds_applied",
            DomainError::TopUpLinkNotFound(_) => "top_up_link_not_found",
            DomainError::TopUpLinkInUse(_) => "top_up_link_in_use",
            DomainError::TopUpLinkUsed(_) => "top_up_link_used",
            DomainError::TopUpLinkExpired(_) => "top_up_link_expired",
            DomainError::TopUpLinkCancelled(_) => "top_up_link_cancelled",
            DomainError::KeyNotFound(_) => "key_not_found",
            DomainError::WebhookNotFound(_) => "webhook_not_found",
            DomainError::DeliveryNotFound(_) => "delivery_not_found",
            DomainError::DeliveryInFlight(_) => "delivery_in_flight",
            DomainError::PaymentMethodNotOwned => "payment_method_not_owned",
            DomainError::GatewayUnavailable(_) => "gateway_unavailable",
            DomainError::CardTopUpNotFound(_) => "card_top_up_not_found",
            DomainError::InvalidSignature => "invalid_signature",
            DomainError::PortalSessionInvalid => "portal_session_invalid",
            DomainError::RateLimited { .. } => "rate_limited",
            DomainError::NotConfigured(_) => "not_configured",
            DomainError::MailUnavailable(_) => "mail_unavailable",
            DomainError::Contention => "concurrent_update",
            DomainError::Unavailable(_) => "store_unavailable",
            DomainError::Storage(_) => "internal_error",
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
