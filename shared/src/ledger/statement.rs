//! A statement of one currency's wallet over a period: opening and closing balances, credits and
//! debits totalled by event type, and the period's entries, oldest first, page by page.
//!
//! The period is `from` (included) to `to` (excluded): its entries are those between the ledger's
//! cut at `from` and its cut at `to` (`history::Cut`), so the statements of consecutive periods
//! chain exactly. The first page finds both cuts (O(log n) reads each); every page reads at most
//! [`STATEMENT_PAGE_MAX`] entries (one query, two across a chunk boundary) and hands on a cursor
//! that carries the cuts, the balances and the totals so far. The totals come with the last
//! page: nothing of the period is ever held whole, whatever its length.

use std::collections::BTreeMap;

use super::history::{check_period_query, Cut};
use super::model::{EntryRange, EventType, LedgerEntry};
use super::rules::wallet_of;
use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, Currency, CustomerId, Timestamp, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// Entries one page of a statement holds at most (and by default, [`STATEMENT_PAGE_DEFAULT`]).
pub const STATEMENT_PAGE_MAX: u64 = 500;
pub const STATEMENT_PAGE_DEFAULT: u64 = 100;

/// Every event type, in the order totals list them (and cursors carry them).
pub const EVENT_TYPES: [EventType; 7] = [
    EventType::Payment,
    EventType::PaymentReversal,
    EventType::Refund,
    EventType::RefundReversal,
    EventType::Dispute,
    EventType::DisputeReversal,
    EventType::MerchantAdjustment,
];

/// Credits and debits of one event type, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Movement {
    pub credits: i64,
    pub debits: i64,
}

/// Movements by event type (only those that moved).
pub type Totals = BTreeMap<EventTypeKey, Movement>;

/// An event type as a key that sorts in [`EVENT_TYPES`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventTypeKey(pub usize);

impl EventTypeKey {
    pub fn of(event_type: EventType) -> EventTypeKey {
        EventTypeKey(
            EVENT_TYPES
                .iter()
                .position(|e| *e == event_type)
                .expect("listed"),
        )
    }

    pub fn event_type(self) -> EventType {
        EVENT_TYPES[self.0]
    }
}

/// Where a statement's next page starts, and what the pages before it found. Opaque to callers
/// (`s1.` and dot-separated integers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCursor {
    from_ms: u64,
    to_ms: u64,
    opening: Cut,
    closing: Cut,
    next: u64,
    totals: Totals,
}

impl StatementCursor {
    pub fn encode(&self) -> String {
        let mut parts = vec![
            "s1".to_owned(),
            self.from_ms.to_string(),
            self.to_ms.to_string(),
            self.opening.position.to_string(),
            self.opening.balance.to_string(),
            self.closing.position.to_string(),
            self.closing.balance.to_string(),
            self.next.to_string(),
        ];
        for (key, movement) in &self.totals {
            parts.push(format!(
                "{}-{}-{}",
                key.0, movement.credits, movement.debits
            ));
        }
        parts.join(".")
    }

    /// A cursor this service handed out, or 422 `invalid_cursor`.
    pub fn parse(raw: &str) -> Result<StatementCursor, ValidationError> {
        let invalid = || {
            ValidationError::new(
                "invalid_cursor",
                "`cursor` must be the `next_cursor` of a statement page",
            )
        };
        let mut parts = raw.split('.');
        if parts.next() != Some("s1") {
            return Err(invalid());
        }
        let mut numbers = [0u64; 7];
        for slot in &mut numbers {
            *slot = parts
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(invalid)?;
        }
        let balance = |n: u64| i64::try_from(n).map_err(|_| invalid());
        // A cut's entry is not carried: only its position and balance are needed again.
        let cut = |position: u64, balance: i64| Cut {
            position,
            balance,
            last: None,
        };
        let mut totals = Totals::new();
        for part in parts {
            let mut fields = part.split('-').map(str::parse::<i64>);
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(Ok(key)), Some(Ok(credits)), Some(Ok(debits)), None)
                    if (0..EVENT_TYPES.len() as i64).contains(&key) =>
                {
                    totals.insert(EventTypeKey(key as usize), Movement { credits, debits });
                }
                _ => return Err(invalid()),
            }
        }
        let [from_ms, to_ms, open, opening, close, closing, next] = numbers;
        if !(open <= close && open < next && next <= close + 1) {
            return Err(invalid());
        }
        Ok(StatementCursor {
            from_ms,
            to_ms,
            opening: cut(open, balance(opening)?),
            closing: cut(close, balance(closing)?),
            next,
            totals,
        })
    }
}

/// What a statement asks for.
#[derive(Debug, Clone)]
pub struct StatementQuery {
    pub currency: Currency,
    pub from: Timestamp,
    pub to: Timestamp,
    pub page_size: u64,
    pub cursor: Option<StatementCursor>,
}

