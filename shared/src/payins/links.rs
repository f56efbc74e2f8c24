//! Top-up links: a merchant's link for an amount (or a range) that the customer pays by card
//! into their own wallet. A link is claimed before a card is charged, so two tabs paying one
//! single-use link charge once (`links_rules.rs`); it is marked paid when the top-up is credited
//! (`Write::TopUpLinkPaid`, in the settle's transaction), and expired by the sweep.
//!
//! The types only: imported by the change model, the errors and the events.

use serde::{Deserialize, Serialize};

use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, Currency, CustomerId, IdempotencyKey, Timestamp, TopUpLinkId};

/// How long a link lives when the request names no `expires_in`: 7 days.
pub const EXPIRES_IN_DEFAULT_S: u64 = 7 * 86_400;
/// The longest a link may live: 30 days.
pub const EXPIRES_IN_MAX_S: u64 = 30 * 86_400;
/// The shortest a link may live: a minute.
pub const EXPIRES_IN_MIN_S: u64 = 60;
/// How long a claim keeps a single-use link for its top-up: the time to charge the card. A
/// claim whose top-up neither succeeded nor was released by then may be taken by another.
pub const CLAIM_LEASE_MS: u64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopUpLinkStatus {
    /// May be paid (a single-use link once; a multi-use link until it expires or is cancelled).
    Active,
    /// A single-use link whose top-up was credited.
    Paid,
    /// Cancelled by the merchant.
    Cancelled,
    /// Reached `expires_at` unpaid (the sweep marks it).
    Expired,
}

impl TopUpLinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TopUpLinkStatus::Active => "active",
            TopUpLinkStatus::Paid => "paid",
            TopUpLinkStatus::Cancelled => "cancelled",
            TopUpLinkStatus::Expired => "expired",
        }
    }
}

/// What a link asks for: one amount, or any amount in a range (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAmount {
    Fixed(i64),
    Range { min: i64, max: i64 },
}

/// The top-up that holds a single-use link while its card is charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaim {
    /// The card top-up's id (`ctu_...`).
    pub top_up_id: String,
    pub amount: i64,
    pub claimed_at: Timestamp,
    /// Until then no other top-up may take the link.
    pub lease_until: Timestamp,
}

/// A top-up link. Its serde form is the stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpLink {
    pub id: TopUpLinkId,
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    pub currency: Currency,
    /// The amount asked for, or `None` for a range.
    pub amount: Option<i64>,
    pub min_amount: Option<i64>,
    pub max_amount: Option<i64>,
    pub reason: Option<String>,
    pub single_use: bool,
    pub status: TopUpLinkStatus,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The claim of the top-up being charged (single-use links). Kept when the link is paid,
    /// cancelled or expired meanwhile: its top-up may still be credited.
    pub paying: Option<LinkClaim>,
    /// Top-ups credited through the link, their total, and the last one.
    pub paid_count: u64,
    pub paid_amount: i64,
    pub last_paid_top_up_id: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Rises with every change; a replacement is conditional on the one read.
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<crate::access::model::Actor>,
}

impl TopUpLink {
    /// What the link asks for.
    pub fn asks(&self) -> LinkAmount {
        match (self.amount, self.min_amount, self.max_amount) {
            (Some(amount), _, _) => LinkAmount::Fixed(amount),
            (None, Some(min), Some(max)) => LinkAmount::Range { min, max },
            // Not written by the rules; read as "any positive amount" rather than failing.
            _ => LinkAmount::Range {
                min: 1,
                max: crate::kernel::money::AMOUNT_MAX_MINOR,
            },
        }
    }
}

/// A validated request to make a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpLinkCommand {
    pub currency: Currency,
    pub amount: LinkAmount,
    pub reason: Option<String>,
    pub expires_in_s: u64,
    pub single_use: bool,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// A link the sweep found past its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpLinkRef {
    pub business_id: BusinessId,
    pub link_id: TopUpLinkId,
}

/// Paging for listing a customer's links (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpLinkQuery {
    pub page: PageRequest,
}
