//! The list and index queries: customers, holds, ledger ranges, holds due to expire.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::codec::*;
use super::errors::storage;
use super::keys::*;
use super::meter::{consumed_capacity, Call};
use super::table::{
    GSI_EMAIL, GSI_EMAIL_PK, GSI_EXPIRY, GSI_EXPIRY_PK, GSI_EXPIRY_SK, HOLD_EXPIRY_SHARDS, PK, SK,
};
use super::DynamoStore;
use crate::access::model::ApiKey;
use crate::customers::model::{Customer, CustomerQuery};
use crate::error::{DomainError, DomainResult};
use crate::holds::model::{Hold, HoldQuery, HoldRef};
use crate::kernel::paging::{too_broad, PageRequest, LIST_EXAMINED_MAX};
use crate::kernel::{BusinessId, CustomerId};
use crate::ledger::model::{EntryRange, LedgerEntry};

/// Items read per query call when skipping to a page of customers or holds.
const QUERY_BATCH_MAX: i32 = 100;
/// Items read per expiry-index query call.
const EXPIRY_BATCH_MAX: usize = 1000;

/// One due item of `by_expiry`, decoded; `None` (logged) if its keys cannot be.
fn decoded<T>(item: &Item, decode: &impl Fn(&Item) -> DomainResult<T>, what: &str) -> Option<T> {
    decode(item)
        .inspect_err(|error| {
            let keys = (item.get(PK), item.get(SK));
            tracing::warn!(%error, ?keys, what, "a due item of the index cannot be decoded; left out");
        })
        .ok()
}

impl DynamoStore {
    /// Sends `request` page by page (each call metered), handing each page's items to `take`
    /// with the number of items the page examined and whether it is the last, until the query
    /// ends or `take` answers `false`.
    async fn each_page(
        &self,
        request: &QueryFluentBuilder,
        what: &str,
        mut take: impl FnMut(&[Item], u64, bool) -> DomainResult<bool>,
    ) -> DomainResult<()> {
        let mut start_key = None;
        loop {
            let out = request
                .clone()
                .return_consumed_capacity(consumed_capacity(self.meter()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| storage(what, e))?;
            self.record(Call::Read(out.consumed_capacity()));
            let examined = u64::try_from(out.scanned_count()).unwrap_or(0);
            if !take(out.items(), examined, out.last_evaluated_key.is_none())? {
                return Ok(());
            }
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                return Ok(());
            }
        }
    }

    /// `page` of the items of `requests` one after the other (e.g. a customer's hold chunks,
    /// newest first): skips the earlier pages' items (O(page number) reads), reading in batches
    /// of [`QUERY_BATCH_MAX`], and stops as soon as the page is full. Refused (422
    /// `query_too_broad`) once it examined [`LIST_EXAMINED_MAX`] items (a filter matching few)
    /// without filling the page while more remain.
    pub(super) async fn query_page<T>(
        &self,
        requests: impl IntoIterator<Item = QueryFluentBuilder>,
        what: &str,
        page: PageRequest,
        parse: impl Fn(&Item) -> DomainResult<T>,
    ) -> DomainResult<Vec<T>> {
        let (skip, want) = (page.skipped(), u64::from(page.size));
        let (mut seen, mut examined): (u64, u64) = (0, 0);
        let mut found = Vec::new();
        let mut broad = false;
        for request in requests {
            self.each_page(
                &request.limit(QUERY_BATCH_MAX),
                what,
                |items, scanned, last| {
                    for item in items {
                        if seen >= skip && (found.len() as u64) < want {
                            found.push(parse(item)?);
                        }
                        seen += 1;
                    }
                    examined += scanned;
                    let full = found.len() as u64 >= want;
                    // Stopped by the bound with items left: a short page would say "no more".
                    broad = !full && !last && examined >= LIST_EXAMINED_MAX;
                    Ok(!full && !broad)
                },
            )
            .await?;
            if broad {
                return Err(too_broad(what).into());
            }
            if found.len() as u64 >= want {
                break;
            }
        }
        Ok(found)
    }

