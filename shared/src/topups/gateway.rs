//! The payment gateway port: charge a saved payment method off-session, and find what an earlier
//! attempt did. Real adapter: `adapters::stripe` (Stripe's PaymentIntents API; `localstripe`
//! locally and in the tests).
//!
//! The contract every adapter keeps, which auto top-up relies on for "never charged twice for one
//! need":
//! - One attempt, one charge. A top-up attempt has an `attempt_id` and an `idempotency_key`; they
//!   stay the same for every call made for that attempt (a retry after `Unknown`, a rerun after a
//!   crash, a second sweep). `charge` first looks for a charge the gateway already holds for the
//!   attempt and, if there is one, answers its outcome instead of charging again; only when there
//!   is none does it create one, with the idempotency key (which covers two calls at once, where
//!   the gateway honours it). So a repeated `charge` never makes a second charge, even where the
//!   gateway does not replay idempotency keys (`localstripe`) or has forgotten them (Stripe keeps
//!   them 24 hours).
//! - A new attempt after a definite answer. `Declined` is final for its attempt: calling `charge`
//!   again with the same attempt answers the same decline. A retry after the backoff is a new
//!   attempt (new `attempt_id` and `idempotency_key`).
//! - `Unknown` means the charge may or may not have happened: call `charge` again with the same
//!   attempt (it reconciles first), or `find`, before crediting or giving up.
//!
//! Two calls for the same attempt at the same moment are the caller's to prevent (the top-up's
//! claim is a conditional write); where the gateway honours idempotency keys they are safe anyway.

use std::collections::BTreeMap;
use std::future::Future;

use crate::kernel::{Amount, Currency, Timestamp};

/// The metadata key under which a charge records its attempt id (`find` looks it up).
pub const ATTEMPT_METADATA_KEY: &str = "topup_attempt";

/// How far before an attempt's start a charge for it is looked for (clock skew between this
/// service and the gateway, with a wide margin).
pub const ATTEMPT_CLOCK_SLACK_MS: u64 = 60 * 60 * 1000;

/// An off-session charge of a saved payment method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub amount: Amount,
    /// Sent to Stripe as the lower-case ISO code.
    pub currency: Currency,
    /// The customer at the gateway (`cus_...`), whose payment method this is.
    pub gateway_customer_id: String,
    /// The saved payment method (`pm_...`), attached to that customer.
    pub payment_method_id: String,
    /// The top-up attempt: recorded with the charge (metadata `topup_attempt`) so that `find`
    /// and a repeated `charge` can tell whether it was already made.
    pub attempt_id: String,
    /// When the attempt was created: charges older than this (less [`ATTEMPT_CLOCK_SLACK_MS`])
    /// are not looked at when reconciling, which keeps the look-up to one short page.
    pub attempt_started_at: Timestamp,
    /// The same for every call made for this attempt.
    pub idempotency_key: String,
    /// Shown on the payment at the gateway (see the adapter for `localstripe`, which refuses it).
    pub description: String,
    /// Extra metadata (the adapter adds `topup_attempt`, which wins over an entry of that name).
    pub metadata: BTreeMap<String, String>,
}

impl ChargeRequest {
    /// The look-up that finds what this request did, if anything.
    pub fn lookup(&self) -> ChargeLookup {
        ChargeLookup {
            gateway_customer_id: self.gateway_customer_id.clone(),
            attempt_id: self.attempt_id.clone(),
            payment_intent_id: None,
            created_after: Some(self.attempt_started_at),
        }
    }
}

/// What a charge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money was taken: credit the wallet once, with this id as the reference.
    Succeeded { payment_intent_id: String },
    /// The gateway answered that nothing was taken and that this attempt will not succeed: a
    /// card decline (`decline_code` is Stripe's `decline_code`, else its error `code`, e.g.
    /// `insufficient_funds`, `card_declined`), a payment that needs the customer's
    /// authentication (`authentication_required`), or a request the gateway refused (an unknown
    /// customer or payment method, a wrong key: its error code, else `http_<status>`).
    Declined {
        /// The PaymentIntent left behind, when the gateway said which.
        payment_intent_id: Option<String>,
        decline_code: String,
        message: String,
    },
    /// The gateway's answer is unknown (timeout, 5xx, connection failure, a payment still
    /// processing): charge again with the same attempt (it reconciles first) or `find`.
    Unknown { error: String },
}

impl ChargeOutcome {
    pub fn payment_intent_id(&self) -> Option<&str> {
        match self {
            ChargeOutcome::Succeeded { payment_intent_id } => Some(payment_intent_id),
            ChargeOutcome::Declined {
                payment_intent_id, ..
            } => payment_intent_id.as_deref(),
            ChargeOutcome::Unknown { .. } => None,
        }
    }
}

/// What to look for: the charge made for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeLookup {
    pub gateway_customer_id: String,
    pub attempt_id: String,
    /// When known (a `Succeeded`/`Declined` answer was recorded), it is retrieved by id.
    pub payment_intent_id: Option<String>,
    /// Only charges created at or after this instant (less [`ATTEMPT_CLOCK_SLACK_MS`]) are
    /// looked at; `None` looks at all of the customer's.
    pub created_after: Option<Timestamp>,
}

/// A charge found at the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCharge {
    pub payment_intent_id: String,
    /// Minor units, as the gateway holds it.
    pub amount: i64,
    /// Lower-case ISO code, as the gateway holds it.
    pub currency: String,
    /// Its state now: `Succeeded`, `Declined`, or `Unknown` while it is still processing.
    pub outcome: ChargeOutcome,
}

/// Charges a saved payment method (adapter: `adapters::stripe::StripeGateway`).
pub trait PaymentGateway: Send + Sync {
    /// Makes the attempt's charge, or answers the outcome of the one already made for it.
    /// Never fails: what went wrong is in the outcome.
    fn charge(&self, request: &ChargeRequest) -> impl Future<Output = ChargeOutcome> + Send;

    /// Reconciliation: the charge made for an attempt, if any. Retrieved by id when the lookup
    /// has one, else searched among the customer's charges by the attempt's metadata. `Ok(None)`
    /// means there is certainly none; `Err` that the gateway could not be asked (or the search
    /// could not be completed).
    fn find(
        &self,
        lookup: &ChargeLookup,
    ) -> impl Future<Output = Result<Option<FoundCharge>, String>> + Send;
}
