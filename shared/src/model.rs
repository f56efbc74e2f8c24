//! The domain's records: customers, wallets, ledger entries. Serialised field names follow Dodo's API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{BusinessId, CustomerId, IdempotencyKey};
use crate::money::{Amount, Currency};

/// Customer metadata: string keys to string, number or boolean values (Dodo's shape).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub customer_id: String,
    pub business_id: String,
    pub email: String,
    pub name: String,
    pub phone_number: Option<String>,
    pub metadata: Metadata,
    pub preferred_locale: Option<String>,
    pub created_at: String,
}

/// Fields a caller may change on a customer; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    /// `Some(None)` clears the phone number.
    pub phone_number: Option<Option<String>>,
    pub metadata: Option<Metadata>,
    /// `Some(None)` removes the preferred locale.
    pub preferred_locale: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalletStatus {
    Active,
    Closed,
}

/// One currency's wallet inside a customer's wallet set (also its stored shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletState {
    pub balance: i64,
    pub pending_charges: i64,
    /// Ledger entries written in this currency so far; the newest has this number.
    pub entry_count: u64,
    pub status: WalletStatus,
    pub created_at: String,
    pub updated_at: String,
}

/// All wallets of one customer, stored as one item so that a ledger entry numbers itself densely
/// per customer and per currency in the same conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletSet {
    pub customer_id: CustomerId,
    /// Bumped by every change; writes are conditional on the version they read.
    pub version: u64,
    /// Ledger entries written for this customer so far, across currencies.
    pub entry_count: u64,
    pub wallets: BTreeMap<Currency, WalletState>,
}

impl WalletSet {
    /// A fresh set of zero-balance wallets, one per enabled currency.
    pub fn open(customer_id: CustomerId, currencies: &[Currency], now: &str) -> WalletSet {
        let wallet = WalletState {
            balance: 0,
            pending_charges: 0,
            entry_count: 0,
            status: WalletStatus::Active,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let wallets = currencies.iter().map(|c| (*c, wallet.clone())).collect();
        WalletSet {
            customer_id,
            version: 0,
            entry_count: 0,
            wallets,
        }
    }
}

/// A USD-only wallet set with this balance and pending charges, for unit tests.
#[cfg(test)]
pub(crate) fn usd_wallets(balance: i64, pending_charges: i64) -> WalletSet {
    let mut set = WalletSet::open(CustomerId::generate(), &[Currency::USD], "t0");
    let usd = set.wallets.get_mut(&Currency::USD).expect("USD wallet");
    usd.balance = balance;
    usd.pending_charges = pending_charges;
    set
}

/// The wallet as the API shows it (Dodo's CustomerWallet plus extension fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wallet {
    pub customer_id: String,
    pub currency: String,
    pub balance: i64,
    pub pending_charges: i64,
    pub available_balance: i64,
    pub status: WalletStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl Wallet {
    pub fn view(customer_id: &CustomerId, currency: Currency, state: &WalletState) -> Wallet {
        Wallet {
            customer_id: customer_id.to_string(),
            currency: currency.code().to_owned(),
            balance: state.balance,
            pending_charges: state.pending_charges,
            available_balance: state.balance - state.pending_charges,
            status: state.status,
            created_at: state.created_at.clone(),
            updated_at: state.updated_at.clone(),
        }
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// One immutable ledger entry (Dodo's CustomerWalletTransaction plus extension fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: String,
    pub customer_id: String,
    pub business_id: String,
    pub currency: String,
    pub amount: i64,
    pub is_credit: bool,
    pub before_balance: i64,
    pub after_balance: i64,
    pub event_type: EventType,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: String,
    /// Position in the customer's ledger (1 = first entry).
    #[serde(skip)]
    pub customer_seq: u64,
    /// Position in this currency's ledger (1 = first entry).
    #[serde(skip)]
    pub currency_seq: u64,
}

/// Identity of the caller's business, established by the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub business_id: BusinessId,
}

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

/// A reservation of part of a wallet (a pending charge), as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub customer_id: String,
    pub business_id: String,
    pub currency: String,
    /// Reserved amount, in minor units.
    pub amount: i64,
    pub status: HoldStatus,
    /// Charged by the capture (0 unless captured).
    pub captured_amount: i64,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The capture's debit.
    pub ledger_entry_id: Option<String>,
    pub expires_at: String,
    /// `expires_at` in milliseconds since the epoch.
    #[serde(skip)]
    pub expires_at_ms: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// A validated request to reserve part of a wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldCommand {
    pub currency: Currency,
    pub amount: Amount,
    pub reason: Option<String>,
    pub reference_object_id: Option<String>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// When the hold lapses, in milliseconds since the epoch; `None` for the default.
    pub expires_at_ms: Option<u64>,
}

/// A validated request to capture a hold: all of it (`amount: None`) or part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureCommand {
    pub amount: Option<Amount>,
    pub reason: Option<String>,
}

/// Wallet money applied to one invoice, as stored (one per customer and invoice id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoicePayment {
    pub invoice_id: String,
    pub customer_id: String,
    pub business_id: String,
    pub currency: String,
    pub amount_due: i64,
    /// Taken from the wallet: `min(available balance, amount_due)` at the time.
    pub applied: i64,
    /// Left to charge elsewhere: `amount_due - applied`.
    pub remaining: i64,
    /// Credited back by reversals so far (never above `applied`).
    pub reversed: i64,
    /// The debit that applied the money (`None` when nothing was available).
    pub ledger_entry_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A validated request to pay an invoice from the wallet of its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceCommand {
    pub invoice_id: String,
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

/// A validated request to close one wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseCommand {
    pub currency: Currency,
    pub reason: String,
    pub reference_object_id: Option<String>,
}
