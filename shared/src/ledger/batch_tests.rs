//! Batches on the memory store: outcomes in request order, one transaction per 33 keyed items,
//! duplicates answered with their originals, retried and concurrent batches applying nothing
//! twice.

use super::*;
use crate::adapters::memory::fixtures::{assert_chained, entry, key, World};
use crate::kernel::Currency;
use crate::ledger::model::EntryType;

fn item(
    customer: &CustomerId,
    entry_type: EntryType,
    amount: i64,
    k: &str,
) -> DomainResult<BatchItem> {
    Ok(BatchItem {
        customer_id: customer.clone(),
        command: entry(entry_type, amount, key(k)),
    })
}

fn code(outcome: &ItemOutcome) -> &'static str {
    match outcome {
        Ok(_) => "applied",
        Err(error) => error.code(),
    }
}

#[tokio::test]
async fn each_item_gets_its_own_outcome_in_request_order() {
    let w = World::new().await;
    let (a, b) = (w.customer().await, w.customer().await);
    w.credit(&a, 10).await;
    // An earlier request used key "taken".
    w.service
        .create_entry(&w.tenant, &b, entry(EntryType::Credit, 5, key("taken")))
        .await
        .unwrap();
    let mut inr = entry(EntryType::Credit, 1, key("inr"));
    inr.currency = Currency::parse("EUR").unwrap();
    let items = vec![
        item(&a, EntryType::Debit, 4, "a1"),
        item(&a, EntryType::Debit, 7, "a2"),
        item(&b, EntryType::Credit, 3, "taken"),
        item(&b, EntryType::Credit, 2, "b1"),
        item(&a, EntryType::Debit, 6, "a3"),
        item(&a, EntryType::Credit, 1, "a1"),
        Ok(BatchItem {
            customer_id: a.clone(),
            command: entry(EntryType::Credit, 1, None),
        }),
        Ok(BatchItem {
            customer_id: b.clone(),
            command: inr,
        }),
        item(&CustomerId::generate(), EntryType::Credit, 1, "nobody"),
        Err(ValidationError::new("invalid_amount", "amount must be positive").into()),
    ];
    let outcomes = w.service.create_entries(&w.tenant, items).await.unwrap();
    let codes: Vec<&str> = outcomes.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            "applied",
            "insufficient_balance",
            "idempotency_key_reused",
            "applied",
            "applied",
            "idempotency_key_reused",
            "missing_idempotency_key",
            "currency_not_enabled",
            "customer_not_found",
            "invalid_amount",
        ]
    );
    let entry_of = |at: usize| outcomes[at].as_ref().unwrap();
    assert_eq!(
        (entry_of(0).before_balance, entry_of(0).after_balance),
        (10, 6)
    );
    assert_eq!(
        (entry_of(4).before_balance, entry_of(4).after_balance),
        (6, 0)
    );
    let Err(DomainError::IdempotencyKeyReused { original, .. }) = &outcomes[5] else {
        unreachable!()
    };
    assert_eq!(
        original.id(),
        entry_of(0).id.as_str(),
        "the repeat answers the first item"
    );
    let Err(DomainError::IdempotencyKeyReused { original, .. }) = &outcomes[2] else {
        unreachable!()
    };
    assert_eq!(
        w.ledger(&b).await[0].id.as_str(),
        original.id(),
        "the earlier request's entry"
    );
    assert_eq!(w.wallet(&a, Currency::USD).await.balance, 0);
    assert_eq!(w.wallet(&b, Currency::USD).await.balance, 7);
    assert_chained(&w.ledger(&a).await);
    assert_chained(&w.ledger(&b).await);
}

