//! The DynamoDB adapter of every store port: one table (`table.rs`), its key layout (`keys.rs`),
//! items to records (`codec.rs`), changes as conditional writes (`commit.rs`), list and index
//! queries (`queries.rs`), failed calls as domain errors (`errors.rs`), and capacity metering for
//! the benchmark (`meter.rs`, off by default).

mod codec;
mod commit;
pub mod delivery_rate;
mod endpoint_count;
mod errors;
pub mod keys;
pub mod links;
pub mod meter;
mod payins;
pub mod permissions;
pub mod portal;
mod queries;
pub mod sessions;
pub mod stream;
pub mod table;
mod timing;
pub mod totals;
pub mod upgrade;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::Client;

use self::codec::*;
use self::errors::{condition_failed, storage};
use self::keys::*;
use self::meter::{consumed_capacity, Call, Meter, Usage};
use crate::access::model::ApiKey;
use crate::access::model::Session;
use crate::change::model::{Change, Rejection};
use crate::config::Config;
use crate::customers::model::{Customer, CustomerQuery, CustomerRevision};
use crate::error::{DomainResult, Original};
use crate::holds::model::{Hold, HoldQuery, HoldRef};
use crate::invoices::model::InvoicePayment;
use crate::kernel::Currency;
use crate::kernel::{BusinessId, CustomerId, HoldId, IdempotencyKey, InvoiceId, Timestamp};
use crate::ledger::model::{CustomerWallets, EntryAt, EntryRange, LedgerEntry};
use crate::ports::{
    CustomerStore, HoldStore, InvoiceStore, KeyStore, LedgerStore, TotalsStore, WalletStore,
};
use crate::reports::model::{Day, DayTotals, Movement};

/// Time to open a connection to DynamoDB.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Time one attempt of a call may take before the SDK gives it up and retries.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts of one call (the SDK's standard retry: timeouts, throttling, 5xx, with jittered
/// exponential backoff from [`RETRY_BACKOFF_INITIAL`]). Transactions keep their
/// `ClientRequestToken` across these attempts, so a retried commit never applies twice.
pub const ATTEMPTS_PER_CALL: u32 = 3;
pub const RETRY_BACKOFF_INITIAL: Duration = Duration::from_millis(50);
/// Time one call may take, all its attempts included. A request makes its calls one after the
/// other and answers 503 at the first that fails, so a stalled store answers within about this.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    meter: Option<Arc<Meter>>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            meter: None,
        }
    }

    /// The store of `config`'s table (DynamoDB Local when an endpoint is set), with the time
    /// budgets below on every call.
    pub async fn connect(config: &Config) -> DynamoStore {
        // A slower budget only where a test run asks for it (`DYNAMODB_TIMEOUT_SECONDS`, config.rs);
        // the attempts keep their share of it.
        let (attempt, operation) = match config.dynamodb_timeout {
            Some(operation) => (operation * 2 / 5, operation),
            None => (ATTEMPT_TIMEOUT, OPERATION_TIMEOUT),
        };
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(attempt)
            .operation_timeout(operation)
            .build();
        let retries = RetryConfig::standard()
            .with_max_attempts(ATTEMPTS_PER_CALL)
            .with_initial_backoff(RETRY_BACKOFF_INITIAL);
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(retries);
        if let Some(endpoint) = &config.dynamodb_endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk_config = loader.load().await;
        let client_config = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
            .interceptor(timing::Timing)
            .build();
        DynamoStore::new(Client::from_conf(client_config), config.table_name.clone())
    }

    /// The same store, counting the capacity of every call (see [`DynamoStore::take_usage`]).
    pub fn metered(self) -> DynamoStore {
        DynamoStore {
            meter: Some(Arc::default()),
            ..self
        }
    }

    /// Usage since the previous call, and resets it; empty unless [`DynamoStore::metered`].
    pub fn take_usage(&self) -> Usage {
        self.meter.as_ref().map(|m| m.take()).unwrap_or_default()
    }

    fn meter(&self) -> Option<&Meter> {
        self.meter.as_deref()
    }

    fn record(&self, call: Call<'_>) {
        if let Some(meter) = self.meter() {
            meter.record(call);
        }
    }

    /// What a conditional write of one item came to: `true` if written (its capacity recorded),
    /// `false` if its condition failed; any other failure as [`storage`] says.
    fn written<O, E, R>(
        &self,
        result: Result<O, SdkError<E, R>>,
        capacity: fn(&O) -> Option<&aws_sdk_dynamodb::types::ConsumedCapacity>,
        what: &str,
    ) -> DomainResult<bool>
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(out) => {
                self.record(Call::Write(capacity(&out)));
                Ok(true)
            }
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(storage(what, e)),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: Item, consistent: bool) -> DomainResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await
            .map_err(|e| storage("get item", e))?;
        self.record(Call::Read(out.consumed_capacity()));
        Ok(out.item)
    }

    /// Reads one item and decodes it.
    async fn get_as<T>(
        &self,
        key: Item,
        consistent: bool,
        decode: impl Fn(&Item) -> DomainResult<T>,
    ) -> DomainResult<Option<T>> {
        self.get(key, consistent)
            .await?
            .map(|item| decode(&item))
            .transpose()
    }
}

