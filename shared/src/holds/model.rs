//! Holds: part of a wallet reserved (a pending charge) until captured, released or expired.

use serde::{Deserialize, Serialize};

use crate::kernel::paging::PageRequest;
use crate::kernel::{
    Amount, BusinessId, Currency, CustomerId, EntryId, HoldId, IdempotencyKey, Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Reserved: counted in the wallet's `pending_charges`.
    Pending,
    /// Charged (all or part) by one debit; the rest was released.
    Captured,
    /// Given back by the caller.
    Released,
    /// Given back because it reached `expires_at` before it was captured.
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Pending => "pending",
            HoldStatus::Captured => "captured",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }
}

/// A reservation of part of a wallet. Its serde form is the stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: HoldId,
    pub customer_id: CustomerId,
    pub business_id: BusinessId,
    pub currency: Currency,
    /// Reserved amount, in minor units.
    pub amount: i64,
    pub status: HoldStatus,
    /// Charged by the capture (0 unless captured).
    pub captured_amount: i64,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The capture's debit.
    pub ledger_entry_id: Option<EntryId>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Who made it (extension): the API key and request, or an automatic process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<crate::access::model::Actor>,
    /// Who changed it last (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<crate::access::model::Actor>,
}

/// A validated request to reserve part of a wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldCommand {
    pub currency: Currency,
    pub amount: Amount,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// When the hold lapses; `None` for the default.
    pub expires_at: Option<Timestamp>,
}

/// A validated request to capture a hold: all of it (`amount: None`) or part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureCommand {
    pub amount: Option<Amount>,
    pub reason: Option<String>,
}

/// A hold the sweep found past its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRef {
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    pub hold_id: HoldId,
}

/// Filters and paging for listing a customer's holds (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldQuery {
    pub status: Option<HoldStatus>,
    pub currency: Option<Currency>,
    pub page: PageRequest,
}
