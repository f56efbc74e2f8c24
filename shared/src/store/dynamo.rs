//! The DynamoDB adapter of the storage port. Key layout (one table, see README "Data model"):
//!
//! | item            | pk                    | sk                 | other keys                        |
//! |-----------------|-----------------------|--------------------|-----------------------------------|
//! | business        | `BIZ#<business>`      | `#BUSINESS`        |                                   |
//! | API key         | `KEY#<sha256 of key>` | `#KEY`             |                                   |
//! | customer        | `BIZ#<business>`      | `CUS#<customer>`   | `email_key` (GSI `by_email`)      |
//! | wallet set      | `CUS#<business>#<id>` | `#WALLETS`         |                                   |
//! | ledger entry    | `CUS#<business>#<id>` | `LED#<n:020>`      | `csk` = `<CUR>#<n:020>` (LSI)     |
//! | hold            | `CUS#<business>#<id>` | `HLD#<hold>`       | pending: `exp_shard`, `exp_at` (GSI `by_expiry`) |
//! | invoice payment | `CUS#<business>#<id>` | `INV#<invoice>`    |                                   |
//! | idempotency key | `IDEM#<business>#<k>` | `#IDEM`            |                                   |
//!
//! Records are stored as a JSON `doc` attribute beside the key and condition attributes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, Put, ReturnConsumedCapacity, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::table::{
    GSI_EMAIL, GSI_EMAIL_PK, GSI_EXPIRY, GSI_EXPIRY_PK, GSI_EXPIRY_SK, HOLD_EXPIRY_SHARDS,
    LSI_CURRENCY, LSI_CURRENCY_SK, PK, SK,
};
use super::{
    Commit, CommitRejected, CustomerQuery, EntryRange, HoldQuery, HoldRef, HoldWrite, InvoiceWrite,
    Store,
};
use crate::error::{DomainError, DomainResult, Original};
use crate::ids::{BusinessId, CustomerId, HoldId, IdempotencyKey};
use crate::model::{
    Customer, CustomerPatch, Hold, HoldStatus, InvoicePayment, LedgerEntry, WalletSet, WalletState,
};
use crate::money::Currency;
use crate::retry::{backoff, ATTEMPTS_MAX};

type Item = HashMap<String, AttributeValue>;
type TransactError = SdkError<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    aws_sdk_dynamodb::config::http::HttpResponse,
>;

const DOC: &str = "doc";
/// Lower-case name on customer items, for the case-insensitive name filter.
const NAME_LOWER: &str = "name_lc";
const VERSION: &str = "ver";
const WALLETS_SK: &str = "#WALLETS";
const IDEM_SK: &str = "#IDEM";
/// On idempotency items: what the key produced (absent for ledger entries).
const KIND: &str = "kind";
const KIND_HOLD: &str = "hold";
const HOLD_SK_PREFIX: &str = "HLD#";
/// On hold items: the status (condition and filter) and currency (filter).
const HOLD_STATUS: &str = "st";
const HOLD_CURRENCY: &str = "cur";
/// On invoice payment items: the amount reversed so far (condition of the next reversal).
const REVERSED: &str = "rev";
const KEY_SK: &str = "#KEY";
const BUSINESS_SK: &str = "#BUSINESS";
/// Items read per query call when skipping to a page of customers or holds.
const QUERY_BATCH_MAX: i32 = 100;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    meter: Arc<Mutex<Usage>>,
}

/// Capacity DynamoDB reported, and the items written in transactions with their sizes, since the
/// last [`DynamoStore::take_usage`]. Feeds the capacity benchmark and debug logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub calls: u32,
    pub read_units: f64,
    pub write_units: f64,
    /// (item kind, size in bytes, secondary indexes it is written to), per transactional write.
    pub transaction_items: Vec<(String, usize, u32)>,
}

impl Usage {
    /// Write units billed on AWS: non-transactional writes as reported, plus transactions
    /// computed from their items.
    pub fn billed_wcu(&self) -> f64 {
        self.write_units + self.transactional_wcu() as f64
    }

    /// Write units a transaction is billed on AWS: 2 per KB (rounded up) per item and per
    /// secondary-index copy of it.
    pub fn transactional_wcu(&self) -> u64 {
        self.transaction_items
            .iter()
            .map(|(_, size, indexes)| 2 * size.div_ceil(1024) as u64 * (1 + u64::from(*indexes)))
            .sum()
    }
}

