//! The export on the memory store: every entry of the period once, in (customer id, position)
//! order, across pages bounded by entries and by customers examined; cursors of another period
//! or made up are 422s.

use super::{ExportCursor, ExportQuery};
use crate::adapters::memory::fixtures::{entry, World, T0};
use crate::error::DomainError;
use crate::kernel::{Currency, CustomerId, Timestamp};
use crate::ledger::model::{EntryType, LedgerEntry};

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

fn query(from: u64, to: u64, page_size: u64, customers_max: usize) -> ExportQuery {
    ExportQuery {
        from: at(from),
        to: at(to),
        page_size,
        customers_max,
        cursor: None,
    }
}

/// Credits of `amounts` at the given instants (INR for odd amounts).
async fn entries_at(w: &World, c: &CustomerId, instants: &[u64]) {
    for (k, ms) in instants.iter().enumerate() {
        w.clock.set(*ms);
        let mut command = entry(EntryType::Credit, 1 + k as i64, None);
        if k % 2 == 1 {
            command.currency = Currency::parse("INR").unwrap();
        }
        w.service.create_entry(&w.tenant, c, command).await.unwrap();
    }
}

async fn all_pages(w: &World, mut q: ExportQuery) -> (Vec<LedgerEntry>, usize) {
    let (mut entries, mut pages) = (Vec::new(), 0);
    loop {
        let page = w
            .service
            .export_entries(&w.tenant, q.clone())
            .await
            .unwrap();
        assert!(page.entries.len() as u64 <= q.page_size);
        assert_eq!(page.first_page, pages == 0);
        pages += 1;
        entries.extend(page.entries);
        match page.next {
            Some(next) => q.cursor = Some(ExportCursor::parse(&next.encode()).unwrap()),
            None => return (entries, pages),
        }
    }
}

#[tokio::test]
async fn every_entry_of_the_period_once_in_customer_then_position_order() {
    let w = World::new().await;
    let mut customers = Vec::new();
    for (n, instants) in [
        vec![T0 + 10, T0 + 100, T0 + 110, T0 + 120, T0 + 300],
        vec![],
        vec![T0 + 20],
        vec![
            T0 + 101,
            T0 + 102,
            T0 + 103,
            T0 + 104,
            T0 + 105,
            T0 + 106,
            T0 + 107,
        ],
        vec![T0 + 400, T0 + 401],
        vec![T0 + 150, T0 + 199, T0 + 200],
    ]
    .into_iter()
    .enumerate()
    {
        w.clock.set(T0 + n as u64);
        let c = w
            .customer_named(&format!("c{n}@example.com"), "C")
            .await
            .customer_id;
        entries_at(&w, &c, &instants).await;
        customers.push(c);
    }
    let other = w.other_business().await;
    let stranger = w
        .service
        .create_customer(
            &other,
            crate::adapters::memory::fixtures::new_customer("s@example.com", "S"),
        )
        .await
        .unwrap()
        .customer_id;
    w.clock.set(T0 + 150);
    w.service
        .create_entry(&other, &stranger, entry(EntryType::Credit, 5, None))
        .await
        .unwrap();
    w.clock.set(T0 + 1_000);
    customers.sort();
    let mut expected = Vec::new();
    for c in &customers {
        let ledger = w.ledger(c).await;
        expected.extend(
            ledger
                .into_iter()
                .filter(|e| (T0 + 100..T0 + 200).contains(&e.created_at.unix_ms)),
        );
    }
    assert_eq!(expected.len(), 3 + 7 + 2);
    for (page_size, customers_max) in [(1000, 25), (3, 25), (1, 1), (4, 2), (5, 1)] {
        let (found, pages) =
            all_pages(&w, query(T0 + 100, T0 + 200, page_size, customers_max)).await;
        assert_eq!(
            found, expected,
            "page size {page_size}, {customers_max} customers a page"
        );
        assert!(pages >= expected.len().div_ceil(page_size as usize));
    }
}

#[tokio::test]
async fn cursors_of_another_period_or_made_up_are_refused() {
    let w = World::new().await;
    let c = w.customer().await;
    entries_at(&w, &c, &[T0 + 10, T0 + 11, T0 + 12]).await;
    w.clock.set(T0 + 1_000);
    let page = w
        .service
        .export_entries(&w.tenant, query(T0, T0 + 100, 1, 25))
        .await
        .unwrap();
    let cursor = page.next.unwrap();
    let mut other_period = query(T0, T0 + 101, 1, 25);
    other_period.cursor = Some(cursor.clone());
    let made_up = format!("x1.{}.{}.2.9.{c}", T0, T0 + 100);
    let mut beyond = query(T0, T0 + 100, 1, 25);
    beyond.cursor = Some(ExportCursor::parse(&made_up).unwrap());
    for q in [other_period, beyond] {
        let error = w.service.export_entries(&w.tenant, q).await.unwrap_err();
        assert!(
            matches!(&error, DomainError::Invalid(v) if v.code == "invalid_cursor"),
            "{error:?}"
        );
    }
    for raw in [
        "",
        "x1.1.2.3",
        "x2.1.2.1.1.cus_a",
        "x1.1.2.0.1.cus_a",
        "x1.1.2.5.1.cus_a",
        "x1.1.2.1.1.bad id",
    ] {
        assert!(ExportCursor::parse(raw).is_err(), "{raw}");
    }
    assert_eq!(ExportCursor::parse(&cursor.encode()).unwrap(), cursor);
}
