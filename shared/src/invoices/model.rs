//! Invoice payments: wallet money applied to an invoice of the caller's billing system, once per
//! customer and invoice, and credited back by reversals.

use serde::{Deserialize, Serialize};

use crate::kernel::{
    Amount, BusinessId, Currency, CustomerId, EntryId, IdempotencyKey, InvoiceId, Timestamp,
};
use crate::ledger::model::CurrencyWallet;

/// Wallet money applied to one invoice. Its serde form is the stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoicePayment {
    pub invoice_id: InvoiceId,
    pub customer_id: CustomerId,
    pub business_id: BusinessId,
    pub currency: Currency,
    pub amount_due: i64,
    /// Taken from the wallet: `min(available balance, amount_due)` at the time.
    pub applied: i64,
    /// Left unpaid: `amount_due - applied - charged()`.
    pub remaining: i64,
    /// Credited back to the wallet by reversals so far (of the wallet part, and of the card
    /// part when a reversal sends it to the wallet).
    pub reversed: i64,
    /// The debit that applied the money (`None` when nothing was available).
    pub ledger_entry_id: Option<EntryId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Who made it (extension): the API key and request, or an automatic process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<crate::access::model::Actor>,
    /// Who changed it last (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<crate::access::model::Actor>,
    /// How it stands (issue 22); absent on payments made before it, which are worked out
    /// ([`InvoicePayment::status`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PaymentStatus>,
    /// Every charge of a saved card made for the remainder, in order (declines included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charges: Vec<CardCharge>,
    /// The charge of the remainder being made: claimed in the wallet's transaction before the
    /// gateway is called, so one invoice is charged at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_attempt: Option<ChargeAttempt>,
    /// Of the card part, how much reversals took back (to the card or to the wallet).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub card_reversed: i64,
    /// Refunds to the card, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<CardRefund>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Where an invoice payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The wallet and the cards paid it all.
    Paid,
    /// Some was paid (the wallet part stays applied); no card, or every card declined.
    PartiallyPaid,
    /// Nothing was paid.
    Failed,
    /// A card is being charged for the remainder.
    Processing,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::PartiallyPaid => "partially_paid",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Processing => "processing",
        }
    }
}

/// How one charge of a saved card ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Succeeded,
    Declined,
}

/// One charge of a saved card for an invoice's remainder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCharge {
    /// The gateway's PaymentIntent (a decline may have none).
    pub payment_intent_id: Option<String>,
    pub payment_method_id: String,
    pub amount: i64,
    pub status: ChargeStatus,
    /// For a decline: its code, and its class's fixed message (`topups::gateway::DeclineClass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub at: Timestamp,
}

/// The charge of an invoice's remainder in flight. Each card tried has its own gateway attempt
/// (`<id>_<index>`, also the idempotency key): a worker that resumes it asks the gateway for that
/// attempt's charge before making one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeAttempt {
    /// `ipa_<ulid>`.
    pub id: String,
    pub amount: i64,
    pub gateway_customer_id: String,
    /// The cards to try, in order, as they were when the charge was claimed.
    pub payment_methods: Vec<String>,
    /// The card being tried.
    pub index: usize,
    pub started_at: Timestamp,
    /// The worker holding it; after this another may take it over (same ids: never a second
    /// charge).
    pub lease_until: Timestamp,
}

impl ChargeAttempt {
    /// The gateway attempt of the card being tried (also its idempotency key).
    pub fn gateway_attempt_id(&self) -> String {
        format!("{}_{}", self.id, self.index)
    }
}

/// A refund of the card part to the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRefund {
    /// `irf_<ulid>`: the gateway's idempotency key.
    pub id: String,
    pub payment_intent_id: String,
    pub amount: i64,
    pub status: RefundStatus,
    /// The gateway's refund (`re_...`), once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// The reversal's idempotency key: a repeat of it refunds nothing more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
    pub at: Timestamp,
}

/// Where a refund to the card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Claimed; the gateway's answer is not known yet (the next reversal of the invoice asks
    /// again, with the same key).
    Pending,
    Succeeded,
    /// The gateway refused: the amount is reversible again.
    Failed,
}

impl InvoicePayment {
    /// Paid by the saved cards: the succeeded charges.
    pub fn charged(&self) -> i64 {
        self.charges
            .iter()
            .filter(|c| c.status == ChargeStatus::Succeeded)
            .map(|c| c.amount)
            .sum()
    }

    /// Refunded to the card, or on its way (failed refunds left out).
    pub fn refunded_to_card(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status != RefundStatus::Failed)
            .map(|r| r.amount)
            .sum()
    }

    /// Of the wallet part, how much reversals took back: all the wallet got back but what came
    /// from the card part.
    pub fn wallet_reversed(&self) -> i64 {
        self.reversed - (self.card_reversed - self.refunded_to_card())
    }

    /// How it stands; worked out for a payment stored before statuses were.
    pub fn status(&self) -> PaymentStatus {
        if let Some(status) = self.status {
            return status;
        }
        settled_status(self.amount_due, self.applied + self.charged())
    }

    /// The status once no charge is in flight.
    pub fn settle(&mut self) {
        self.remaining = self.amount_due - self.applied - self.charged();
        self.status = Some(settled_status(
            self.amount_due,
            self.applied + self.charged(),
        ));
    }
}

/// `paid` when all of `due` is paid, `partially_paid` when some, `failed` when none.
pub fn settled_status(due: i64, paid: i64) -> PaymentStatus {
    if paid >= due {
        PaymentStatus::Paid
    } else if paid > 0 {
        PaymentStatus::PartiallyPaid
    } else {
        PaymentStatus::Failed
    }
}

/// Where a reversal sends the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destination {
    /// Everything to the wallet, the card part too.
    Wallet,
    /// Each part back where it came from: the wallet part to the wallet, the card part to the
    /// card (a gateway refund). The default (Alguna's rule).
    #[default]
    OriginalMethod,
}

/// A validated request to pay an invoice from the wallet of its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceCommand {
    pub invoice_id: InvoiceId,
    pub currency: Currency,
    pub amount_due: Amount,
    /// Charge what the wallet does not cover to the customer's saved cards; `None`: the
    /// customer's `auto_pay`.
    pub charge_remainder: Option<bool>,
}

/// A validated request to credit back part of an invoice payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalCommand {
    pub amount: Amount,
    pub reason: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// An invoice payment and the wallet of its currency, as the invoice operations answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAndWallet {
    pub payment: InvoicePayment,
    pub wallet: CurrencyWallet,
}
