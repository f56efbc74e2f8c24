//! A customer's wallets (one per currency, versioned together) and the ledger entries that
//! change them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kernel::{Amount, BusinessId, Currency, CustomerId, EntryId, IdempotencyKey, Timestamp};
use crate::topups::model::{TopUpState, WalletSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletStatus {
    Active,
    Closed,
}

impl WalletStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WalletStatus::Active => "active",
            WalletStatus::Closed => "closed",
        }
    }
}

/// One currency's wallet of a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub balance: i64,
    pub pending_charges: i64,
    /// Ledger entries written in this currency so far; the newest has this number.
    pub entry_count: u64,
    pub status: WalletStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Low-balance threshold and auto top-up.
    #[serde(default, skip_serializing_if = "WalletSettings::is_empty")]
    pub settings: WalletSettings,
    /// The available balance is at or below the low-balance threshold: set and cleared in the
    /// same write as the balance, so each crossing is one change (one event).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub low: bool,
    /// Times `low` changed, ever: a change that crosses the threshold more than once (a batch
    /// that goes down through it and back up) counts each crossing, and each is one event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub crossings: u64,
    #[serde(default, skip_serializing_if = "TopUpState::is_idle")]
    pub top_up: TopUpState,
    /// Invoices of this currency whose remainder's card charge is in flight (issue 22), with the
    /// end of each one's lease: kept in step with the payments (every change of a payment writes
    /// the wallets), so the sweep finds them through the wallets' due index and resumes each
    /// once its lease has ended.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invoice_charges: BTreeMap<String, Timestamp>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Wallet {
    /// Balance less pending charges: what a debit or a new hold may take.
    pub fn available_balance(&self) -> i64 {
        self.balance - self.pending_charges
    }
}

/// All wallets of one customer, read and written as one versioned record so that a ledger entry
/// numbers itself densely per customer and per currency in the same conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerWallets {
    pub customer_id: CustomerId,
    /// Bumped by every change; writes are conditional on the version they read.
    pub version: u64,
    /// Ledger entries written for this customer so far, across currencies.
    pub entry_count: u64,
    /// Holds created for this customer so far (numbers them: see `holds::model::HOLD_CHUNK`).
    pub hold_count: u64,
    pub wallets: BTreeMap<Currency, Wallet>,
}

impl CustomerWallets {
    /// A fresh set of zero-balance wallets, one per enabled currency.
    pub fn open(
        customer_id: CustomerId,
        currencies: &[Currency],
        now: Timestamp,
    ) -> CustomerWallets {
        let wallet = Wallet {
            balance: 0,
            pending_charges: 0,
            entry_count: 0,
            status: WalletStatus::Active,
            created_at: now,
            updated_at: now,
            settings: WalletSettings::default(),
            low: false,
            crossings: 0,
            top_up: TopUpState::default(),
            invoice_charges: BTreeMap::new(),
        };
        let wallets = currencies.iter().map(|c| (*c, wallet.clone())).collect();
        CustomerWallets {
            customer_id,
            version: 0,
            entry_count: 0,
            hold_count: 0,
            wallets,
        }
    }
}

/// One currency's wallet with the customer it belongs to, as operations answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyWallet {
    pub customer_id: CustomerId,
    pub currency: Currency,
    pub wallet: Wallet,
}

impl CustomerWallets {
    /// The wallet of `currency`, which the caller knows exists.
    pub fn wallet_in(&self, currency: Currency) -> CurrencyWallet {
        CurrencyWallet {
            customer_id: self.customer_id.clone(),
            currency,
            wallet: self.wallets[&currency].clone(),
        }
    }
}

/// A USD-only customer with this balance and pending charges, for unit tests.
#[cfg(test)]
pub(crate) fn usd_wallets(balance: i64, pending_charges: i64) -> CustomerWallets {
    let mut wallets = CustomerWallets::open(
        CustomerId::generate(),
        &[Currency::USD],
        Timestamp::from_unix_ms(0),
    );
    let usd = wallets.wallets.get_mut(&Currency::USD).expect("USD wallet");
    usd.balance = balance;
    usd.pending_charges = pending_charges;
    wallets
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    Credit,
    Debit,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Credit => "credit",
            EntryType::Debit => "debit",
        }
    }
}

/// Why a balance changed; Dodo's event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Payment,
    PaymentReversal,
    Refund,
    RefundReversal,
    Dispute,
    DisputeReversal,
    MerchantAdjustment,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Payment => "payment",
            EventType::PaymentReversal => "payment_reversal",
            EventType::Refund => "refund",
            EventType::RefundReversal => "refund_reversal",
            EventType::Dispute => "dispute",
            EventType::DisputeReversal => "dispute_reversal",
            EventType::MerchantAdjustment => "merchant_adjustment",
        }
    }
}

/// A validated request to change one wallet's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCommand {
    pub currency: Currency,
    pub amount: Amount,
    pub entry_type: EntryType,
    pub event_type: EventType,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// One immutable ledger entry. Its serde form is the stored document (see the DynamoDB codec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: EntryId,
    pub customer_id: CustomerId,
    pub business_id: BusinessId,
    pub currency: Currency,
    /// Minor units moved, always positive.
    pub amount: i64,
    pub is_credit: bool,
    pub before_balance: i64,
    pub after_balance: i64,
    pub event_type: EventType,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    pub created_at: Timestamp,
    /// Position in the customer's ledger (1 = first entry).
    pub customer_seq: u64,
    /// Position in this currency's ledger (1 = first entry).
    pub currency_seq: u64,
    /// Who made it (extension): the API key and request, or an automatic process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<crate::access::model::Actor>,
}

/// A range of entries of one customer's ledger, by position, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRange {
    pub currency: Option<Currency>,
    pub oldest: u64,
    pub newest: u64,
}

/// The wallets of a customer and their sum in USD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletsWithTotal {
    pub wallets: CustomerWallets,
    pub total_balance_usd: i64,
}

/// One entry read by its position, with its currency's pending charges right after it when the
/// store kept them (the customer's ledger keeps them; a currency's copy does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryAt {
    pub entry: LedgerEntry,
    pub pending_after: Option<i64>,
}
