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

/// The metadata key under which a refund records its idempotency key (a repeated `refund` looks
/// it up before making one).
pub const REFUND_METADATA_KEY: &str = "refund_attempt";

/// The metadata of a gateway customer that names the business owning it (the platform's one
/// Stripe account serves every business). A payment method is charged for a wallet only when it
/// is attached to a gateway customer whose metadata names that wallet's business and customer.
pub const OWNER_BUSINESS_METADATA_KEY: &str = "wallet_business_id";
/// The metadata of a gateway customer that names the wallet customer owning it.
pub const OWNER_CUSTOMER_METADATA_KEY: &str = "wallet_customer_id";

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
    /// The wallet's business and customer: the payment method is charged only while the gateway
    /// shows it belongs to them ([`owned_by`]); checked after reconciling, before charging.
    pub business_id: String,
    pub customer_id: String,
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
    /// authentication (`authentication_required`), a payment method that does not belong to the
    /// wallet's business and customer (`payment_method_not_owned`), or a request the gateway
    /// refused (`invalid_request`: an unknown customer, a wrong key, ...).
    Declined {
        /// The PaymentIntent left behind, when the gateway said which.
        payment_intent_id: Option<String>,
        decline_code: String,
        /// Shown to the tenant (settings, webhooks): the fixed text of its [`DeclineClass`],
        /// never the gateway's own words (they can name the platform's account or tell whether
        /// an id exists; adapters log them).
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

/// The kinds of decline a tenant is told about, each with one fixed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineClass {
    /// The card was declined (its `decline_code` says why: a code from the gateway's fixed list).
    Card,
    /// The bank wants the customer's authentication, impossible off-session.
    AuthenticationRequired,
    /// The payment method does not belong to the wallet's business and customer.
    NotOwned,
    /// The gateway refused the request as it was (unknown ids, configuration).
    InvalidRequest,
    /// The payment was canceled, or never confirmed, at the gateway.
    Canceled,
}

impl DeclineClass {
    pub const ALL: [DeclineClass; 5] = [
        DeclineClass::Card,
        DeclineClass::AuthenticationRequired,
        DeclineClass::NotOwned,
        DeclineClass::InvalidRequest,
        DeclineClass::Canceled,
    ];

    /// The code recorded when the gateway gives none of its own (or its own must not be shown).
    pub fn code(self) -> &'static str {
        match self {
            DeclineClass::Card => "card_declined",
            DeclineClass::AuthenticationRequired => "authentication_required",
            DeclineClass::NotOwned => "payment_method_not_owned",
            DeclineClass::InvalidRequest => "invalid_request",
            DeclineClass::Canceled => "canceled",
        }
    }

    /// The one message tenants see for this class.
    pub fn message(self) -> &'static str {
        match self {
            DeclineClass::Card => "the card was declined",
            DeclineClass::AuthenticationRequired => {
                "the bank asks for the customer's authentication, impossible off-session"
            }
            DeclineClass::NotOwned => {
                "the payment method does not belong to this customer of this business at the payment gateway"
            }
            DeclineClass::InvalidRequest => "the payment gateway refused the charge request",
            DeclineClass::Canceled => "the payment was canceled at the payment gateway",
        }
    }

    /// The decline of this class, with `code` (else the class's own).
    pub fn declined(
        self,
        payment_intent_id: Option<String>,
        code: Option<String>,
    ) -> ChargeOutcome {
        ChargeOutcome::Declined {
            payment_intent_id,
            decline_code: code.unwrap_or_else(|| self.code().to_owned()),
            message: self.message().to_owned(),
        }
    }
}

/// A gateway customer as far as ownership goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCustomer {
    pub id: String,
    pub metadata: BTreeMap<String, String>,
    /// Deleted at the gateway (it owns nothing any more).
    pub deleted: bool,
}

/// What the gateway says of a saved payment method: the customer it is attached to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethodOwner {
    pub payment_method_id: String,
    pub customer: Option<GatewayCustomer>,
}

/// Why the gateway could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayFailure {
    /// It answered and refused (the gateway's words, for the logs only).
    #[error("the gateway refused: {0}")]
    Refused(String),
    /// No usable answer (timeout, connection, 5xx, 429): try again later.
    #[error("the gateway is unavailable: {0}")]
    Unavailable(String),
}