/// DynamoDB's item size: attribute names plus values (strings by UTF-8 length, numbers about one
/// byte per two digits plus one).
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(text) => text.len(),
                    AttributeValue::N(number) => number.len().div_ceil(2) + 1,
                    _ => 1,
                }
        })
        .sum()
}

fn item_kind(item: &Item) -> String {
    let sk = item
        .get(SK)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str);
    let kind = sk.split('#').find(|part| !part.is_empty()).unwrap_or("?");
    kind.to_lowercase()
}

fn secondary_indexes(item: &Item) -> u32 {
    [LSI_CURRENCY_SK, GSI_EMAIL_PK, GSI_EXPIRY_PK]
        .iter()
        .map(|index_key| u32::from(item.contains_key(*index_key)))
        .sum()
}

fn storage<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    context: &str,
    err: SdkError<E, R>,
) -> DomainError {
    DomainError::Storage(format!("{context}: {}", DisplayErrorContext(err)))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn business_pk(business_id: &BusinessId) -> String {
    format!("BIZ#{business_id}")
}

fn customer_sk(customer_id: &CustomerId) -> String {
    format!("CUS#{customer_id}")
}

fn customer_pk(business_id: &BusinessId, customer_id: &CustomerId) -> String {
    format!("CUS#{business_id}#{customer_id}")
}

fn entry_sk(position: u64) -> String {
    format!("LED#{position:020}")
}

fn currency_sk(currency: &str, position: u64) -> String {
    format!("{currency}#{position:020}")
}

fn idem_pk(business_id: &BusinessId, key: &IdempotencyKey) -> String {
    format!("IDEM#{business_id}#{}", key.as_str())
}

fn email_key(business_id: &BusinessId, email: &str) -> String {
    format!("{business_id}#{}", email.to_lowercase())
}

fn key_of(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn to_doc<T: Serialize>(record: &T) -> AttributeValue {
    s(serde_json::to_string(record).expect("records serialise to JSON"))
}

fn from_doc<T: DeserializeOwned>(item: &Item) -> DomainResult<T> {
    let doc = item
        .get(DOC)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| DomainError::Storage("item without doc".into()))?;
    serde_json::from_str(doc).map_err(|e| DomainError::Storage(format!("corrupt doc: {e}")))
}

#[derive(Serialize, Deserialize)]
struct WalletSetDoc {
    customer_id: String,
    entry_count: u64,
    wallets: std::collections::BTreeMap<Currency, WalletState>,
}

/// Stored shape of a ledger entry: the API record plus its positions.
#[derive(Serialize, Deserialize)]
struct EntryDoc {
    #[serde(flatten)]
    entry: LedgerEntry,
    customer_seq: u64,
    currency_seq: u64,
}

fn wallet_set_item(business_id: &BusinessId, set: &WalletSet) -> Item {
    let doc = WalletSetDoc {
        customer_id: set.customer_id.to_string(),
        entry_count: set.entry_count,
        wallets: set.wallets.clone(),
    };
    let mut item = key_of(customer_pk(business_id, &set.customer_id), WALLETS_SK);
    item.insert(
        VERSION.to_owned(),
        AttributeValue::N(set.version.to_string()),
    );
    item.insert(DOC.to_owned(), to_doc(&doc));
    item
}

fn wallet_set_from(item: &Item) -> DomainResult<WalletSet> {
    let doc: WalletSetDoc = from_doc(item)?;
    let version = item
        .get(VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| DomainError::Storage("wallet set without version".into()))?;
    let customer_id =
        CustomerId::parse(&doc.customer_id).map_err(|e| DomainError::Storage(e.message))?;
    Ok(WalletSet {
        customer_id,
        version,
        entry_count: doc.entry_count,
        wallets: doc.wallets,
    })
}

fn entry_item(business_id: &BusinessId, entry: &LedgerEntry) -> DomainResult<Item> {
    let customer_id = CustomerId::parse(&entry.customer_id)?;
    let mut item = key_of(
        customer_pk(business_id, &customer_id),
        &entry_sk(entry.customer_seq),
    );
    item.insert(
        LSI_CURRENCY_SK.to_owned(),
        s(currency_sk(&entry.currency, entry.currency_seq)),
    );
    item.insert(DOC.to_owned(), entry_doc(entry));
    Ok(item)
}

/// The stored document of an entry, in the entry item and in its idempotency item.
fn entry_doc(entry: &LedgerEntry) -> AttributeValue {
    to_doc(&EntryDoc {
        entry: entry.clone(),
        customer_seq: entry.customer_seq,
        currency_seq: entry.currency_seq,
    })
}

fn entry_from(item: &Item) -> DomainResult<LedgerEntry> {
    let doc: EntryDoc = from_doc(item)?;
    Ok(LedgerEntry {
        customer_seq: doc.customer_seq,
        currency_seq: doc.currency_seq,
        ..doc.entry
    })
}

fn hold_sk(hold_id: &HoldId) -> String {
    format!("{HOLD_SK_PREFIX}{hold_id}")
}

fn invoice_sk(invoice_id: &str) -> String {
    format!("INV#{invoice_id}")
}

fn expiry_shard(shard: u32) -> String {
    format!("EXP#{shard}")
}

/// Stored shape of a hold: the API record plus its expiry in milliseconds.
#[derive(Serialize, Deserialize)]
struct HoldDoc {
    #[serde(flatten)]
    hold: Hold,
    expires_at_ms: u64,
}

fn hold_doc(hold: &Hold) -> AttributeValue {
    to_doc(&HoldDoc {
        hold: hold.clone(),
        expires_at_ms: hold.expires_at_ms,
    })
}

fn hold_from(item: &Item) -> DomainResult<Hold> {
    let doc: HoldDoc = from_doc(item)?;
    Ok(Hold {
        expires_at_ms: doc.expires_at_ms,
        ..doc.hold
    })
}

/// A hold item; while pending it is also in the sparse expiry index, in a shard picked by its id.
fn hold_item(business_id: &BusinessId, hold: &Hold) -> DomainResult<Item> {
    let customer_id = CustomerId::parse(&hold.customer_id)?;
    let hold_id = HoldId::parse(&hold.id)?;
    let mut item = key_of(customer_pk(business_id, &customer_id), &hold_sk(&hold_id));
    item.insert(HOLD_STATUS.to_owned(), s(hold.status.as_str()));
    item.insert(HOLD_CURRENCY.to_owned(), s(hold.currency.clone()));
    if hold.status == HoldStatus::Pending {
        let shard = hold.id.bytes().map(u32::from).sum::<u32>() % HOLD_EXPIRY_SHARDS;
        item.insert(GSI_EXPIRY_PK.to_owned(), s(expiry_shard(shard)));
        item.insert(
            GSI_EXPIRY_SK.to_owned(),
            s(format!("{:013}#{}", hold.expires_at_ms, hold.id)),
        );
    }
    item.insert(DOC.to_owned(), hold_doc(hold));
    Ok(item)
}

/// The hold an expiry-index item (keys only) points at.
fn hold_ref_from(item: &Item) -> DomainResult<HoldRef> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| DomainError::Storage(format!("expiry index item without {name}")))
    };
    let corrupt = || DomainError::Storage("expiry index points at a non-hold item".into());
    let (business, customer) = text(PK)?
        .strip_prefix("CUS#")
        .and_then(|rest| rest.split_once('#'))
        .ok_or_else(corrupt)?;
    let hold = text(SK)?.strip_prefix(HOLD_SK_PREFIX).ok_or_else(corrupt)?;
    let parsed = |e: crate::ValidationError| DomainError::Storage(e.message);
    Ok(HoldRef {
        business_id: BusinessId::parse(business).map_err(parsed)?,
        customer_id: CustomerId::parse(customer).map_err(parsed)?,
        hold_id: HoldId::parse(hold).map_err(parsed)?,
    })
}