/// One page of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub customer_id: CustomerId,
    pub currency: Currency,
    pub from: Timestamp,
    pub to: Timestamp,
    pub opening_balance: i64,
    pub closing_balance: i64,
    /// Entries in the whole period.
    pub entry_count: u64,
    /// Whether this page is the first (it opens the statement).
    pub first_page: bool,
    /// This page's entries, oldest first.
    pub entries: Vec<LedgerEntry>,
    /// The period's totals by event type: on the last page only (`next` is `None`).
    pub totals: Option<Totals>,
    pub next: Option<StatementCursor>,
}

/// Adds `entries` to `totals`. Sums past `i64` are out of reach of a real ledger (a million
/// entries of the largest amount stay far below): only a made-up cursor's totals get there, and
/// that answers 422 `invalid_cursor`.
pub fn add_up(totals: &mut Totals, entries: &[LedgerEntry]) -> Result<(), ValidationError> {
    for entry in entries {
        let movement = totals
            .entry(EventTypeKey::of(entry.event_type))
            .or_default();
        let sum = if entry.is_credit {
            &mut movement.credits
        } else {
            &mut movement.debits
        };
        *sum = sum.checked_add(entry.amount).ok_or_else(|| {
            ValidationError::new(
                "invalid_cursor",
                "the cursor's totals overflow: send the `next_cursor` of a statement page",
            )
        })?;
    }
    Ok(())
}

/// Checks what a cursor carries against the entries of its page: the opening balance moved by
/// the totals so far is where the page's first entry starts, and the closing balance is where
/// the last page's last entry ends. (A cursor is not signed: this catches a cursor changed by
/// hand unless the change keeps the chain whole.)
fn check_carried(
    cursor: &StatementCursor,
    entries: &[LedgerEntry],
    last_page: bool,
) -> Result<(), ValidationError> {
    let moved = cursor.totals.values().try_fold(0i64, |sum, m| {
        sum.checked_add(m.credits)?.checked_sub(m.debits)
    });
    let starts = moved.and_then(|moved| cursor.opening.balance.checked_add(moved));
    let (first, last) = (entries.first(), entries.last());
    let chained = first.is_none_or(|e| Some(e.before_balance) == starts)
        && (!last_page || last.is_none_or(|e| e.after_balance == cursor.closing.balance));
    if chained {
        Ok(())
    } else {
        Err(ValidationError::new(
            "invalid_cursor",
            "`cursor` does not match the ledger: send the `next_cursor` of a statement page",
        ))
    }
}

impl<S: Store, C: Clock> Service<S, C> {
    /// One page of the statement of `query.currency` over `query.from..query.to`.
    pub async fn statement(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        query: StatementQuery,
    ) -> DomainResult<Statement> {
        check_period_query(
            (query.from, query.to),
            query.page_size,
            STATEMENT_PAGE_MAX,
            query.cursor.as_ref().map(|c| (c.from_ms, c.to_ms)),
            self.now(),
        )?;
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let count = wallet_of(&wallets, query.currency)?.entry_count;
        let business_id = &tenant.business_id;
        let first_page = query.cursor.is_none();
        let cursor = match query.cursor {
            Some(cursor) if cursor.closing.position <= count => cursor,
            Some(_) => {
                return Err(ValidationError::new(
                    "invalid_cursor",
                    "`cursor` names entries this wallet does not have",
                )
                .into())
            }
            None => {
                let empty = Cut::START;
                let ledger = (Some(query.currency), count);
                let opening = self
                    .cut_before(business_id, customer_id, ledger, query.from, empty)
                    .await?;
                let closing = self
                    .cut_before(business_id, customer_id, ledger, query.to, opening.clone())
                    .await?;
                StatementCursor {
                    from_ms: query.from.unix_ms,
                    to_ms: query.to.unix_ms,
                    next: opening.position + 1,
                    opening,
                    closing,
                    totals: Totals::new(),
                }
            }
        };
        let newest = cursor
            .closing
            .position
            .min(cursor.next + query.page_size - 1);
        let mut entries = if cursor.next <= newest {
            let range = EntryRange {
                currency: Some(query.currency),
                oldest: cursor.next,
                newest,
            };
            self.store()
                .list_entries(business_id, customer_id, range)
                .await?
        } else {
            Vec::new()
        };
        entries.reverse();
        if entries.len() as u64 != (newest + 1).saturating_sub(cursor.next) {
            return Err(DomainError::Storage(format!(
                "ledger gap: {} entries {}..={newest} of {customer_id}",
                query.currency, cursor.next
            )));
        }
        let last_page = newest >= cursor.closing.position;
        if !first_page {
            check_carried(&cursor, &entries, last_page)?;
        }
        let mut totals = cursor.totals.clone();
        add_up(&mut totals, &entries)?;
        let next = (!last_page).then(|| StatementCursor {
            next: newest + 1,
            totals: totals.clone(),
            ..cursor.clone()
        });
        Ok(Statement {
            customer_id: customer_id.clone(),
            currency: query.currency,
            from: query.from,
            to: query.to,
            opening_balance: cursor.opening.balance,
            closing_balance: cursor.closing.balance,
            entry_count: cursor.closing.position - cursor.opening.position,
            first_page,
            entries,
            totals: last_page.then_some(totals),
            next,
        })
    }
}

#[cfg(test)]
#[path = "statement_tests.rs"]
mod tests;
