//! The storage port: what the wallet operations need from a database, and nothing of how.

pub mod dynamo;
pub mod table;

use std::future::Future;

use crate::error::{DomainResult, Original};
use crate::ids::{BusinessId, CustomerId, HoldId, IdempotencyKey};
use crate::model::{
    Customer, CustomerPatch, Hold, HoldStatus, InvoicePayment, LedgerEntry, WalletSet,
};
use crate::money::Currency;

/// Everything one change of a customer's wallets writes, in one transaction. The wallet set is
/// written on condition that it is still the version before `wallets.version`; every other item
/// has a condition of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub wallets: WalletSet,
    pub entry: Option<LedgerEntry>,
    pub hold: Option<HoldWrite>,
    pub invoice: Option<InvoiceWrite>,
    /// Claims an idempotency key for the business, forever, with the record it produced.
    pub claim: Option<(IdempotencyKey, Original)>,
}

impl Commit {
    pub fn wallets(wallets: WalletSet) -> Commit {
        Commit {
            wallets,
            entry: None,
            hold: None,
            invoice: None,
            claim: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HoldWrite {
    /// A new hold: condition, the id is unused.
    New(Hold),
    /// A pending hold resolved (captured, released, expired): condition, it is still pending.
    Resolved(Hold),
}

#[derive(Debug, Clone, PartialEq)]
pub enum InvoiceWrite {
    /// The first payment of an invoice: condition, the invoice has none yet.
    New(InvoicePayment),
    /// A reversal: condition, nothing was reversed since `reversed_before` was read.
    Reversed {
        payment: InvoicePayment,
        reversed_before: i64,
    },
}

/// Why a commit did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum CommitRejected {
    /// Something changed since it was read; read again and retry.
    Raced,
    /// The idempotency key already belongs to an earlier record.
    KeyTaken,
    /// The invoice was already paid from this customer's wallet.
    InvoiceTaken,
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
    pub page_number: u32,
    pub page_size: u32,
}

/// A range of entries of one customer's ledger, by position, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRange {
    pub currency: Option<Currency>,
    pub oldest: u64,
    pub newest: u64,
}

/// Filters and paging for listing customers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerQuery {
    pub email: Option<String>,
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
    /// Created at or after this millisecond.
    pub created_from_ms: Option<u64>,
    /// Created at or before this millisecond.
    pub created_to_ms: Option<u64>,
    pub page_number: u32,
    pub page_size: u32,
}

pub trait Store: Send + Sync {
    fn business_of_key(
        &self,
        key_hash: &str,
    ) -> impl Future<Output = DomainResult<Option<BusinessId>>> + Send;
    fn create_business(
        &self,
        business_id: &BusinessId,
        name: &str,
        key_hash: &str,
        now: &str,
    ) -> impl Future<Output = DomainResult<()>> + Send;

    /// Writes the customer and its wallets atomically.
    fn create_customer(
        &self,
        customer: &Customer,
        wallets: &WalletSet,
    ) -> impl Future<Output = DomainResult<()>> + Send;
    fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Option<Customer>>> + Send;
    /// Applies the patch if the customer exists; `None` if it does not.
    fn update_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        patch: &CustomerPatch,
    ) -> impl Future<Output = DomainResult<Option<Customer>>> + Send;
    fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> impl Future<Output = DomainResult<Vec<Customer>>> + Send;

    /// The customer's wallets, read consistently; `None` if the customer does not exist.
    fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Option<WalletSet>>> + Send;
    /// Writes everything in `commit` in one transaction, or nothing.
    fn commit(
        &self,
        business_id: &BusinessId,
        commit: &Commit,
    ) -> impl Future<Output = DomainResult<Result<(), CommitRejected>>> + Send;
    /// The record that first used an idempotency key, if any.
    fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> impl Future<Output = DomainResult<Option<Original>>> + Send;
    fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> impl Future<Output = DomainResult<Option<Hold>>> + Send;
    fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
    ) -> impl Future<Output = DomainResult<Vec<Hold>>> + Send;
    /// Pending holds of every business whose expiry is at or before `now_ms`, at most `limit`.
    fn expired_holds(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = DomainResult<Vec<HoldRef>>> + Send;
    fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &str,
    ) -> impl Future<Output = DomainResult<Option<InvoicePayment>>> + Send;
    fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> impl Future<Output = DomainResult<Vec<LedgerEntry>>> + Send;
}
