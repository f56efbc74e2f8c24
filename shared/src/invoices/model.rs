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
    /// Left to charge elsewhere: `amount_due - applied`.
    pub remaining: i64,
    /// Credited back by reversals so far (never above `applied`).
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
}

/// A validated request to pay an invoice from the wallet of its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceCommand {
    pub invoice_id: InvoiceId,
    pub currency: Currency,
    pub amount_due: Amount,
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