fn invoice_item(business_id: &BusinessId, payment: &InvoicePayment) -> DomainResult<Item> {
    let customer_id = CustomerId::parse(&payment.customer_id)?;
    let mut item = key_of(
        customer_pk(business_id, &customer_id),
        &invoice_sk(&payment.invoice_id),
    );
    item.insert(
        REVERSED.to_owned(),
        AttributeValue::N(payment.reversed.to_string()),
    );
    item.insert(DOC.to_owned(), to_doc(payment));
    Ok(item)
}

fn customer_item(business_id: &BusinessId, customer: &Customer) -> DomainResult<Item> {
    let customer_id = CustomerId::parse(&customer.customer_id)?;
    let mut item = key_of(business_pk(business_id), &customer_sk(&customer_id));
    item.insert(
        GSI_EMAIL_PK.to_owned(),
        s(email_key(business_id, &customer.email)),
    );
    item.insert(NAME_LOWER.to_owned(), s(customer.name.to_lowercase()));
    item.insert(DOC.to_owned(), to_doc(customer));
    Ok(item)
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            meter: Arc::default(),
        }
    }

    /// Usage since the previous call, and resets it.
    pub fn take_usage(&self) -> Usage {
        std::mem::take(&mut *self.meter.lock().expect("meter lock"))
    }

    fn record<'a>(
        &self,
        write: bool,
        consumed: impl IntoIterator<Item = &'a ConsumedCapacity>,
        transaction: &[TransactWriteItem],
    ) {
        let units: f64 = consumed
            .into_iter()
            .filter_map(|c| c.capacity_units())
            .sum();
        let mut usage = self.meter.lock().expect("meter lock");
        usage.calls += 1;
        // Transactions are priced from their items (DynamoDB Local under-reports them).
        if transaction.is_empty() {
            if write {
                usage.write_units += units;
            } else {
                usage.read_units += units;
            }
        }
        for item in transaction
            .iter()
            .filter_map(|t| t.put.as_ref())
            .map(|p| &p.item)
        {
            usage.transaction_items.push((
                item_kind(item),
                item_size(item),
                secondary_indexes(item),
            ));
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transactional put on condition that `attribute` of the stored item equals `expected`.
    fn put_if(&self, item: Item, attribute: &str, expected: AttributeValue) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#guard = :expected")
            .expression_attribute_names("#guard", attribute)
            .expression_attribute_values(":expected", expected)
            .build()
            .expect("put has table, item");
        TransactWriteItem::builder().put(put).build()
    }

    /// A transactional put that only creates: condition `attribute_not_exists(pk)`.
    fn put_new(&self, item: Item) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("put has table, item");
        TransactWriteItem::builder().put(put).build()
    }

    async fn get(&self, key: Item, consistent: bool) -> DomainResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| storage("get item", e))?;
        self.record(false, out.consumed_capacity(), &[]);
        Ok(out.item)
    }

    /// Runs one transaction, metering it.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        let out = self
            .client
            .transact_write_items()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_transact_items(Some(items.clone()))
            .send()
            .await?;
        self.record(true, out.consumed_capacity(), &items);
        Ok(())
    }

    /// Page `page_number` of `page_size` items of a query: skips the earlier pages' items
    /// (O(page number) reads), reading in batches of [`QUERY_BATCH_MAX`].
    async fn query_page<T>(
        &self,
        request: QueryFluentBuilder,
        what: &str,
        (page_number, page_size): (u32, u32),
        parse: impl Fn(&Item) -> DomainResult<T>,
    ) -> DomainResult<Vec<T>> {
        let skip = u64::from(page_number) * u64::from(page_size);
        let want = u64::from(page_size);
        let mut seen: u64 = 0;
        let mut page = Vec::new();
        let mut start_key = None;
        loop {
            let out = request
                .clone()
                .limit(QUERY_BATCH_MAX)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| storage(what, e))?;
            self.record(false, out.consumed_capacity(), &[]);
            for item in out.items() {
                if seen >= skip && (page.len() as u64) < want {
                    page.push(parse(item)?);
                }
                seen += 1;
            }
            start_key = out.last_evaluated_key;
            if start_key.is_none() || page.len() as u64 >= want {
                return Ok(page);
            }
        }
    }

    /// Cancellation reason codes of a failed transaction, in item order; `None` for other errors.
    fn cancellation_codes<R: std::fmt::Debug>(
        err: &SdkError<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
            R,
        >,
    ) -> Option<Vec<String>> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
        match err.as_service_error()? {
            E::TransactionCanceledException(cancelled) => Some(
                cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_owned())
                    .collect(),
            ),
            _ => None,
        }
    }
}