#[tokio::test]
async fn one_customers_items_go_in_transactions_of_33_and_a_retry_applies_nothing_twice() {
    let w = World::new().await;
    let c = w.customer().await;
    let items = || {
        (0..120)
            .map(|i| item(&c, EntryType::Credit, 1, &format!("k{i}")))
            .collect::<Vec<_>>()
    };
    let before = w.store.commits();
    let outcomes = w.service.create_entries(&w.tenant, items()).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok));
    assert_eq!(
        w.store.commits().landed - before.landed,
        4,
        "33 + 33 + 33 + 21"
    );
    let ledger = w.ledger(&c).await;
    assert_eq!(ledger.len(), 120);
    assert_chained(&ledger);

    let again = w.service.create_entries(&w.tenant, items()).await.unwrap();
    for (first, repeat) in outcomes.iter().zip(&again) {
        let Err(DomainError::IdempotencyKeyReused { original, .. }) = repeat else {
            panic!("{repeat:?}")
        };
        assert_eq!(original.id(), first.as_ref().unwrap().id.as_str());
    }
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 120);
    assert_eq!(w.ledger(&c).await.len(), 120);
}

#[tokio::test(start_paused = true)]
async fn concurrent_batches_on_one_wallet_from_two_instances_each_land_once() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let instances = [w.service.clone(), w.instance(), w.instance()];
    let mut tasks = tokio::task::JoinSet::new();
    for batch in 0..6 {
        let (service, tenant, c) = (instances[batch % 3].clone(), w.tenant.clone(), c.clone());
        tasks.spawn(async move {
            // Batches 0 and 3, 1 and 4, 2 and 5 share their keys: each key lands once.
            let items = (0..30)
                .map(|i| item(&c, EntryType::Debit, 1, &format!("b{}-{i}", batch % 3)))
                .collect();
            service.create_entries(&tenant, items).await.unwrap()
        });
    }
    let mut applied = 0;
    while let Some(outcomes) = tasks.join_next().await {
        for outcome in outcomes.unwrap() {
            match outcome {
                Ok(_) => applied += 1,
                Err(DomainError::IdempotencyKeyReused { .. }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(applied, 90, "every key once");
    assert!(w.store.commits().rejected > 0, "the batches raced");
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 10);
    let ledger = w.ledger(&c).await;
    assert_eq!(ledger.len(), 91);
    assert_chained(&ledger);
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let w = World::new().await;
    let c = w.customer().await;
    let items = (0..=BATCH_ITEMS_MAX)
        .map(|i| item(&c, EntryType::Credit, 1, &format!("k{i}")))
        .collect();
    let refused = w.service.create_entries(&w.tenant, items).await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid(v)) if v.code == "too_many_items"),
        "{refused:?}"
    );
    assert!(w.ledger(&c).await.is_empty());
}

/// The store commits a batch's transaction and the answer is lost (then lost again when sent
/// once more with its token): the batch finds its own entries in the store and answers them as
/// applied, once; nothing lands twice.
#[tokio::test]
async fn a_batch_whose_commit_answer_is_lost_lands_once() {
    let w = World::new().await;
    let c = w.customer().await;
    w.store.lose_next_answers(1);
    let items = (0..60)
        .map(|i| item(&c, EntryType::Credit, 1, &format!("lost{i}")))
        .collect();
    let outcomes = w.service.create_entries(&w.tenant, items).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let ledger = w.ledger(&c).await;
    assert_eq!(ledger.len(), 60);
    assert_chained(&ledger);
    for (outcome, stored) in outcomes.iter().zip(&ledger) {
        assert_eq!(outcome.as_ref().unwrap().id, stored.id);
    }

    w.store.forget_tokens();
    w.store.lose_next_answers(1);
    let items = (0..10)
        .map(|i| item(&c, EntryType::Debit, 1, &format!("again{i}")))
        .collect();
    let outcomes = w.service.create_entries(&w.tenant, items).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 50);
    assert_eq!(w.ledger(&c).await.len(), 70);
}

