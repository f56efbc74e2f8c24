//! Statements on the memory store: the period is `from` (in) to `to` (out); opening plus the
//! movements equals closing, page after page; the totals come with the last page; consecutive
//! periods chain; bad periods and cursors are 422s.

use super::{EventTypeKey, StatementCursor, StatementQuery};
use crate::adapters::memory::fixtures::{entry, World, T0};
use crate::error::DomainError;
use crate::kernel::{Currency, CustomerId, Timestamp};
use crate::ledger::model::{EntryType, EventType, LedgerEntry};

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

fn query(from: u64, to: u64, page_size: u64) -> StatementQuery {
    StatementQuery {
        currency: Currency::USD,
        from: at(from),
        to: at(to),
        page_size,
        cursor: None,
    }
}

/// Credits k (k = 1..=n) at T0 + 10k, with every third entry a debit of 1 instead.
async fn ledger_of(w: &World, c: &CustomerId, n: u64) {
    for k in 1..=n {
        w.clock.set(T0 + 10 * k);
        let command = if k % 3 == 0 {
            entry(EntryType::Debit, 1, None)
        } else {
            entry(EntryType::Credit, k as i64, None)
        };
        w.service.create_entry(&w.tenant, c, command).await.unwrap();
    }
    w.clock.set(T0 + 10 * n + 1_000);
}

/// Every page of a statement: (opening, closing, entries, totals of the last page).
async fn all_pages(
    w: &World,
    c: &CustomerId,
    mut q: StatementQuery,
) -> (i64, i64, Vec<LedgerEntry>, super::Totals) {
    let mut entries = Vec::new();
    loop {
        let page = w.service.statement(&w.tenant, c, q.clone()).await.unwrap();
        assert!(page.entries.len() as u64 <= q.page_size);
        entries.extend(page.entries.clone());
        match page.next {
            Some(next) => {
                assert!(page.totals.is_none(), "totals come with the last page");
                q.cursor = Some(StatementCursor::parse(&next.encode()).unwrap());
            }
            None => {
                assert_eq!(page.entry_count, entries.len() as u64);
                return (
                    page.opening_balance,
                    page.closing_balance,
                    entries,
                    page.totals.unwrap(),
                );
            }
        }
    }
}

#[tokio::test]
async fn opening_plus_movements_is_closing_page_after_page() {
    let w = World::new().await;
    let c = w.customer().await;
    ledger_of(&w, &c, 50).await;
    // Entries at T0+100 (k = 10) to T0+390 (k = 39): `to` is excluded.
    let (opening, closing, entries, totals) = all_pages(&w, &c, query(T0 + 100, T0 + 400, 7)).await;
    let ks: Vec<u64> = entries.iter().map(|e| e.currency_seq).collect();
    assert_eq!(
        ks,
        (10..=39).collect::<Vec<_>>(),
        "the period's entries, oldest first"
    );
    let moved: i64 = entries
        .iter()
        .map(|e| if e.is_credit { e.amount } else { -e.amount })
        .sum();
    assert_eq!(opening + moved, closing);
    assert_eq!(opening, entries[0].before_balance);
    assert_eq!(closing, entries.last().unwrap().after_balance);
    let adjustments = totals[&EventTypeKey::of(EventType::MerchantAdjustment)];
    assert_eq!(adjustments.credits - adjustments.debits, moved);
    assert_eq!(
        adjustments.debits, 10,
        "ten debits of 1 (k = 12, 15, ..., 39)"
    );
    assert_eq!(totals.len(), 1);
}

#[tokio::test]
async fn consecutive_periods_chain_and_an_empty_period_keeps_its_balance() {
    let w = World::new().await;
    let c = w.customer().await;
    ledger_of(&w, &c, 20).await;
    let (_, first_closing, _, _) = all_pages(&w, &c, query(T0, T0 + 105, 100)).await;
    let (second_opening, _, _, _) = all_pages(&w, &c, query(T0 + 105, T0 + 300, 100)).await;
    assert_eq!(first_closing, second_opening);
    let (opening, closing, entries, totals) = all_pages(&w, &c, query(T0 + 101, T0 + 109, 5)).await;
    assert_eq!(
        (opening, closing, entries.len(), totals.len()),
        (first_closing, first_closing, 0, 0)
    );
    let (opening, closing, entries, _) = all_pages(&w, &c, query(T0 - 50, T0 + 5, 5)).await;
    assert_eq!(
        (opening, closing, entries.len()),
        (0, 0, 0),
        "before the first entry"
    );
}

#[tokio::test]
async fn bad_periods_and_cursors_are_refused() {
    let w = World::new().await;
    let c = w.customer().await;
    ledger_of(&w, &c, 5).await;
    let now = T0 + 50 + 1_000;
    let code = |result: Result<super::Statement, DomainError>| match result {
        Err(DomainError::Invalid(e)) => e.code,
        other => panic!("{other:?}"),
    };
    let s = |q| w.service.statement(&w.tenant, &c, q);
    assert_eq!(code(s(query(T0 + 20, T0 + 20, 10)).await), "invalid_period");
    assert_eq!(code(s(query(T0, now + 1, 10)).await), "timestamp_in_future");
    assert_eq!(code(s(query(T0, now, 0)).await), "invalid_page_size");
    assert_eq!(code(s(query(T0, now, 501)).await), "invalid_page_size");
    let page = s(query(T0, now, 2)).await.unwrap();
    let mut other_period = query(T0 + 1, now, 2);
    other_period.cursor = page.next.clone();
    assert_eq!(code(s(other_period).await), "invalid_cursor");
    // A cursor changed by hand: another opening balance, or no totals so far.
    let good = page.next.clone().unwrap().encode();
    let fields: Vec<&str> = good.split('.').collect();
    let forged_opening = (fields[4].parse::<i64>().unwrap() + 1).to_string();
    let mut opening = fields.clone();
    opening[4] = &forged_opening;
    for forged in [opening.join("."), fields[..8].join(".")] {
        let mut q = query(T0, now, 2);
        q.cursor = Some(StatementCursor::parse(&forged).unwrap());
        assert_eq!(code(s(q).await), "invalid_cursor", "{forged}");
    }
    let mut q = query(T0, now, 2);
    q.cursor = Some(StatementCursor::parse(&good).unwrap());
    assert!(s(q).await.is_ok());
    for raw in [
        "",
        "s1",
        "s1.1.2.3",
        "x1.0.0.0.0.0.0.1",
        "s1.0.0.0.0.0.0.1.9-1-1",
    ] {
        assert_eq!(
            StatementCursor::parse(raw).unwrap_err().code,
            "invalid_cursor",
            "{raw}"
        );
    }
    let usd_only = StatementQuery {
        currency: Currency::parse("EUR").unwrap(),
        ..query(T0, now, 2)
    };
    assert!(matches!(
        s(usd_only).await,
        Err(DomainError::CurrencyNotEnabled { .. })
    ));
}
