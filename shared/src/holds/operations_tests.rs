//! Hold operations on the memory store: pending charges always equal the pending holds, a hold
//! resolves once, a repeated key answers with the original hold.

use crate::adapters::memory::fixtures::{amount, hold, key, World, T0};
use crate::error::{DomainError, Original};
use crate::holds::model::{CaptureCommand, HoldStatus};
use crate::kernel::{Currency, CustomerId, Timestamp};
use crate::ledger::model::EventType;

/// The wallet's pending charges are the sum of its pending holds.
async fn assert_pending_is_held(w: &World, c: &CustomerId) {
    let pending: i64 = w
        .holds(c, Some(HoldStatus::Pending))
        .await
        .iter()
        .map(|h| h.amount)
        .sum();
    assert_eq!(w.wallet(c, Currency::USD).await.pending_charges, pending);
}

#[tokio::test]
async fn create_capture_release_and_expire_keep_pending_charges_equal_to_the_pending_holds() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 1_000).await;
    let mut created = Vec::new();
    for minor in [100, 200, 300] {
        let mut command = hold(minor, None);
        command.expires_at = Some(Timestamp::from_unix_ms(T0 + u64::try_from(minor).unwrap()));
        created.push(w.service.create_hold(&w.tenant, &c, command).await.unwrap());
        assert_pending_is_held(&w, &c).await;
    }
    assert_eq!(w.wallet(&c, Currency::USD).await.pending_charges, 600);

    let capture = CaptureCommand {
        amount: Some(amount(60)),
        reason: None,
    };
    let captured = w
        .service
        .capture_hold(&w.tenant, &c, &created[0].id, capture)
        .await
        .unwrap();
    assert_eq!(
        (captured.status, captured.captured_amount),
        (HoldStatus::Captured, 60)
    );
    let debit = w.ledger(&c).await.pop().unwrap();
    assert_eq!(captured.ledger_entry_id, Some(debit.id.clone()));
    assert_eq!(
        (debit.amount, debit.is_credit, debit.event_type),
        (60, false, EventType::Payment)
    );
    assert_eq!(w.wallet(&c, Currency::USD).await.balance, 940);
    assert_pending_is_held(&w, &c).await;

    let released = w
        .service
        .release_hold(&w.tenant, &c, &created[1].id)
        .await
        .unwrap();
    assert_eq!(released.status, HoldStatus::Released);
    assert_pending_is_held(&w, &c).await;

    // Nothing is due yet; then the clock passes the last hold's expiry.
    assert_eq!(
        w.service.expire_holds(w.service.now(), 10).await.unwrap(),
        0
    );
    w.clock.set(T0 + 300);
    assert_eq!(
        w.service.expire_holds(w.service.now(), 10).await.unwrap(),
        1
    );
    let lapsed = w
        .service
        .get_hold(&w.tenant, &c, &created[2].id)
        .await
        .unwrap();
    assert_eq!(lapsed.status, HoldStatus::Expired);
    assert_pending_is_held(&w, &c).await;
    let wallet = w.wallet(&c, Currency::USD).await;
    assert_eq!((wallet.balance, wallet.pending_charges), (940, 0));
    assert_eq!(
        w.service.expire_holds(w.service.now(), 10).await.unwrap(),
        0,
        "an expired hold is not expired again"
    );
}

#[tokio::test]
async fn a_resolved_hold_is_not_resolved_again_and_an_expired_one_is_not_captured() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let first = w
        .service
        .create_hold(&w.tenant, &c, hold(40, None))
        .await
        .unwrap();
    w.service
        .release_hold(&w.tenant, &c, &first.id)
        .await
        .unwrap();
    let wallet = w.wallet(&c, Currency::USD).await;
    let again = w.service.release_hold(&w.tenant, &c, &first.id).await;
    assert!(
        matches!(again, Err(DomainError::HoldNotPending { .. })),
        "{again:?}"
    );
    let capture = w
        .service
        .capture_hold(&w.tenant, &c, &first.id, CaptureCommand::default())
        .await;
    assert!(
        matches!(capture, Err(DomainError::HoldNotPending { .. })),
        "{capture:?}"
    );
    assert_eq!(w.wallet(&c, Currency::USD).await, wallet);

    let second = w
        .service
        .create_hold(&w.tenant, &c, hold(40, None))
        .await
        .unwrap();
    w.clock.set(second.expires_at.unix_ms);
    let late = w
        .service
        .capture_hold(&w.tenant, &c, &second.id, CaptureCommand::default())
        .await;
    assert!(
        matches!(late, Err(DomainError::HoldExpired { .. })),
        "{late:?}"
    );
    assert_eq!(w.wallet(&c, Currency::USD).await.pending_charges, 40);
}

