//! The reads' order, filters and paging.

use crate::adapters::memory::tests::{commit, customer, entry, hold, inr, page, T0};
use crate::adapters::memory::MemoryStore;
use crate::change::model::Write;
use crate::customers::model::CustomerQuery;
use crate::holds::model::{Hold, HoldQuery, HoldRef, HoldStatus};
use crate::kernel::{BusinessId, Currency, CustomerId};
use crate::ledger::model::EntryRange;
use crate::ports::{CustomerStore, HoldStore, LedgerStore};

#[tokio::test]
async fn customers_list_newest_first_filtered_by_email_name_and_millisecond_and_paged() {
    let (store, b) = (MemoryStore::new(), BusinessId::generate());
    let people = [
        customer(&b, T0, "Ada@Example.com", "Ada Lovelace"),
        customer(&b, T0 + 1, "grace@example.com", "Grace Hopper"),
        customer(&b, T0 + 2, "ada@example.com", "Ada Byron"),
        customer(&b, T0 + 3, "linus@example.com", "Linus"),
    ];
    let other = customer(&BusinessId::generate(), T0 + 1, "ada@example.com", "Ada");
    for person in people.iter().chain([&other]) {
        let writes = vec![Write::NewCustomer(person.clone())];
        assert_eq!(commit(&store, &person.business_id, writes).await, Ok(()));
    }
    let list = |email: Option<&str>, name: Option<&str>, from, to, page| {
        let query = CustomerQuery {
            email: email.map(str::to_owned),
            name_contains: name.map(str::to_owned),
            created_from_ms: from,
            created_to_ms: to,
            page,
        };
        let (store, b) = (store.clone(), b.clone());
        async move {
            let found = store.list_customers(&b, &query).await.unwrap();
            found.into_iter().map(|c| c.name).collect::<Vec<_>>()
        }
    };
    let all = page(0, 10);
    assert_eq!(
        list(None, None, None, None, all).await,
        ["Linus", "Ada Byron", "Grace Hopper", "Ada Lovelace"]
    );
    assert_eq!(
        list(Some("ADA@example.COM"), None, None, None, all).await,
        ["Ada Byron", "Ada Lovelace"],
        "the whole email, in any case"
    );
    assert!(list(Some("da@example.com"), None, None, None, all)
        .await
        .is_empty());
    assert_eq!(
        list(None, Some("aDa"), None, None, all).await,
        ["Ada Byron", "Ada Lovelace"],
        "part of the name, in any case"
    );
    assert_eq!(
        list(None, None, Some(T0 + 1), Some(T0 + 2), all).await,
        ["Ada Byron", "Grace Hopper"],
        "both bounds inclusive"
    );
    assert_eq!(
        list(
            Some("ada@example.com"),
            Some("love"),
            Some(T0),
            Some(T0),
            all
        )
        .await,
        ["Ada Lovelace"]
    );
    assert!(list(None, None, Some(T0 + 2), Some(T0 + 1), all)
        .await
        .is_empty());
    assert_eq!(
        list(None, None, None, None, page(1, 3)).await,
        ["Ada Lovelace"]
    );
    assert_eq!(
        list(None, Some("a"), None, None, page(1, 2)).await,
        ["Ada Lovelace"],
        "pages count the matches only"
    );
}

#[tokio::test]
async fn holds_list_newest_first_filtered_by_status_and_currency_and_paged() {
    let (store, b, c) = (
        MemoryStore::new(),
        BusinessId::generate(),
        CustomerId::generate(),
    );
    let holds = [
        hold(&b, &c, T0, HoldStatus::Pending, Currency::USD, T0 + 100),
        hold(
            &b,
            &c,
            T0 + 1,
            HoldStatus::Captured,
            Currency::USD,
            T0 + 100,
        ),
        hold(&b, &c, T0 + 2, HoldStatus::Pending, inr(), T0 + 100),
        hold(&b, &c, T0 + 3, HoldStatus::Pending, Currency::USD, T0 + 100),
    ];
    let writes = holds.iter().cloned().map(Write::NewHold).collect();
    assert_eq!(commit(&store, &b, writes).await, Ok(()));
    let list = |status, currency, page| {
        let query = HoldQuery {
            status,
            currency,
            page,
        };
        let (store, b, c) = (store.clone(), b.clone(), c.clone());
        async move {
            let found = store.list_holds(&b, &c, &query, 0).await.unwrap();
            found.into_iter().map(|h| h.id).collect::<Vec<_>>()
        }
    };
    let id = |at: usize| holds[at].id.clone();
    assert_eq!(
        list(None, None, page(0, 10)).await,
        [id(3), id(2), id(1), id(0)]
    );
    assert_eq!(
        list(Some(HoldStatus::Pending), None, page(0, 10)).await,
        [id(3), id(2), id(0)]
    );
    assert_eq!(
        list(Some(HoldStatus::Pending), Some(Currency::USD), page(0, 10)).await,
        [id(3), id(0)]
    );
    assert_eq!(
        list(Some(HoldStatus::Pending), None, page(1, 2)).await,
        [id(0)]
    );
    assert!(list(None, None, page(2, 2)).await.is_empty());
}