impl Store for DynamoStore {
    async fn business_of_key(&self, key_hash: &str) -> DomainResult<Option<BusinessId>> {
        let Some(item) = self
            .get(key_of(format!("KEY#{key_hash}"), KEY_SK), false)
            .await?
        else {
            return Ok(None);
        };
        let raw = item
            .get("business_id")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| DomainError::Storage("key without business".into()))?;
        Ok(Some(
            BusinessId::parse(raw).map_err(|e| DomainError::Storage(e.message))?,
        ))
    }

    async fn create_business(
        &self,
        business_id: &BusinessId,
        name: &str,
        key_hash: &str,
        now: &str,
    ) -> DomainResult<()> {
        let mut business = key_of(business_pk(business_id), BUSINESS_SK);
        business.insert("name".into(), s(name));
        business.insert("created_at".into(), s(now));
        let mut key = key_of(format!("KEY#{key_hash}"), KEY_SK);
        key.insert("business_id".into(), s(business_id.as_str()));
        key.insert("created_at".into(), s(now));
        // Condition: ids and key hashes are fresh; never overwrite an existing business or key.
        self.transact(vec![self.put_new(business), self.put_new(key)])
            .await
            .map_err(|e| storage("create business", e))?;
        Ok(())
    }

    async fn create_customer(&self, customer: &Customer, wallets: &WalletSet) -> DomainResult<()> {
        let business_id = BusinessId::parse(&customer.business_id)?;
        // Condition: a new customer id never replaces an existing customer or wallet set.
        self.transact(vec![
            self.put_new(customer_item(&business_id, customer)?),
            self.put_new(wallet_set_item(&business_id, wallets)),
        ])
        .await
        .map_err(|e| storage("create customer", e))?;
        Ok(())
    }

    async fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Customer>> {
        match self
            .get(
                key_of(business_pk(business_id), &customer_sk(customer_id)),
                false,
            )
            .await?
        {
            Some(item) => Ok(Some(from_doc(&item)?)),
            None => Ok(None),
        }
    }

    async fn update_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        patch: &CustomerPatch,
    ) -> DomainResult<Option<Customer>> {
        for attempt in 0..ATTEMPTS_MAX {
            let Some(item) = self
                .get(
                    key_of(business_pk(business_id), &customer_sk(customer_id)),
                    true,
                )
                .await?
            else {
                return Ok(None);
            };
            let previous_doc = item.get(DOC).cloned().expect("from_doc below checks doc");
            let mut customer: Customer = from_doc(&item)?;
            if let Some(email) = &patch.email {
                customer.email = email.clone();
            }
            if let Some(name) = &patch.name {
                customer.name = name.clone();
            }
            if let Some(phone_number) = &patch.phone_number {
                customer.phone_number = phone_number.clone();
            }
            if let Some(metadata) = &patch.metadata {
                customer.metadata = metadata.clone();
            }
            if let Some(locale) = &patch.preferred_locale {
                customer.preferred_locale = locale.clone();
            }
            // Condition: the customer is unchanged since read (compare-and-set on the document),
            // so two concurrent patches never lose each other's fields.
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(customer_item(business_id, &customer)?))
                .condition_expression("#doc = :previous")
                .expression_attribute_names("#doc", DOC)
                .expression_attribute_values(":previous", previous_doc)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            match result {
                Ok(out) => {
                    self.record(true, out.consumed_capacity(), &[]);
                    return Ok(Some(customer));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    backoff(attempt).await
                }
                Err(e) => return Err(storage("update customer", e)),
            }
        }
        Err(DomainError::Contention)
    }

    async fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        let (created_from_ms, created_to_ms) = (
            query.created_from_ms.unwrap_or(0),
            query.created_to_ms.unwrap_or(u64::MAX),
        );
        if created_from_ms > created_to_ms {
            return Ok(Vec::new());
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false);
        // Customer ids carry their creation millisecond, so a date range is a key range.
        let (oldest, newest) = CustomerId::bounds(created_from_ms, created_to_ms);
        request = request
            .expression_attribute_values(":oldest", s(customer_sk(&oldest)))
            .expression_attribute_values(":newest", s(customer_sk(&newest)));
        request = match &query.email {
            Some(email) => request
                .index_name(GSI_EMAIL)
                .key_condition_expression("#ek = :ek AND sk BETWEEN :oldest AND :newest")
                .expression_attribute_names("#ek", GSI_EMAIL_PK)
                .expression_attribute_values(":ek", s(email_key(business_id, email))),
            None => request
                .key_condition_expression("pk = :pk AND sk BETWEEN :oldest AND :newest")
                .expression_attribute_values(":pk", s(business_pk(business_id))),
        };
        if let Some(part) = &query.name_contains {
            request = request
                .filter_expression("contains(#name, :name)")
                .expression_attribute_names("#name", NAME_LOWER)
                .expression_attribute_values(":name", s(part.to_lowercase()));
        }
        self.query_page(
            request,
            "list customers",
            (query.page_number, query.page_size),
            from_doc,
        )
        .await
    }

    async fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<WalletSet>> {
        match self
            .get(
                key_of(customer_pk(business_id, customer_id), WALLETS_SK),
                true,
            )
            .await?
        {
            Some(item) => Ok(Some(wallet_set_from(&item)?)),
            None => Ok(None),
        }
    }

    async fn commit(
        &self,
        business_id: &BusinessId,
        commit: &Commit,
    ) -> DomainResult<Result<(), CommitRejected>> {
        let next = &commit.wallets;
        let previous_version = next
            .version
            .checked_sub(1)
            .expect("a committed wallet set has a version above zero");
        // Condition: the wallet set is the version the change was computed from (no lost update;
        // balances, pending charges and entry positions stay consistent).
        let wallets = Put::builder()
            .table_name(&self.table)
            .set_item(Some(wallet_set_item(business_id, next)))
            .condition_expression("#ver = :previous")
            .expression_attribute_names("#ver", VERSION)
            .expression_attribute_values(
                ":previous",
                AttributeValue::N(previous_version.to_string()),
            )
            .build()
            .expect("put has table, item");
        let mut items = vec![TransactWriteItem::builder().put(wallets).build()];
        if let Some(entry) = &commit.entry {
            assert_eq!(
                next.entry_count, entry.customer_seq,
                "entry numbered from the wallet set it updates"
            );
            // Condition: an entry position is written once (guards the chain even if versions were reused).
            items.push(self.put_new(entry_item(business_id, entry)?));
        }
        match &commit.hold {
            // Condition: a hold id is used once.
            Some(HoldWrite::New(hold)) => items.push(self.put_new(hold_item(business_id, hold)?)),
            // Condition: only a pending hold is resolved, and only once.
            Some(HoldWrite::Resolved(hold)) => items.push(self.put_if(
                hold_item(business_id, hold)?,
                HOLD_STATUS,
                s(HoldStatus::Pending.as_str()),
            )),
            None => {}
        }
        let invoice_at = items.len();
        match &commit.invoice {
            // Condition: an invoice is paid from a customer's wallet once.
            Some(InvoiceWrite::New(payment)) => {
                items.push(self.put_new(invoice_item(business_id, payment)?))
            }
            // Condition: no other reversal landed since this one was computed.
            Some(InvoiceWrite::Reversed {
                payment,
                reversed_before,
            }) => items.push(self.put_if(
                invoice_item(business_id, payment)?,
                REVERSED,
                AttributeValue::N(reversed_before.to_string()),
            )),
            None => {}
        }
        let claim_at = items.len();
        if let Some((key, original)) = &commit.claim {
            let mut claim = key_of(idem_pk(business_id, key), IDEM_SK);
            let (customer_id, doc) = match original {
                Original::Entry(entry) => (&entry.customer_id, entry_doc(entry)),
                Original::Hold(hold) => {
                    claim.insert(KIND.to_owned(), s(KIND_HOLD));
                    (&hold.customer_id, hold_doc(hold))
                }
            };
            claim.insert("customer_id".into(), s(customer_id.clone()));
            claim.insert(DOC.to_owned(), doc);
            // Condition: an idempotency key takes effect at most once per business, forever.
            items.push(self.put_new(claim));
        }
        let new_invoice = matches!(commit.invoice, Some(InvoiceWrite::New(_)));
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(err) => match Self::cancellation_codes(&err) {
                Some(codes) => {
                    let failed =
                        |at: usize| codes.get(at).is_some_and(|c| c == "ConditionalCheckFailed");
                    if commit.claim.is_some() && failed(claim_at) {
                        Ok(Err(CommitRejected::KeyTaken))
                    } else if new_invoice && failed(invoice_at) {
                        Ok(Err(CommitRejected::InvoiceTaken))
                    } else if codes
                        .iter()
                        .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
                    {
                        Ok(Err(CommitRejected::Raced))
                    } else {
                        Err(storage("commit wallet change", err))
                    }
                }
                None => Err(storage("commit wallet change", err)),
            },
        }
    }

    async fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<Original>> {
        let Some(item) = self
            .get(key_of(idem_pk(business_id, key), IDEM_SK), true)
            .await?
        else {
            return Ok(None);
        };
        let is_hold = item
            .get(KIND)
            .and_then(|v| v.as_s().ok())
            .is_some_and(|k| k == KIND_HOLD);
        Ok(Some(if is_hold {
            Original::Hold(hold_from(&item)?)
        } else {
            Original::Entry(entry_from(&item)?)
        }))
    }

    async fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Option<Hold>> {
        self.get(
            key_of(customer_pk(business_id, customer_id), &hold_sk(hold_id)),
            true,
        )
        .await?
        .map(|item| hold_from(&item))
        .transpose()
    }

    async fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
    ) -> DomainResult<Vec<Hold>> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND begins_with(sk, :holds)")
            .expression_attribute_values(":pk", s(customer_pk(business_id, customer_id)))
            .expression_attribute_values(":holds", s(HOLD_SK_PREFIX));
        let mut filters = Vec::new();
        if let Some(status) = query.status {
            filters.push("#st = :st");
            request = request
                .expression_attribute_names("#st", HOLD_STATUS)
                .expression_attribute_values(":st", s(status.as_str()));
        }
        if let Some(currency) = query.currency {
            filters.push("#cur = :cur");
            request = request
                .expression_attribute_names("#cur", HOLD_CURRENCY)
                .expression_attribute_values(":cur", s(currency.code()));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        self.query_page(
            request,
            "list holds",
            (query.page_number, query.page_size),
            hold_from,
        )
        .await
    }

    async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        let mut found = Vec::new();
        for shard in 0..HOLD_EXPIRY_SHARDS {
            let mut start_key = None;
            loop {
                let remaining = limit.saturating_sub(found.len());
                if remaining == 0 {
                    return Ok(found);
                }
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(GSI_EXPIRY)
                    .key_condition_expression("#shard = :shard AND #at < :after")
                    .expression_attribute_names("#shard", GSI_EXPIRY_PK)
                    .expression_attribute_names("#at", GSI_EXPIRY_SK)
                    .expression_attribute_values(":shard", s(expiry_shard(shard)))
                    // Every expiry at or before `now_ms` sorts before the next millisecond.
                    .expression_attribute_values(":after", s(format!("{:013}", now_ms + 1)))
                    .limit(i32::try_from(remaining.min(1000)).expect("at most 1000"))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .set_exclusive_start_key(start_key)
                    .send()
                    .await
                    .map_err(|e| storage("find expired holds", e))?;
                self.record(false, out.consumed_capacity(), &[]);
                for item in out.items() {
                    found.push(hold_ref_from(item)?);
                }
                start_key = out.last_evaluated_key;
                if start_key.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &str,
    ) -> DomainResult<Option<InvoicePayment>> {
        self.get(
            key_of(
                customer_pk(business_id, customer_id),
                &invoice_sk(invoice_id),
            ),
            true,
        )
        .await?
        .map(|item| from_doc(&item))
        .transpose()
    }

    async fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        let (sort_key, low, high, index) = match range.currency {
            Some(c) => (
                LSI_CURRENCY_SK,
                currency_sk(c.code(), range.oldest),
                currency_sk(c.code(), range.newest),
                Some(LSI_CURRENCY),
            ),
            None => (SK, entry_sk(range.oldest), entry_sk(range.newest), None),
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#sk", sort_key)
            .expression_attribute_values(":pk", s(customer_pk(business_id, customer_id)))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| storage("list ledger entries", e))?;
        self.record(false, out.consumed_capacity(), &[]);
        out.items().iter().map(entry_from).collect()
    }
}
