//! Wallets at an instant, on the memory store: every instant between entries answers the balance
//! after the last entry at or before it, with O(log n) entry reads; before the wallet, 0; after
//! now, 422.

use crate::adapters::memory::fixtures::{entry, hold, World, T0};
use crate::error::DomainError;
use crate::kernel::{Currency, Timestamp};
use crate::ledger::model::EntryType;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_ms(ms)
}

async fn usd_at(w: &World, c: &crate::kernel::CustomerId, ms: u64) -> super::WalletAt {
    let found = w.service.wallets_at(&w.tenant, c, at(ms)).await.unwrap();
    found
        .wallets
        .into_iter()
        .find(|wallet| wallet.currency == Currency::USD)
        .unwrap()
}

#[tokio::test]
async fn every_instant_answers_the_balance_after_the_last_entry_at_or_before_it() {
    let w = World::new().await;
    let c = w.customer().await;
    // Entries 10 ms apart from T0 + 10: balances 1, 3, 6, ... (credit k at T0 + 10k).
    let mut balances = vec![(T0, 0)];
    for k in 1..=37 {
        w.clock.set(T0 + 10 * k);
        w.credit(&c, k as i64).await;
        balances.push((T0 + 10 * k, balances.last().unwrap().1 + k as i64));
    }
    w.clock.set(T0 + 1_000);
    for probe in T0..T0 + 400 {
        let expected = balances
            .iter()
            .rev()
            .find(|(ms, _)| *ms <= probe)
            .map_or(0, |(_, b)| *b);
        assert_eq!(
            usd_at(&w, &c, probe).await.balance,
            expected,
            "at T0+{}",
            probe - T0
        );
    }
    let other = w
        .service
        .wallets_at(&w.tenant, &c, at(T0 + 5))
        .await
        .unwrap();
    let inr = other
        .wallets
        .iter()
        .find(|x| x.currency.code() == "INR")
        .unwrap();
    assert_eq!((inr.balance, inr.available_balance()), (0, Some(0)));
}

#[tokio::test]
async fn an_instant_reads_log_n_entries_not_the_ledger() {
    let w = World::new().await;
    let c = w.customer().await;
    for k in 1..=200 {
        w.clock.set(T0 + 10 * k);
        w.credit(&c, 1).await;
    }
    w.clock.set(T0 + 10_000);
    let store = crate::adapters::recording::RecordingStore::new(w.store.clone());
    let config = w.service.config().clone();
    let counted = crate::Service::new(store.clone(), w.clock.clone(), config);
    let _ = store.take();
    let found = counted
        .wallets_at(&w.tenant, &c, at(T0 + 1_234))
        .await
        .unwrap();
    let usd = found
        .wallets
        .iter()
        .find(|x| x.currency == Currency::USD)
        .unwrap();
    assert_eq!(usd.balance, 123);
    let reads = store.calls("get_entry");
    // Newest, oldest, bisection over 198 positions (8 reads), the pending charges: at most 11.
    assert!(reads <= 11, "{reads} entry reads for 200 entries");
    // Before the first entry, or after the newest: no bisection.
    for (ms, balance, cost) in [(T0 + 5, 0, 2), (T0 + 5_000, 200, 2)] {
        let before = store.calls("get_entry");
        let found = counted.wallets_at(&w.tenant, &c, at(ms)).await.unwrap();
        let usd = found
            .wallets
            .iter()
            .find(|x| x.currency == Currency::USD)
            .unwrap();
        assert_eq!(usd.balance, balance);
        assert_eq!(store.calls("get_entry") - before, cost, "at T0+{}", ms - T0);
    }
}

#[tokio::test]
async fn before_the_wallet_existed_is_zero_and_a_future_instant_is_refused() {
    let w = World::new().await;
    w.clock.set(T0 + 500);
    let c = w.customer().await;
    w.clock.set(T0 + 600);
    w.credit(&c, 40).await;
    assert_eq!(usd_at(&w, &c, T0).await.balance, 0);
    assert_eq!(usd_at(&w, &c, T0).await.available_balance(), Some(0));
    assert_eq!(usd_at(&w, &c, T0 + 600).await.balance, 40);
    let refused = w.service.wallets_at(&w.tenant, &c, at(T0 + 601)).await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid(e)) if e.code == "timestamp_in_future"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn available_at_an_instant_is_the_balance_less_the_holds_pending_at_the_last_entry() {
    let w = World::new().await;
    let c = w.customer().await;
    w.clock.set(T0 + 10);
    w.credit(&c, 100).await;
    w.clock.set(T0 + 20);
    w.service
        .create_hold(&w.tenant, &c, hold(30, None))
        .await
        .unwrap();
    w.clock.set(T0 + 30);
    let debit = entry(EntryType::Debit, 5, None);
    w.service.create_entry(&w.tenant, &c, debit).await.unwrap();
    w.clock.set(T0 + 100);
    let after_credit = usd_at(&w, &c, T0 + 15).await;
    assert_eq!(
        (after_credit.balance, after_credit.available_balance()),
        (100, Some(100))
    );
    let after_debit = usd_at(&w, &c, T0 + 30).await;
    assert_eq!(after_debit.pending_charges, Some(30));
    assert_eq!(
        (after_debit.balance, after_debit.available_balance()),
        (95, Some(65))
    );
    // Between the credit and the debit the hold was placed; the answer is the credit's.
    let between = usd_at(&w, &c, T0 + 25).await;
    assert_eq!(between.available_balance(), Some(100));
}