#[tokio::test]
async fn entries_list_by_position_newest_first_in_the_whole_ledger_or_one_currency() {
    let (store, b, c) = (
        MemoryStore::new(),
        BusinessId::generate(),
        CustomerId::generate(),
    );
    // Positions 1..=5: USD 1, INR 1, USD 2, USD 3, INR 2.
    let ledger = [
        entry(&b, &c, Currency::USD, 1, 1),
        entry(&b, &c, inr(), 2, 1),
        entry(&b, &c, Currency::USD, 3, 2),
        entry(&b, &c, Currency::USD, 4, 3),
        entry(&b, &c, inr(), 5, 2),
    ];
    let writes = ledger.iter().cloned().map(Write::NewEntry).collect();
    assert_eq!(commit(&store, &b, writes).await, Ok(()));
    let list = |currency, oldest, newest| {
        let range = EntryRange {
            currency,
            oldest,
            newest,
        };
        let (store, b, c) = (store.clone(), b.clone(), c.clone());
        async move {
            let found = store.list_entries(&b, &c, range).await.unwrap();
            found
                .into_iter()
                .map(|e| e.customer_seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(None, 1, 5).await, [5, 4, 3, 2, 1]);
    assert_eq!(list(None, 2, 4).await, [4, 3, 2]);
    assert_eq!(list(Some(Currency::USD), 2, 3).await, [4, 3], "USD 2 and 3");
    assert_eq!(list(Some(inr()), 1, 9).await, [5, 2]);
    assert_eq!(
        list(Some(Currency::parse("EUR").unwrap()), 1, 9).await,
        Vec::<u64>::new()
    );
    let reversed = EntryRange {
        currency: None,
        oldest: 3,
        newest: 2,
    };
    assert!(store.list_entries(&b, &c, reversed).await.is_err());
}

#[tokio::test]
async fn expired_holds_are_the_pending_ones_due_by_now_of_every_business_at_most_limit() {
    let store = MemoryStore::new();
    let (b1, b2, c) = (
        BusinessId::generate(),
        BusinessId::generate(),
        CustomerId::generate(),
    );
    let due_late = hold(&b1, &c, T0, HoldStatus::Pending, Currency::USD, T0 + 20);
    let due_early = hold(&b2, &c, T0, HoldStatus::Pending, inr(), T0 + 10);
    let not_due = hold(&b1, &c, T0, HoldStatus::Pending, Currency::USD, T0 + 21);
    let resolved = hold(&b1, &c, T0, HoldStatus::Released, Currency::USD, T0);
    for h in [&due_late, &due_early, &not_due, &resolved] {
        let writes = vec![Write::NewHold(h.clone())];
        assert_eq!(commit(&store, &h.business_id, writes).await, Ok(()));
    }
    let reference = |h: &Hold| HoldRef {
        business_id: h.business_id.clone(),
        customer_id: h.customer_id.clone(),
        hold_id: h.id.clone(),
    };
    assert_eq!(
        store.expired_holds(T0 + 20, 10).await.unwrap(),
        [reference(&due_early), reference(&due_late)],
        "due at or before now"
    );
    assert_eq!(
        store.expired_holds(T0 + 20, 1).await.unwrap(),
        [reference(&due_early)]
    );
    assert!(store.expired_holds(T0 + 9, 10).await.unwrap().is_empty());
}
