//! Ledger operations on the memory store: refusals write nothing, idempotency keys answer with
//! the original, concurrent entries land once each and chain.

use crate::adapters::memory::fixtures::{assert_chained, entry, hold, key, World};
use crate::error::{DomainError, Original};
use crate::kernel::paging::PageRequest;
use crate::kernel::Currency;
use crate::ledger::model::EntryType;

#[tokio::test]
async fn a_debit_above_the_available_balance_is_refused_and_writes_nothing() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    w.service
        .create_hold(&w.tenant, &c, hold(30, None))
        .await
        .unwrap();
    let (wallet, ledger, commits) = (
        w.wallet(&c, Currency::USD).await,
        w.ledger(&c).await,
        w.store.commits(),
    );

    let refused = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Debit, 71, None))
        .await;
    assert!(
        matches!(
            refused,
            Err(DomainError::InsufficientBalance {
                available: 70,
                requested: 71,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(w.wallet(&c, Currency::USD).await, wallet);
    assert_eq!(w.ledger(&c).await, ledger);
    assert_eq!(w.store.commits(), commits, "nothing was committed");

    let debited = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Debit, 70, None))
        .await
        .unwrap();
    assert_eq!(debited.wallet.balance, 30);
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_with_the_original_entry_even_when_the_repeat_could_not_apply(
) {
    let w = World::new().await;
    let (c, other_customer) = (w.customer().await, w.customer().await);
    w.service
        .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
        .await
        .unwrap();
    let original = w.ledger(&c).await.pop().unwrap();

    let repeats = [
        (
            &c,
            entry(EntryType::Credit, 100, key("k")),
            "the same request",
        ),
        (
            &c,
            entry(EntryType::Debit, 1_000, key("k")),
            "a debit it could not take",
        ),
        (
            &other_customer,
            entry(EntryType::Credit, 5, key("k")),
            "another customer",
        ),
    ];
    for (customer, command, why) in repeats {
        let repeated = w.service.create_entry(&w.tenant, customer, command).await;
        match repeated {
            Err(DomainError::IdempotencyKeyReused { key, original: o }) => {
                assert_eq!(key, "k");
                assert_eq!(*o, Original::Entry(original.clone()), "{why}");
            }
            other => panic!("{why}: {other:?}"),
        }
    }
    assert_eq!(w.ledger(&c).await, [original]);
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 100);
    assert!(w.ledger(&other_customer).await.is_empty());

    // Another business has keys of its own.
    let other = w.other_business().await;
    let theirs = w
        .service
        .create_customer(
            &other,
            crate::adapters::memory::fixtures::new_customer("b@x.io", "B"),
        )
        .await
        .unwrap();
    w.service
        .create_entry(
            &other,
            &theirs.customer_id,
            entry(EntryType::Credit, 5, key("k")),
        )
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn concurrent_entries_land_once_each_and_chain() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 500).await;
    let instances = [w.service.clone(), w.instance(), w.instance()];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30_i64 {
        let service = instances[i as usize % 3].clone();
        let (tenant, c) = (w.tenant.clone(), c.clone());
        let (entry_type, amount) = match i % 3 {
            0 => (EntryType::Credit, 10 + i),
            _ => (EntryType::Debit, 40 + i),
        };
        tasks.spawn(async move {
            let command = entry(entry_type, amount, key(&format!("k{i}")));
            let result = service.create_entry(&tenant, &c, command).await;
            (entry_type, amount, result)
        });
    }
    let (mut balance, mut landed) = (500, 1);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (EntryType::Credit, amount, Ok(_)) => {
                (balance, landed) = (balance + amount, landed + 1)
            }
            (EntryType::Debit, amount, Ok(_)) => (balance, landed) = (balance - amount, landed + 1),
            (_, _, Err(DomainError::InsufficientBalance { .. })) => {}
            (_, _, other) => panic!("{other:?}"),
        }
    }
    assert!(w.store.commits().rejected > 0, "the tasks raced");
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, balance);
    let ledger = w.ledger(&c).await;
    assert_eq!(ledger.len(), landed);
    assert_chained(&ledger);
    assert_eq!(ledger.last().unwrap().after_balance, balance);
}

#[tokio::test(start_paused = true)]
async fn a_key_repeated_concurrently_lands_once() {
    let w = World::new().await;
    let c = w.customer().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (service, tenant, c) = (w.service.clone(), w.tenant.clone(), c.clone());
        tasks.spawn(async move {
            let command = entry(EntryType::Credit, 100, key("once"));
            service.create_entry(&tenant, &c, command).await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(w.store.commits().rejected > 0, "the repeats raced");
    let ledger = w.ledger(&c).await;
    assert_eq!(ledger.len(), 1);
    for outcome in outcomes.into_iter().filter_map(Result::err) {
        let DomainError::IdempotencyKeyReused { original, .. } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(*original, Original::Entry(ledger[0].clone()));
    }
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 100);
}

#[tokio::test]
async fn entries_list_newest_first_by_page_of_the_ledger_or_of_one_currency() {
    let w = World::new().await;
    let c = w.customer().await;
    let inr = Currency::parse("INR").unwrap();
    for amount in 1..=5 {
        let mut command = entry(EntryType::Credit, amount, None);
        if amount % 2 == 0 {
            command.currency = inr;
        }
        w.service
            .create_entry(&w.tenant, &c, command)
            .await
            .unwrap();
    }
    let amounts = |currency, number, size| {
        let (w, c) = (&w, &c);
        async move {
            let page = PageRequest { number, size };
            let entries = w.service.list_entries(&w.tenant, c, currency, page).await;
            entries
                .unwrap()
                .into_iter()
                .map(|e| e.amount)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(amounts(None, 0, 2).await, [5, 4]);
    assert_eq!(amounts(None, 2, 2).await, [1]);
    assert!(amounts(None, 3, 2).await.is_empty());
    assert_eq!(amounts(Some(Currency::USD), 0, 10).await, [5, 3, 1]);
    assert_eq!(amounts(Some(inr), 1, 1).await, [2]);
}

/// An instance's hint says 10 while another instance has credited 100 since: a debit of 50 must
/// succeed (the refusal on the hint is checked against a consistent read), and a debit planned on
/// a stale hint lands on the stored state, not the hint's.
#[tokio::test]
async fn a_stale_hint_never_refuses_and_never_writes_over_newer_state() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 10).await;
    let elsewhere = w.instance();
    elsewhere
        .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, None))
        .await
        .unwrap();
    let debited = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Debit, 50, None))
        .await
        .unwrap();
    assert_eq!(debited.wallet.balance, 60);
    let debited = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Debit, 5, None))
        .await
        .unwrap();
    assert_eq!(debited.wallet.balance, 55);
    elsewhere
        .create_entry(&w.tenant, &c, entry(EntryType::Credit, 1, None))
        .await
        .unwrap();
    let before = w.store.commits();
    let debited = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Debit, 5, None))
        .await
        .unwrap();
    assert_eq!(
        debited.wallet.balance, 51,
        "planned again from the stored 56"
    );
    assert_eq!(
        w.store.commits().rejected - before.rejected,
        1,
        "the stale hint cost one refused commit, whose answer was planned from"
    );
    let ledger = w.ledger(&c).await;
    assert_chained(&ledger);
    assert_eq!(ledger.last().unwrap().after_balance, 51);
}