/// Issue 24.1: a batch whose answer was lost is sent again. Its debit took the balance to 0, so
/// the rules would now refuse it (insufficient balance; or the wallet closed since): the key's
/// original answers first, as for a single entry, and the client is never told that a committed
/// debit did not happen.
#[tokio::test]
async fn a_resent_batch_answers_an_applied_debit_as_duplicate_not_as_refused() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let items = || vec![item(&c, EntryType::Debit, 100, "K")];
    let first = w.service.create_entries(&w.tenant, items()).await.unwrap();
    let applied = first[0].as_ref().unwrap().clone();
    assert_eq!(applied.after_balance, 0);

    let again = w.service.create_entries(&w.tenant, items()).await.unwrap();
    let Err(DomainError::IdempotencyKeyReused { original, .. }) = &again[0] else {
        panic!(
            "the applied debit must answer as a duplicate: {:?}",
            again[0]
        )
    };
    assert_eq!(original.id(), applied.id.as_str());

    // The same once the wallet is closed: not `wallet_closed`.
    w.service
        .close_wallet(
            &w.tenant,
            &c,
            crate::closing::model::CloseCommand {
                currency: Currency::USD,
                reason: "closing".to_owned(),
                reference_object_id: None,
            },
        )
        .await
        .unwrap();
    let closed = w.service.create_entries(&w.tenant, items()).await.unwrap();
    let Err(DomainError::IdempotencyKeyReused { original, .. }) = &closed[0] else {
        panic!(
            "the applied debit must answer as a duplicate: {:?}",
            closed[0]
        )
    };
    assert_eq!(original.id(), applied.id.as_str());
    assert_eq!(w.ledger(&c).await.len(), 2, "the credit and the one debit");
}

/// Every commit conflicts and every store call takes up to 100 ms (as DynamoDB's can under
/// load): the batch gives up with the retryable 409 once the contention budget has passed,
/// well before API Gateway's 29 s, not after its 400th attempt (some 50 s here).
#[tokio::test(start_paused = true)]
async fn a_batch_contended_on_every_commit_gives_up_with_contention_after_the_time_budget() {
    use crate::adapters::faulty::{Faults, FaultyStore};
    use crate::change::CONTENTION_BUDGET;
    let w = World::new().await;
    let c = w.customer().await;
    let faults = Faults {
        conflict: 1.0,
        latency: 1.0,
        latency_max: std::time::Duration::from_millis(100),
        ..Faults::NONE
    };
    let store = FaultyStore::new(w.store.clone(), 24, faults);
    let contended = Service::new(store, w.clock.clone(), w.service.config().clone());
    let items = (0..3)
        .map(|i| item(&c, EntryType::Credit, 1, &format!("k{i}")))
        .collect();
    let started = tokio::time::Instant::now();
    let gave_up = contended.create_entries(&w.tenant, items).await;
    let took = started.elapsed();
    assert!(
        matches!(gave_up, Err(DomainError::Contention)),
        "{gave_up:?}"
    );
    assert!(
        took >= CONTENTION_BUDGET && took < CONTENTION_BUDGET + std::time::Duration::from_secs(1),
        "{took:?}: it stops at the budget"
    );
    assert!(w.ledger(&c).await.is_empty());
}

#[tokio::test]
async fn a_batch_that_goes_low_and_back_within_one_transaction_raises_both_events() {
    use crate::ports::WalletStore;
    use crate::topups::operations::SettingsPatch;
    use crate::webhooks::events::{events_of, Stored};
    use crate::webhooks::model::EventType;

    let w = World::new().await;
    let customer = w.customer().await;
    w.credit(&customer, 100).await;
    let threshold = SettingsPatch {
        low_balance_threshold: Some(Some(50)),
        ..SettingsPatch::default()
    };
    w.service
        .update_settings(&w.tenant, &customer, Currency::USD, &threshold)
        .await
        .unwrap();
    let wallets = || async {
        let set = w.store.get_wallets(&w.tenant.business_id, &customer).await;
        Stored::Wallets(set.unwrap().unwrap())
    };
    let before = wallets().await;
    let items = vec![
        item(&customer, EntryType::Debit, 80, "down"),
        item(&customer, EntryType::Credit, 80, "up"),
    ];
    let outcomes = w.service.create_entries(&w.tenant, items).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let after = wallets().await;
    // The stream record of the wallets' one write: the old and the new image.
    let types: Vec<EventType> = events_of(&w.tenant.business_id, Some(&before), Some(&after))
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [EventType::BalanceLow, EventType::BalanceRecovered],
        "down through the threshold and back up: both events"
    );
}