impl KeyStore for DynamoStore {
    async fn key_by_hash(&self, key_hash: &str) -> DomainResult<Option<ApiKey>> {
        self.get_as(key_of(api_key_pk(key_hash), KEY_SK), false, api_key_from)
            .await
    }

    async fn list_keys(&self, business_id: &BusinessId) -> DomainResult<Vec<ApiKey>> {
        self.query_keys(business_id).await
    }

    async fn touch_key(&self, key_hash: &str, now: Timestamp, every_ms: u64) -> DomainResult<()> {
        let cutoff = now.unix_ms.saturating_sub(every_ms);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(api_key_pk(key_hash), KEY_SK)))
            .update_expression("SET #used = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#used) OR #used <= :cutoff)",
            )
            .expression_attribute_names("#used", KEY_USED)
            .expression_attribute_values(
                ":now",
                aws_sdk_dynamodb::types::AttributeValue::N(now.unix_ms.to_string()),
            )
            .expression_attribute_values(
                ":cutoff",
                aws_sdk_dynamodb::types::AttributeValue::N(cutoff.to_string()),
            )
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        match result {
            Ok(out) => {
                self.record(Call::Write(out.consumed_capacity()));
                Ok(())
            }
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(storage("record key use", e)),
        }
    }

    async fn end_key(&self, key_hash: &str, at: Timestamp, revoke: bool) -> DomainResult<()> {
        let expression = if revoke {
            "SET #exp = :at, #rev = :at"
        } else {
            "SET #exp = :at"
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(api_key_pk(key_hash), KEY_SK)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#exp", KEY_EXPIRES)
            .expression_attribute_values(
                ":at",
                aws_sdk_dynamodb::types::AttributeValue::N(at.unix_ms.to_string()),
            );
        if revoke {
            request = request.expression_attribute_names("#rev", KEY_REVOKED);
        }
        let out = request
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await
            .map_err(|e| storage("end key", e))?;
        self.record(Call::Write(out.consumed_capacity()));
        Ok(())
    }

    async fn put_session(&self, session: &Session) -> DomainResult<()> {
        self.put_session_item(session).await
    }

    async fn session_by_hash(&self, id_hash: &str) -> DomainResult<Option<Session>> {
        self.session_item(id_hash).await
    }

    async fn touch_session(&self, session: &Session, every_ms: u64) -> DomainResult<()> {
        self.touch_session_item(session, every_ms).await
    }

    async fn end_session(&self, id_hash: &str) -> DomainResult<()> {
        self.end_session_item(id_hash).await
    }

    async fn claim_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        expires_s: u64,
    ) -> DomainResult<crate::access::model::FormClaim> {
        self.claim_form_item(business_id, key, expires_s).await
    }

    async fn finish_form(
        &self,
        business_id: &BusinessId,
        key: &str,
        result: &str,
    ) -> DomainResult<()> {
        self.finish_form_item(business_id, key, result).await
    }

    async fn release_form(&self, business_id: &BusinessId, key: &str) -> DomainResult<()> {
        self.release_form_item(business_id, key).await
    }
}

