//! The storage port: what the wallet operations need from a database, and nothing of how.

pub mod dynamo;
pub mod table;

use std::future::Future;

use crate::error::DomainResult;
use crate::ids::{BusinessId, CustomerId, IdempotencyKey};
use crate::model::{Customer, CustomerPatch, LedgerEntry, WalletSet};
use crate::money::Currency;

/// Why a ledger commit did not happen.
#[derive(Debug)]
pub enum CommitRejected {
    /// The wallet set changed since it was read; read again and retry.
    Raced,
    /// The idempotency key already belongs to an earlier entry.
    KeyTaken,
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
    /// Writes `next` (conditional on the version read) and `entry`, and claims the idempotency
    /// key if there is one, all in one transaction.
    fn commit_entry(
        &self,
        business_id: &BusinessId,
        next: &WalletSet,
        entry: &LedgerEntry,
        key: Option<&IdempotencyKey>,
    ) -> impl Future<Output = DomainResult<Result<(), CommitRejected>>> + Send;
    /// The entry that first used an idempotency key, if any.
    fn entry_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> impl Future<Output = DomainResult<Option<LedgerEntry>>> + Send;
    fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> impl Future<Output = DomainResult<Vec<LedgerEntry>>> + Send;
}
