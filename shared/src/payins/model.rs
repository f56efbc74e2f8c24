//! A card top-up: a customer paying into their own wallet by card (from the portal or a top-up
//! link). It is written `pending` before the card is charged and credited only when the gateway
//! says the payment succeeded (`settle.rs`), exactly once.

use serde::{Deserialize, Serialize};

use super::limits::TopUpLimits;
use crate::kernel::{BusinessId, Currency, CustomerId, EntryId, Timestamp, ValidationError};

/// The prefix of a card top-up's id: `ctu_<26 lower-case ULID characters>`.
pub const CARD_TOP_UP_PREFIX: &str = "ctu_";

/// The metadata key of a PaymentIntent made for a card top-up: its id. The webhook and the sweep
/// find the top-up by it (with `business_id` and `customer_id` beside it).
pub const CARD_TOP_UP_METADATA_KEY: &str = "card_top_up";

/// How long a top-up stays pending before the sweep asks the gateway what became of it.
pub const RECONCILE_AFTER_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardTopUpStatus {
    /// Written before the charge; the charge may have succeeded, but nothing is credited yet.
    Pending,
    /// Credited (once): `entry_id` is the credit.
    Succeeded,
    /// Declined, canceled, or never charged: nothing credited.
    Failed,
}

impl CardTopUpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CardTopUpStatus::Pending => "pending",
            CardTopUpStatus::Succeeded => "succeeded",
            CardTopUpStatus::Failed => "failed",
        }
    }
}

/// Where the customer paid from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TopUpSource {
    /// The customer portal's Add funds.
    Portal,
    /// A top-up link (`tul_...`) the business sent.
    Link { link_id: String },
}

/// A card top-up. Its serde form is the stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardTopUp {
    /// `ctu_<26 lower-case ULID characters>`: also the PaymentIntent's idempotency key.
    pub id: String,
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    pub currency: Currency,
    /// Minor units.
    pub amount: i64,
    pub status: CardTopUpStatus,
    /// The gateway customer the card was set up for (its metadata names business and customer).
    pub gateway_customer_id: String,
    /// The card, as the gateway's SetupIntent answered it (never the browser's word).
    pub payment_method_id: String,
    pub payment_intent_id: Option<String>,
    pub decline_code: Option<String>,
    /// The decline class's fixed message (`topups::gateway::DeclineClass`).
    pub message: Option<String>,
    pub source: TopUpSource,
    /// The customer's consent to save the card for automatic top-ups.
    pub save_card: bool,
    /// The credit, once succeeded.
    pub entry_id: Option<EntryId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Starts at 1; each change of the record adds one (its writes are conditional on it).
    pub version: u64,
}

impl CardTopUp {
    /// A fresh id for a top-up started at `unix_ms`.
    pub fn new_id(unix_ms: u64) -> String {
        format!(
            "{CARD_TOP_UP_PREFIX}{}",
            crate::kernel::ids::change_token(unix_ms).to_lowercase()
        )
    }

    /// Checks an id's form (`ctu_` and 26 lower-case ULID characters).
    pub fn check_id(id: &str) -> Result<(), ValidationError> {
        let valid = id.strip_prefix(CARD_TOP_UP_PREFIX).is_some_and(|rest| {
            rest.len() == 26
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        });
        if valid {
            Ok(())
        } else {
            Err(ValidationError::new(
                "invalid_id",
                format!("`{id}` is not a valid card top-up id (ctu_ and 26 lower-case characters)"),
            ))
        }
    }

    /// When the sweep should ask the gateway about it, while pending.
    pub fn reconcile_at_ms(&self) -> u64 {
        self.created_at.unix_ms + RECONCILE_AFTER_MS
    }

    /// The same top-up, changed at `now` (the next version).
    pub fn changed(&self, now: Timestamp, change: impl FnOnce(&mut CardTopUp)) -> CardTopUp {
        let mut next = self.clone();
        change(&mut next);
        next.updated_at = now.max(self.updated_at);
        next.version = self.version + 1;
        next
    }
}

/// What the portal (or a link's page) asks to charge: the id is the caller's (a form's
/// idempotency key), so a resubmitted form finds the first one's top-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCardTopUp {
    pub id: String,
    pub currency: Currency,
    pub amount: i64,
    /// The SetupIntent Stripe.js confirmed; its payment method is the card charged.
    pub setup_intent_id: String,
    pub source: TopUpSource,
    pub save_card: bool,
    pub limits: TopUpLimits,
}

/// What the browser needs to collect a card with Stripe.js (`confirmCardSetup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSetup {
    pub client_secret: String,
    pub setup_intent_id: String,
    pub gateway_customer_id: String,
}

/// A pending top-up found by the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardTopUpRef {
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    pub id: String,
}

/// What the gateway says of a top-up's PaymentIntent (from a webhook event, or asked by the
/// sweep): the input of `settle_card_top_up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPayment {
    pub payment_intent_id: String,
    /// Minor units, as the gateway holds it.
    pub amount: i64,
    /// Lower-case ISO code, as the gateway holds it.
    pub currency: String,
    pub state: PaymentState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentState {
    /// The money was taken.
    Succeeded,
    /// Nothing was taken and this PaymentIntent will not succeed.
    Failed { decline_code: Option<String> },
    /// Still processing: nothing to do yet.
    Pending,
}

impl PaymentState {
    /// What a Stripe PaymentIntent status means for a top-up confirmed off-session.
    pub fn of_stripe_status(status: &str, decline_code: Option<String>) -> PaymentState {
        match status {
            "succeeded" => PaymentState::Succeeded,
            // After a failed confirmation it wants another payment method; `requires_action`
            // (3-D Secure) cannot be met off-session.
            "requires_payment_method" | "canceled" | "requires_action" => {
                PaymentState::Failed { decline_code }
            }
            _ => PaymentState::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sources_and_statuses_have_their_documented_forms() {
        let id = CardTopUp::new_id(1_700_000_000_000);
        assert!(CardTopUp::check_id(&id).is_ok(), "{id}");
        assert_eq!(id.len(), 30);
        for bad in [
            "",
            "ctu_",
            "ctu_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "tpa_01hzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            assert!(CardTopUp::check_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_value(TopUpSource::Portal).unwrap(),
            serde_json::json!({"type": "portal"})
        );
        assert_eq!(
            serde_json::to_value(TopUpSource::Link {
                link_id: "tul_1".into()
            })
            .unwrap(),
            serde_json::json!({"type": "link", "link_id": "tul_1"})
        );
        assert_eq!(
            serde_json::to_value(CardTopUpStatus::Succeeded).unwrap(),
            "succeeded"
        );
        assert_eq!(
            PaymentState::of_stripe_status("requires_payment_method", None),
            PaymentState::Failed { decline_code: None }
        );
        assert_eq!(
            PaymentState::of_stripe_status("processing", None),
            PaymentState::Pending
        );
    }
}
