//! The list and index queries: customers, holds, ledger ranges, holds and top-ups due; sorted,
//! filtered and paged like the DynamoDB queries.

use super::MemoryStore;
use crate::customers::model::{Customer, CustomerQuery};
use crate::error::{DomainError, DomainResult};
use crate::holds::model::{Hold, HoldQuery, HoldRef, HoldStatus};
use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, CustomerId, Timestamp};
use crate::ledger::model::{EntryRange, LedgerEntry};

/// At most `limit` of `due` (sorted soonest first): the oldest half and the most recently due
/// half, as the DynamoDB adapter reads each index shard from both ends.
pub(super) fn both_ends<T>(mut due: Vec<T>, limit: usize) -> Vec<T> {
    if due.len() > limit {
        let newest = due.split_off(due.len() - limit / 2);
        due.truncate(limit - limit / 2);
        due.extend(newest);
    }
    due
}

/// The items of `page` from an iterator of every match, in order.
fn page_of<T>(items: impl Iterator<Item = T>, page: PageRequest) -> Vec<T> {
    let skipped = usize::try_from(page.skipped()).unwrap_or(usize::MAX);
    items.skip(skipped).take(page.size as usize).collect()
}

impl MemoryStore {
    /// Newest first; email matches whole and name in part, both ignoring case; the created range
    /// is the range of ids its milliseconds bound.
    pub(super) async fn query_customers(
        &self,
        business_id: &BusinessId,
        query: &CustomerQuery,
    ) -> DomainResult<Vec<Customer>> {
        let Some((oldest, newest)) = query.id_range() else {
            return Ok(Vec::new());
        };
        let email = query.email.as_ref().map(|e| e.to_lowercase());
        let name_part = query.name_contains.as_ref().map(|n| n.to_lowercase());
        Ok(self
            .read(|t| {
                let Some(customers) = t.customers.get(business_id) else {
                    return Vec::new();
                };
                let matching = customers
                    .range(oldest..=newest)
                    .rev()
                    .map(|(_, customer)| customer)
                    .filter(|c| email.as_ref().is_none_or(|e| c.email.to_lowercase() == *e))
                    .filter(|c| {
                        name_part
                            .as_ref()
                            .is_none_or(|part| c.name.to_lowercase().contains(part.as_str()))
                    })
                    .cloned();
                page_of(matching, query.page)
            })
            .await)
    }

    pub(super) async fn query_due_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<(BusinessId, CustomerId)>> {
        Ok(self
            .read(|t| {
                let mut due: Vec<(Timestamp, &(BusinessId, CustomerId))> = t
                    .partitions
                    .iter()
                    .filter_map(|(key, p)| {
                        let due = p.wallets.as_ref().and_then(|w| {
                            w.wallets
                                .values()
                                .filter_map(crate::topups::rules::due_at)
                                .min()
                        })?;
                        (due.unix_ms <= now_ms).then_some((due, key))
                    })
                    .collect();
                due.sort();
                both_ends(due, limit)
                    .into_iter()
                    .map(|(_, key)| key.clone())
                    .collect()
            })
            .await)
    }

    /// Newest first: by position in the whole ledger, or in one currency's.
    pub(super) async fn query_entries(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        range: EntryRange,
    ) -> DomainResult<Vec<LedgerEntry>> {
        if range.oldest > range.newest {
            // DynamoDB refuses a `BETWEEN` whose bounds are reversed.
            return Err(DomainError::Storage(format!(
                "list ledger entries: oldest {} is after newest {}",
                range.oldest, range.newest
            )));
        }
        Ok(self
            .read(|t| {
                let Some(partition) = t.partition(business_id, customer_id) else {
                    return Vec::new();
                };
                let positions = range.oldest..=range.newest;
                match range.currency {
                    None => partition
                        .entries
                        .range(positions)
                        .rev()
                        .map(|(_, entry)| entry.clone())
                        .collect(),
                    Some(currency) => {
                        let mut entries: Vec<LedgerEntry> = partition
                            .entries
                            .values()
                            .filter(|e| {
                                e.currency == currency && positions.contains(&e.currency_seq)
                            })
                            .cloned()
                            .collect();
                        entries.sort_by_key(|e| std::cmp::Reverse(e.currency_seq));
                        entries
                    }
                }
            })
            .await)
    }

    /// Newest first (by id), filtered by status and currency.
    pub(super) async fn query_holds(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &HoldQuery,
        _newest_chunk: u64,
    ) -> DomainResult<Vec<Hold>> {
        Ok(self
            .read(|t| {
                let Some(partition) = t.partition(business_id, customer_id) else {
                    return Vec::new();
                };
                let matching = partition
                    .holds
                    .values()
                    .rev()
                    .filter(|h| query.status.is_none_or(|s| h.status == s))
                    .filter(|h| query.currency.is_none_or(|c| h.currency == c))
                    .cloned();
                page_of(matching, query.page)
            })
            .await)
    }

    /// Pending holds due at or before `now_ms`: the soonest and the most recently due (see
    /// [`both_ends`]). (DynamoDB answers shard by shard; the sweep does not depend on the order.)
    pub(super) async fn query_expired_holds(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<HoldRef>> {
        Ok(self
            .read(|t| {
                let mut due: Vec<&Hold> = t
                    .partitions
                    .values()
                    .flat_map(|p| p.holds.values())
                    .filter(|h| h.status == HoldStatus::Pending && h.expires_at.unix_ms <= now_ms)
                    .collect();
                due.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
                both_ends(due, limit)
                    .into_iter()
                    .map(|h| HoldRef {
                        business_id: h.business_id.clone(),
                        customer_id: h.customer_id.clone(),
                        hold_id: h.id.clone(),
                    })
                    .collect()
            })
            .await)
    }
}

#[cfg(test)]
mod tests;