#[tokio::test(start_paused = true)]
async fn a_capture_racing_a_release_resolves_the_hold_once() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let held = w
        .service
        .create_hold(&w.tenant, &c, hold(40, None))
        .await
        .unwrap();
    let (service, tenant) = (w.service.clone(), w.tenant.clone());
    let (c2, id2) = (c.clone(), held.id.clone());
    let capture = tokio::spawn(async move {
        service
            .capture_hold(&tenant, &c2, &id2, CaptureCommand::default())
            .await
    });
    let release = w.service.release_hold(&w.tenant, &c, &held.id).await;
    let capture = capture.await.unwrap();
    let not_pending =
        |r: &Result<_, DomainError>| matches!(r, Err(DomainError::HoldNotPending { .. }));
    assert!(
        (capture.is_ok() && not_pending(&release)) || (release.is_ok() && not_pending(&capture)),
        "{capture:?} {release:?}"
    );
    let wallet = w.wallet(&c, Currency::USD).await;
    let expected_balance = if capture.is_ok() { 60 } else { 100 };
    assert_eq!(
        (wallet.balance, wallet.pending_charges),
        (expected_balance, 0)
    );
    assert!(w.store.commits().rejected > 0, "the two raced");
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_with_the_original_hold_even_when_the_repeat_could_not_apply(
) {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let original = w
        .service
        .create_hold(&w.tenant, &c, hold(60, key("h")))
        .await
        .unwrap();
    for (command, why) in [
        (hold(60, key("h")), "the same request"),
        (hold(90, key("h")), "more than is available"),
    ] {
        match w.service.create_hold(&w.tenant, &c, command).await {
            Err(DomainError::IdempotencyKeyReused { original: o, .. }) => {
                assert_eq!(*o, Original::Hold(original.clone()), "{why}");
            }
            other => panic!("{why}: {other:?}"),
        }
    }
    assert_eq!(w.holds(&c, None).await, [original]);
    assert_eq!(w.wallet(&c, Currency::USD).await.pending_charges, 60);
}

#[tokio::test]
async fn the_sweep_expires_at_most_limit_holds_per_run_across_businesses() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    for _ in 0..3 {
        w.service
            .create_hold(&w.tenant, &c, hold(10, None))
            .await
            .unwrap();
    }
    w.clock.advance(8 * 24 * 60 * 60 * 1000);
    assert_eq!(w.service.expire_holds(w.service.now(), 2).await.unwrap(), 2);
    assert_eq!(w.holds(&c, Some(HoldStatus::Pending)).await.len(), 1);
    assert_eq!(w.service.expire_holds(w.service.now(), 2).await.unwrap(), 1);
    assert_pending_is_held(&w, &c).await;
    assert_eq!(w.wallet(&c, Currency::USD).await.pending_charges, 0);
}

#[tokio::test]
async fn holds_of_an_unknown_customer_or_id_are_not_found() {
    let w = World::new().await;
    let c = w.customer().await;
    let held = w.service.create_hold(&w.tenant, &c, hold(1, None)).await;
    assert!(matches!(held, Err(DomainError::InsufficientBalance { .. })));
    w.credit(&c, 1).await;
    let held = w
        .service
        .create_hold(&w.tenant, &c, hold(1, None))
        .await
        .unwrap();
    let stranger = CustomerId::generate();
    let got = w.service.get_hold(&w.tenant, &stranger, &held.id).await;
    assert!(
        matches!(got, Err(DomainError::CustomerNotFound(_))),
        "{got:?}"
    );
    let other = w.other_business().await;
    let got = w.service.get_hold(&other, &c, &held.id).await;
    assert!(
        matches!(got, Err(DomainError::CustomerNotFound(_))),
        "{got:?}"
    );
    let unknown = crate::kernel::HoldId::generate();
    let got = w.service.get_hold(&w.tenant, &c, &unknown).await;
    assert!(matches!(got, Err(DomainError::HoldNotFound(_))), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn holds_created_at_once_never_overdraw_and_are_all_counted_as_pending() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (service, tenant, c) = (w.service.clone(), w.tenant.clone(), c.clone());
        tasks.spawn(async move { service.create_hold(&tenant, &c, hold(30, None)).await });
    }
    let mut created = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(_) => created += 1,
            Err(DomainError::InsufficientBalance { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 3, "three holds of 30 fit in 100");
    assert!(w.store.commits().rejected > 0, "the holds raced");
    assert_pending_is_held(&w, &c).await;
    assert_eq!(w.wallet(&c, Currency::USD).await.pending_charges, 90);
}
