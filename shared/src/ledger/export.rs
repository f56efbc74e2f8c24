//! Every ledger entry of a business over a period, page by page (`GET /reports/ledger-entries`).
//!
//! The period is `from` (included) to `to` (excluded), as for statements. A business's entries
//! live per customer, so the export walks the business's customers in id order
//! (`CustomerStore::customers_after`) and, per customer, the entries of its whole ledger (every
//! currency, by `customer_seq`) between its cut at `from` and its cut at `to` (the statements'
//! bisection, `Service::cut_before`, over the customer's ledger: every change of a customer is
//! conditional on its wallet set's version, so `created_at` does not decrease along those
//! positions either). The order is (customer id, position): stable, and each entry comes once.
//!
//! A page holds at most `page_size` entries ([`EXPORT_PAGE_MAX`]) and examines at most
//! `customers_max` customers ([`EXPORT_CUSTOMERS_MAX`]: each costs its wallet set and two cuts
//! of O(log n) reads), so every page answers in bounded time and size; a page may be short, even
//! empty, and still name a next one. The cursor carries the period, the customer in hand and
//! its next and last positions in the period: the walk resumes exactly there.

use std::collections::VecDeque;

use super::history::{check_period_query, Cut};
use super::model::{EntryRange, LedgerEntry};
use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, CustomerId, Timestamp, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// Entries one page holds at most, and by default.
pub const EXPORT_PAGE_MAX: u64 = 1000;
pub const EXPORT_PAGE_DEFAULT: u64 = 1000;
/// Customers one page examines at most.
pub const EXPORT_CUSTOMERS_MAX: usize = 25;

/// Where the next page starts. Opaque to callers: `x1.<from ms>.<to ms>.<next>.<end>.<customer>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCursor {
    from_ms: u64,
    to_ms: u64,
    customer_id: CustomerId,
    /// The customer's next position to answer; `end + 1` once the customer is done.
    next: u64,
    /// The customer's last position before `to`.
    end: u64,
}

impl ExportCursor {
    pub fn encode(&self) -> String {
        format!(
            "x1.{}.{}.{}.{}.{}",
            self.from_ms, self.to_ms, self.next, self.end, self.customer_id
        )
    }

    /// A cursor this service handed out, or 422 `invalid_cursor`.
    pub fn parse(raw: &str) -> Result<ExportCursor, ValidationError> {
        let invalid = || {
            ValidationError::new(
                "invalid_cursor",
                "`cursor` must be the `next` cursor of a ledger entries page",
            )
        };
        let parts: Vec<&str> = raw.splitn(6, '.').collect();
        let [prefix, from, to, next, end, customer] = parts[..] else {
            return Err(invalid());
        };
        let number = |text: &str| text.parse::<u64>().map_err(|_| invalid());
        let cursor = ExportCursor {
            from_ms: number(from)?,
            to_ms: number(to)?,
            next: number(next)?,
            end: number(end)?,
            customer_id: CustomerId::parse(customer).map_err(|_| invalid())?,
        };
        if prefix != "x1" || cursor.next == 0 || cursor.next > cursor.end.saturating_add(1) {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

/// What an export page asks for.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub from: Timestamp,
    pub to: Timestamp,
    pub page_size: u64,
    /// Customers the page examines at most (the route asks [`EXPORT_CUSTOMERS_MAX`]).
    pub customers_max: usize,
    pub cursor: Option<ExportCursor>,
}

/// One page of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPage {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Whether this page is the first (a CSV's header goes on it).
    pub first_page: bool,
    /// By customer id, then position.
    pub entries: Vec<LedgerEntry>,
    pub next: Option<ExportCursor>,
}

/// The customer in hand: its id, next position to answer and last position in the period.
type InHand = (CustomerId, u64, u64);

impl<S: Store, C: Clock> Service<S, C> {
    /// The positions of `customer_id`'s ledger in the period: (first, last); first > last
    /// when none. A wallet-less customer has none.
    async fn period_of(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        (from, to): (Timestamp, Timestamp),
    ) -> DomainResult<(u64, u64)> {
        let business_id = &tenant.business_id;
        let count = self
            .store()
            .get_wallets(business_id, customer_id)
            .await?
            .map_or(0, |wallets| wallets.entry_count);
        let ledger = (None, count);
        let opening = self
            .cut_before(business_id, customer_id, ledger, from, Cut::START)
            .await?;
        let closing = self
            .cut_before(business_id, customer_id, ledger, to, opening.clone())
            .await?;
        Ok((opening.position + 1, closing.position))
    }