    pub(super) async fn query_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        // Customer ids carry their creation millisecond, so a date range is a key range.
        let Some((oldest, newest)) = query.id_range() else {
            return Ok(Vec::new());
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false);
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
        self.query_page([request], "list customers", query.page, customer_from)
            .await
    }

    /// At most `limit` customer ids of the business after `after`, in id order: one query of the
    /// business's partition between the customer sort keys (`CUS#` up to `CUS$`, before the
    /// endpoints' `WHK#`). A customer id holds only `[A-Za-z0-9_-]` (`CustomerId::parse`), so
    /// the first sort key after `CUS#<after>` is at least `CUS#<after>!`.
    pub(super) async fn query_customers_after(
        &self,
        business_id: &BusinessId,
        after: Option<&CustomerId>,
        limit: usize,
    ) -> DomainResult<Vec<CustomerId>> {
        let low = after.map_or_else(|| "CUS#".to_owned(), |id| format!("{}!", customer_sk(id)));
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(business_pk(business_id)))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s("CUS$"))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX));
        let mut ids = Vec::new();
        self.each_page(&request, "list customers in id order", |items, _, _| {
            for item in items {
                ids.push(customer_from(item)?.customer_id);
            }
            Ok(false)
        })
        .await?;
        Ok(ids)
    }

    /// The customer's holds, newest first, through its hold chunks from `newest_chunk` down.
    pub(super) async fn query_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND begins_with(sk, :holds)")
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
        let chunks = (0..=newest_chunk).rev().map(|chunk| {
            request
                .clone()
                .expression_attribute_values(":pk", s(hold_pk(business_id, customer_id, chunk)))
        });
        self.query_page(chunks, "list holds", query.page, hold_from)
            .await
    }

    /// Every item a query finds, through all its pages.
    pub(super) async fn query_all(
        &self,
        request: QueryFluentBuilder,
        what: &str,
    ) -> DomainResult<Vec<Item>> {
        let mut all = Vec::new();
        self.each_page(&request, what, |items, _, _| {
            all.extend_from_slice(items);
            Ok(true)
        })
        .await?;
        Ok(all)
    }

    /// Every API key of a business, through its listing partition in `by_email`.
    pub(super) async fn query_keys(&self, business_id: &BusinessId) -> DomainResult<Vec<ApiKey>> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_EMAIL)
            .key_condition_expression("#k = :k")
            .expression_attribute_names("#k", GSI_EMAIL_PK)
            .expression_attribute_values(":k", s(keys_listing(business_id)));
        self.query_all(request, "list API keys")
            .await?
            .iter()
            .map(api_key_from)
            .collect()
    }

    pub(super) async fn query_expired_holds(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<HoldRef>> {
        let shards = (0..HOLD_EXPIRY_SHARDS).map(expiry_shard);
        self.query_due(shards, now_ms, limit, "find expired holds", hold_ref_from)
            .await
    }

    /// The items of the sparse index `by_expiry` due at or before `now_ms` in `shards`, about
    /// `limit`: holds to expire (`EXP#n`), webhook deliveries to retry (`RTY#n`), wallets with
    /// top-up work (`TOP#n`). Every shard gets an equal part of `limit` (rounded up), half of it
    /// read from the soonest due (a backlog drains in order) and half from the most recently due
    /// (work that fell due since the last run is seen whatever backlog sorts before it): one
    /// query each, so no shard's backlog keeps the others unread. Which of them a run takes is
    /// the sweep's choice (`crate::sweep`). An item whose keys cannot be decoded is logged and
    /// left out, so that it cannot stop the sweep of everything else.
    pub(super) async fn query_due<T>(
        &self,
        shards: impl Iterator<Item = String>,
        now_ms: u64,
        limit: usize,
        what: &str,
        decode: impl Fn(&Item) -> DomainResult<T>,
    ) -> DomainResult<Vec<T>> {
        let shards: Vec<String> = shards.collect();
        let per_end = limit
            .div_ceil(2 * shards.len().max(1))
            .clamp(1, EXPIRY_BATCH_MAX);
        let mut found = Vec::new();
        for shard in shards {
            let soonest = self
                .query_due_end(&shard, now_ms, per_end, true, what)
                .await?;
            let mut seen = std::collections::HashSet::new();
            for item in &soonest.0 {
                seen.insert(item.get(GSI_EXPIRY_SK).and_then(|v| v.as_s().ok()).cloned());
                found.extend(decoded(item, &decode, what));
            }
            if !soonest.1 {
                continue; // the shard's due items were all read
            }
            let (latest, _) = self
                .query_due_end(&shard, now_ms, per_end, false, what)
                .await?;
            for item in &latest {
                if !seen.contains(&item.get(GSI_EXPIRY_SK).and_then(|v| v.as_s().ok()).cloned()) {
                    found.extend(decoded(item, &decode, what));
                }
            }
        }
        Ok(found)
    }

    /// One query of a shard of `by_expiry`: at most `count` items due at or before `now_ms`,
    /// soonest first (`soonest`) or latest first; and whether more are due.
    async fn query_due_end(
        &self,
        shard: &str,
        now_ms: u64,
        count: usize,
        soonest: bool,
        what: &str,
    ) -> DomainResult<(Vec<Item>, bool)> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_EXPIRY)
            .key_condition_expression("#shard = :shard AND #at < :after")
            .expression_attribute_names("#shard", GSI_EXPIRY_PK)
            .expression_attribute_names("#at", GSI_EXPIRY_SK)
            .expression_attribute_values(":shard", s(shard.to_owned()))
            // Every due time at or before `now_ms` sorts before the next millisecond.
            .expression_attribute_values(":after", s(format!("{:013}", now_ms + 1)))
            .scan_index_forward(soonest)
            .limit(i32::try_from(count).expect("at most 1000"))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await
            .map_err(|e| storage(what, e))?;
        self.record(Call::Read(out.consumed_capacity()));
        let more = out.last_evaluated_key.is_some();
        Ok((out.items.unwrap_or_default(), more))
    }

    /// The entries at positions `range.oldest..=range.newest` of the ledger (or of one
    /// currency's), newest first: one strongly consistent query per chunk the range spans (a
    /// page spans at most two).
    pub(super) async fn query_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        if range.oldest > range.newest {
            return Err(DomainError::Storage(format!(
                "list ledger entries: oldest {} is after newest {}",
                range.oldest, range.newest
            )));
        }
        let (low, high) = match range.currency {
            Some(c) => (currency_sk(c, range.oldest), currency_sk(c, range.newest)),
            None => (entry_sk(range.oldest), entry_sk(range.newest)),
        };
        let mut entries = Vec::new();
        for chunk in (chunk_of(range.oldest)..=chunk_of(range.newest)).rev() {
            let pk = match range.currency {
                Some(c) => currency_pk(business_id, customer_id, c, chunk),
                None => entry_pk(business_id, customer_id, chunk),
            };
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .scan_index_forward(false)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":low", s(low.clone()))
                .expression_attribute_values(":high", s(high.clone()));
            for item in self.query_all(request, "list ledger entries").await? {
                entries.push(entry_from(&item)?);
            }
        }
        Ok(entries)
    }
}