impl CustomerStore for DynamoStore {
    async fn business_name(&self, business_id: &BusinessId) -> DomainResult<Option<String>> {
        let key = key_of(business_pk(business_id), BUSINESS_SK);
        let name = |item: &Item| Ok(item.get("name").and_then(|v| v.as_s().ok()).cloned());
        Ok(self.get_as(key, false, name).await?.flatten())
    }

    async fn get_customer(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Customer>> {
        let key = key_of(business_pk(business_id), &customer_sk(customer_id));
        self.get_as(key, false, customer_from).await
    }

    async fn get_customer_revision(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerRevision>> {
        let key = key_of(business_pk(business_id), &customer_sk(customer_id));
        self.get_as(key, true, customer_revision_from).await
    }

    async fn list_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        self.query_customers(business_id, query).await
    }

    async fn customers_after(
        &self,
        business_id: &BusinessId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> DomainResult<Vec<CustomerId>> {
        self.query_customers_after(business_id, after, limit).await
    }
}

impl WalletStore for DynamoStore {
    async fn get_wallets(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<CustomerWallets>> {
        let key = key_of(customer_pk(business_id, customer_id), WALLETS_SK);
        self.get_as(key, true, wallets_from).await
    }

    async fn commit(&self, change: &Change) -> DomainResult<Result<(), Rejection>> {
        self.commit_change(change).await
    }

    async fn has_receipt(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        token: &str,
    ) -> DomainResult<bool> {
        let key = key_of(customer_pk(business_id, customer_id), &receipt_sk(token));
        Ok(self.get(key, true).await?.is_some())
    }

    async fn due_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<(BusinessId, CustomerId)>> {
        let shards = (0..TOP_UP_SHARDS).map(|shard| format!("{TOP_UP_SHARD_PREFIX}{shard}"));
        self.query_due(shards, now_ms, limit, "find due top-ups", wallets_ref_from)
            .await
    }

    async fn original_for_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<Original>> {
        self.get_as(idem_key(business_id, key), true, original_from)
            .await
    }
}

impl LedgerStore for DynamoStore {
    async fn list_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        self.query_entries(business_id, customer_id, range).await
    }

    async fn get_entry(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Option<Currency>,
        position: u64,
    ) -> DomainResult<Option<EntryAt>> {
        let key = match currency {
            Some(c) => key_of(
                currency_pk(business_id, customer_id, c, chunk_of(position)),
                &currency_sk(c, position),
            ),
            None => key_of(
                entry_pk(business_id, customer_id, chunk_of(position)),
                &entry_sk(position),
            ),
        };
        self.get_as(key, true, entry_at_from).await
    }
}

impl TotalsStore for DynamoStore {
    async fn apply_movement(&self, movement: &Movement) -> DomainResult<bool> {
        self.add_movement(movement).await
    }

    async fn day_totals(
        &self,
        business_id: &BusinessId,
        currency: Currency,
        to: &Day,
    ) -> DomainResult<Vec<DayTotals>> {
        self.query_day_totals(business_id, currency, to).await
    }
}

impl HoldStore for DynamoStore {
    async fn get_hold(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Option<Hold>> {
        let chunk = crate::holds::model::chunk_of_hold(hold_id);
        let key = key_of(hold_pk(business_id, customer_id, chunk), &hold_sk(hold_id));
        self.get_as(key, true, hold_from).await
    }

    async fn list_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        self.query_holds(business_id, customer_id, query, newest_chunk)
            .await
    }

    async fn expired_holds(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<HoldRef>> {
        self.query_expired_holds(now_ms, limit).await
    }
}

impl InvoiceStore for DynamoStore {
    async fn get_invoice_payment(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        invoice_id: &InvoiceId,
    ) -> DomainResult<Option<InvoicePayment>> {
        let key = key_of(
            invoice_pk(business_id, customer_id, invoice_id),
            &invoice_sk(invoice_id),
        );
        self.get_as(key, true, invoice_from).await
    }
}
