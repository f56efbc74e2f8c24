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

/// Holds per chunk of a customer's holds: the hold numbered `n` (from 0, in creation order) is in
/// chunk `n / HOLD_CHUNK`, and its id says which: `hld_<ulid>` in chunk 0, `hld_<ulid>_<k>` in
/// chunk k. The store keeps each chunk in a partition of its own, so no partition grows past
/// this many holds (plus, for a customer of a table upgraded from an earlier layout, its earlier
/// holds, which are in chunk 0).
pub const HOLD_CHUNK: u64 = 100_000;

/// The id of the hold numbered `number` of its customer: `base` in its chunk.
pub fn hold_id_numbered(base: &HoldId, number: u64) -> HoldId {
    match number / HOLD_CHUNK {
        0 => base.clone(),
        chunk => HoldId::parse(&format!("{base}_{chunk}")).expect("an id with a chunk suffix"),
    }
}

/// The chunk a hold id names (0 without a suffix).
pub fn chunk_of_hold(id: &HoldId) -> u64 {
    id.as_str()
        .strip_prefix(HoldId::PREFIX)
        .and_then(|rest| rest.rsplit_once('_'))
        .and_then(|(_, chunk)| chunk.parse().ok())
        .unwrap_or(0)
}

/// The newest chunk of a customer that has created `hold_count` holds.
pub fn newest_hold_chunk(hold_count: u64) -> u64 {
    hold_count.saturating_sub(1) / HOLD_CHUNK
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_id_names_its_chunk_and_the_first_chunk_keeps_the_plain_id() {
        let base = HoldId::generate();
        assert_eq!(hold_id_numbered(&base, 0), base);
        assert_eq!(hold_id_numbered(&base, HOLD_CHUNK - 1), base);
        assert_eq!(chunk_of_hold(&base), 0);
        let second = hold_id_numbered(&base, HOLD_CHUNK);
        assert_eq!(second.as_str(), format!("{base}_1"));
        assert_eq!(chunk_of_hold(&second), 1);
        assert_eq!(
            chunk_of_hold(&hold_id_numbered(&base, 7 * HOLD_CHUNK + 3)),
            7
        );
        // Ids a caller makes up name some chunk, or the first; the store finds nothing there.
        assert_eq!(chunk_of_hold(&HoldId::parse("hld_x_y").unwrap()), 0);
        assert_eq!(chunk_of_hold(&HoldId::parse("hld_1").unwrap()), 0);
        assert_eq!(newest_hold_chunk(0), 0);
        assert_eq!(newest_hold_chunk(HOLD_CHUNK), 0);
        assert_eq!(newest_hold_chunk(HOLD_CHUNK + 1), 1);
    }
}