/// Whether `owner` (what the gateway says of the payment method) shows that the payment method
/// is attached to `gateway_customer_id` and that this gateway customer's metadata names the
/// wallet's business and customer. `Err` says why not, for the logs (never for the tenant: it
/// tells whether ids exist).
pub fn owned_by(
    owner: Option<&PaymentMethodOwner>,
    gateway_customer_id: &str,
    business_id: &str,
    customer_id: &str,
) -> Result<(), String> {
    let Some(owner) = owner else {
        return Err("no such payment method".to_owned());
    };
    let Some(customer) = &owner.customer else {
        return Err(format!(
            "{} is attached to no customer",
            owner.payment_method_id
        ));
    };
    if customer.id != gateway_customer_id {
        return Err(format!(
            "{} is attached to {}, not {gateway_customer_id}",
            owner.payment_method_id, customer.id
        ));
    }
    if customer.deleted {
        return Err(format!("{} was deleted", customer.id));
    }
    let named = |key: &str| customer.metadata.get(key).map(String::as_str);
    if named(OWNER_BUSINESS_METADATA_KEY) != Some(business_id)
        || named(OWNER_CUSTOMER_METADATA_KEY) != Some(customer_id)
    {
        return Err(format!(
            "{}'s metadata names business {:?} and customer {:?}, not {business_id} and {customer_id}",
            customer.id,
            named(OWNER_BUSINESS_METADATA_KEY),
            named(OWNER_CUSTOMER_METADATA_KEY)
        ));
    }
    Ok(())
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

/// The three ownership methods of [`PaymentGateway`] for a test gateway that only charges and
/// finds: each answers that the gateway is unavailable (nothing a charge-only test asks).
#[doc(hidden)]
#[macro_export]
macro_rules! charge_only_gateway {
    () => {
        async fn payment_method_owner(
            &self,
            _: &str,
        ) -> Result<
            Option<$crate::topups::gateway::PaymentMethodOwner>,
            $crate::topups::gateway::GatewayFailure,
        > {
            Err($crate::topups::gateway::GatewayFailure::Unavailable(
                "this test gateway only charges".into(),
            ))
        }

        async fn create_customer(
            &self,
            _: &str,
            _: &str,
        ) -> Result<String, $crate::topups::gateway::GatewayFailure> {
            Err($crate::topups::gateway::GatewayFailure::Unavailable(
                "this test gateway only charges".into(),
            ))
        }

        async fn attach_payment_method(
            &self,
            _: &str,
            _: &str,
        ) -> Result<(), $crate::topups::gateway::GatewayFailure> {
            Err($crate::topups::gateway::GatewayFailure::Unavailable(
                "this test gateway only charges".into(),
            ))
        }
    };
}

/// Charges a saved payment method (adapter: `adapters::stripe::StripeGateway`).
pub trait PaymentGateway: Send + Sync {
    /// Makes the attempt's charge, or answers the outcome of the one already made for it.
    /// Never fails: what went wrong is in the outcome. Before making a new charge (after
    /// looking for the attempt's, so a resumed attempt is still reconciled) it checks that the
    /// payment method belongs to the request's business and customer ([`owned_by`] on
    /// [`payment_method_owner`](Self::payment_method_owner)'s answer): if not, it charges
    /// nothing and answers `Declined` with `payment_method_not_owned`; if the gateway cannot
    /// say, `Unknown`. A `Declined` message is its class's fixed text ([`DeclineClass`]).
    fn charge(&self, request: &ChargeRequest) -> impl Future<Output = ChargeOutcome> + Send;

    /// Reconciliation: the charge made for an attempt, if any. Retrieved by id when the lookup
    /// has one, else searched among the customer's charges by the attempt's metadata. `Ok(None)`
    /// means there is certainly none; `Err` that the gateway could not be asked (or the search
    /// could not be completed).
    fn find(
        &self,
        lookup: &ChargeLookup,
    ) -> impl Future<Output = Result<Option<FoundCharge>, String>> + Send;

    /// The customer a saved payment method is attached to, with that customer's metadata;
    /// `Ok(None)` when there is no such payment method.
    fn payment_method_owner(
        &self,
        payment_method_id: &str,
    ) -> impl Future<Output = Result<Option<PaymentMethodOwner>, GatewayFailure>> + Send;

    /// Creates a gateway customer whose metadata names the wallet's business and customer
    /// ([`OWNER_BUSINESS_METADATA_KEY`], [`OWNER_CUSTOMER_METADATA_KEY`]); answers its id.
    fn create_customer(
        &self,
        business_id: &str,
        customer_id: &str,
    ) -> impl Future<Output = Result<String, GatewayFailure>> + Send;

    /// Attaches a saved payment method that is attached to no customer yet to a gateway
    /// customer.
    fn attach_payment_method(
        &self,
        payment_method_id: &str,
        gateway_customer_id: &str,
    ) -> impl Future<Output = Result<(), GatewayFailure>> + Send;

    /// The card payment methods saved to a gateway customer (their ids), as the gateway lists
    /// them (issue 22: the cards an invoice's remainder may be charged to). A gateway that only
    /// charges answers that it cannot say.
    fn saved_cards(
        &self,
        gateway_customer_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, GatewayFailure>> + Send {
        let _ = gateway_customer_id;
        async {
            Err(GatewayFailure::Unavailable(
                "this gateway does not list payment methods".into(),
            ))
        }
    }

    /// Refunds part or all of a succeeded charge (issue 22: a reversal back to the card). The
    /// same `idempotency_key` for every call made for one refund: like `charge`, the adapter
    /// first looks for the refund already made with it ([`REFUND_METADATA_KEY`]) and answers it
    /// instead of refunding again.
    fn refund(&self, request: &RefundRequest) -> impl Future<Output = RefundOutcome> + Send {
        let _ = request;
        async {
            RefundOutcome::Unknown {
                error: "this gateway does not refund".into(),
            }
        }
    }
}

/// A refund of a charge, in part or in whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub payment_intent_id: String,
    pub amount: Amount,
    /// The same for every call made for this refund.
    pub idempotency_key: String,
    pub metadata: BTreeMap<String, String>,
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Made (Stripe's `succeeded` or `pending`: the money is on its way back).
    Succeeded { refund_id: String },
    /// The gateway refused it (nothing refunded); the reason is for the logs.
    Refused { reason: String },
    /// No usable answer: it may or may not have been made.
    Unknown { error: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(customer: Option<(&str, &str, &str, bool)>) -> PaymentMethodOwner {
        PaymentMethodOwner {
            payment_method_id: "pm_1".into(),
            customer: customer.map(|(id, business, wallet_customer, deleted)| GatewayCustomer {
                id: id.into(),
                metadata: [
                    (OWNER_BUSINESS_METADATA_KEY.to_owned(), business.to_owned()),
                    (
                        OWNER_CUSTOMER_METADATA_KEY.to_owned(),
                        wallet_customer.to_owned(),
                    ),
                ]
                .into(),
                deleted,
            }),
        }
    }

    #[test]
    fn a_payment_method_is_owned_only_through_a_customer_whose_metadata_names_both() {
        let mine = owner(Some(("cus_g", "bus_a", "cus_a", false)));
        assert_eq!(owned_by(Some(&mine), "cus_g", "bus_a", "cus_a"), Ok(()));
        // Another business, or another of the business's customers.
        assert!(owned_by(Some(&mine), "cus_g", "bus_b", "cus_a").is_err());
        assert!(owned_by(Some(&mine), "cus_g", "bus_a", "cus_b").is_err());
        // Named with another gateway customer than the one it is attached to.
        assert!(owned_by(Some(&mine), "cus_other", "bus_a", "cus_a").is_err());
        // Detached, deleted, unknown, or a customer without the metadata.
        assert!(owned_by(Some(&owner(None)), "cus_g", "bus_a", "cus_a").is_err());
        let deleted = owner(Some(("cus_g", "bus_a", "cus_a", true)));
        assert!(owned_by(Some(&deleted), "cus_g", "bus_a", "cus_a").is_err());
        assert!(owned_by(None, "cus_g", "bus_a", "cus_a").is_err());
        let mut bare = mine.clone();
        bare.customer.as_mut().unwrap().metadata.clear();
        assert!(owned_by(Some(&bare), "cus_g", "bus_a", "cus_a").is_err());
    }

    #[test]
    fn a_result_stored_with_the_gateway_s_words_is_read_without_them() {
        use crate::topups::model::{TopUpResult, LEGACY_DECLINE_MESSAGE};
        let read = |code: &str, message: &str| {
            let stored = serde_json::json!({
                "attempt_id": "tpa_1", "amount": 500, "payment_intent_id": null,
                "decline_code": code, "message": message, "at": "2026-01-01T00:00:00.000Z",
            });
            serde_json::from_value::<TopUpResult>(stored)
                .unwrap()
                .message
                .unwrap()
        };
        assert_eq!(
            read(
                "resource_missing",
                "No such customer: 'cus_x'; a similar object exists in live mode"
            ),
            LEGACY_DECLINE_MESSAGE
        );
        assert_eq!(
            read("card_declined", "Your card was declined."),
            LEGACY_DECLINE_MESSAGE
        );
        // Today's fixed messages, and the wallet's own refusal, read as they are.
        for class in DeclineClass::ALL {
            assert_eq!(read(class.code(), class.message()), class.message());
        }
        assert_eq!(
            read("credit_refused", "the USD wallet is closed"),
            "the USD wallet is closed"
        );
        // A success has no message.
        let success = serde_json::json!({
            "attempt_id": "tpa_1", "amount": 500, "payment_intent_id": "pi_1",
            "decline_code": null, "message": null, "at": "2026-01-01T00:00:00.000Z",
        });
        let success: TopUpResult = serde_json::from_value(success).unwrap();
        assert_eq!(success.message, None);
        // What is written is read back the same.
        assert_eq!(
            serde_json::from_value::<TopUpResult>(serde_json::to_value(&success).unwrap()).unwrap(),
            success
        );
    }

    #[test]
    fn every_decline_class_has_a_fixed_message_and_code() {
        for class in DeclineClass::ALL {
            let ChargeOutcome::Declined {
                decline_code,
                message,
                ..
            } = class.declined(None, None)
            else {
                panic!()
            };
            assert_eq!(decline_code, class.code());
            assert_eq!(message, class.message());
        }
    }
}