    /// Reads the customer in hand's entries from its next position, up to `room`, onto
    /// `entries`, and moves its next position on.
    async fn read_on(
        &self,
        tenant: &Tenant,
        (customer_id, next, end): &mut InHand,
        room: u64,
        entries: &mut Vec<LedgerEntry>,
    ) -> DomainResult<()> {
        if *next > *end || room == 0 {
            return Ok(());
        }
        let newest = (*end).min(*next + room - 1);
        let range = EntryRange {
            currency: None,
            oldest: *next,
            newest,
        };
        let mut read = self
            .store()
            .list_entries(&tenant.business_id, customer_id, range)
            .await?;
        if read.len() as u64 != newest + 1 - *next {
            return Err(DomainError::Storage(format!(
                "ledger gap: entries {next}..={newest} of {customer_id}"
            )));
        }
        read.reverse();
        entries.extend(read);
        *next = newest + 1;
        Ok(())
    }

    /// Checks that a cursor in the middle of a customer names entries it has.
    async fn check_resumed(&self, tenant: &Tenant, (id, next, end): &InHand) -> DomainResult<()> {
        if next > end {
            return Ok(());
        }
        let count = self
            .store()
            .get_wallets(&tenant.business_id, id)
            .await?
            .map(|wallets| wallets.entry_count);
        if count.is_none_or(|count| *end > count) {
            return Err(ValidationError::new(
                "invalid_cursor",
                "`cursor` names entries this business does not have",
            )
            .into());
        }
        Ok(())
    }

    /// One page of the business's ledger entries over `query.from..query.to`.
    pub async fn export_entries(
        &self,
        tenant: &Tenant,
        query: ExportQuery,
    ) -> DomainResult<ExportPage> {
        check_period_query(
            (query.from, query.to),
            query.page_size,
            EXPORT_PAGE_MAX,
            query.cursor.as_ref().map(|c| (c.from_ms, c.to_ms)),
            self.now(),
        )?;
        let (page_size, customers_max) = (query.page_size, query.customers_max.max(1));
        let first_page = query.cursor.is_none();
        let mut in_hand: Option<InHand> = query.cursor.map(|c| (c.customer_id, c.next, c.end));
        if let Some(resumed) = &in_hand {
            self.check_resumed(tenant, resumed).await?;
        }
        let mut listed_after = in_hand.as_ref().map(|(id, _, _)| id.clone());
        let (mut queue, mut examined) = (VecDeque::new(), 0usize);
        let mut entries = Vec::new();
        let next = loop {
            if let Some(hand) = &mut in_hand {
                let room = page_size - entries.len() as u64;
                self.read_on(tenant, hand, room, &mut entries).await?;
                let (_, next, end) = hand;
                let full = *next <= *end || entries.len() as u64 >= page_size;
                if full || examined >= customers_max {
                    break in_hand.clone();
                }
            }
            if queue.is_empty() {
                let limit = customers_max - examined;
                let ids = self
                    .store()
                    .customers_after(&tenant.business_id, listed_after.as_ref(), limit)
                    .await?;
                listed_after = ids.last().cloned().or(listed_after);
                queue.extend(ids);
            }
            let Some(customer_id) = queue.pop_front() else {
                break None;
            };
            examined += 1;
            let (first, last) = self
                .period_of(tenant, &customer_id, (query.from, query.to))
                .await?;
            in_hand = Some((customer_id, first, last));
        };
        Ok(ExportPage {
            from: query.from,
            to: query.to,
            first_page,
            entries,
            next: next.map(|(customer_id, next, end)| ExportCursor {
                from_ms: query.from.unix_ms,
                to_ms: query.to.unix_ms,
                customer_id,
                next,
                end,
            }),
        })
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
