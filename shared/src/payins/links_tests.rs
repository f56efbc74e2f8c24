//! The rules of top-up links, and their operations on the memory store with a fixed clock (the
//! lease, the paid write, the events), where time must move.

use super::*;
use crate::adapters::memory::fixtures::{World, T0};
use crate::change::model::{Change, Write};
use crate::kernel::{Currency, TopUpLinkId};
use crate::payins::links::{LinkAmount, TopUpLinkCommand, TopUpLinkStatus, CLAIM_LEASE_MS};
use crate::ports::WalletStore;
use crate::webhooks::events::{events_of, Stored, WalletAfter};
use crate::webhooks::model::EventType;

fn command(amount: LinkAmount, single_use: bool) -> TopUpLinkCommand {
    TopUpLinkCommand {
        currency: Currency::USD,
        amount,
        reason: None,
        expires_in_s: 3_600,
        single_use,
        idempotency_key: None,
    }
}

#[test]
fn a_request_gives_an_amount_or_a_range_and_a_lifetime_within_30_days() {
    assert_eq!(link_amount(Some(5), None, None), Ok(LinkAmount::Fixed(5)));
    assert_eq!(
        link_amount(None, Some(1), Some(9)),
        Ok(LinkAmount::Range { min: 1, max: 9 })
    );
    for (amount, min, max) in [
        (Some(5), Some(1), Some(9)),
        (Some(5), None, Some(9)),
        (None, None, None),
        (None, Some(1), None),
        (None, Some(9), Some(1)),
        (Some(0), None, None),
        (None, Some(-1), Some(9)),
    ] {
        assert!(
            link_amount(amount, min, max).is_err(),
            "{amount:?} {min:?} {max:?}"
        );
    }
    assert_eq!(expires_in(None), Ok(7 * 86_400));
    assert_eq!(expires_in(Some(30 * 86_400)), Ok(30 * 86_400));
    assert!(expires_in(Some(30 * 86_400 + 1)).is_err());
    assert!(expires_in(Some(59)).is_err());
    assert!(expires_in(Some(-1)).is_err());
}

#[tokio::test]
async fn a_claim_whose_lease_ended_may_be_taken_and_one_within_it_may_not() {
    let w = World::new().await;
    let c = w.customer().await;
    let link = w
        .service
        .create_top_up_link(&w.tenant, &c, command(LinkAmount::Fixed(500), true))
        .await
        .unwrap();
    let business = &w.tenant.business_id;
    w.service
        .claim_top_up_link(business, &link.id, "ctu_a", 500)
        .await
        .unwrap();
    w.clock.advance(CLAIM_LEASE_MS - 1);
    let busy = w
        .service
        .claim_top_up_link(business, &link.id, "ctu_b", 500)
        .await;
    assert!(
        matches!(busy, Err(DomainError::TopUpLinkInUse(_))),
        "{busy:?}"
    );
    // The same top-up claiming again keeps its claim.
    let again = w
        .service
        .claim_top_up_link(business, &link.id, "ctu_a", 500)
        .await
        .unwrap();
    assert_eq!(again.version, 2, "nothing written");
    w.clock.advance(1);
    let taken = w
        .service
        .claim_top_up_link(business, &link.id, "ctu_b", 500)
        .await
        .unwrap();
    assert_eq!(taken.paying.unwrap().top_up_id, "ctu_b");
}

#[tokio::test]
async fn a_link_is_marked_paid_by_its_claiming_top_up_once_and_a_multi_use_link_counts_each() {
    let w = World::new().await;
    let c = w.customer().await;
    let business = &w.tenant.business_id;
    let single = w
        .service
        .create_top_up_link(&w.tenant, &c, command(LinkAmount::Fixed(500), true))
        .await
        .unwrap();
    let not_claimed = w
        .service
        .top_up_link_paid(business, single.id.as_str(), "ctu_a", 500)
        .await
        .unwrap();
    assert!(
        not_claimed.is_none(),
        "no claim of it: the credit goes alone"
    );
    w.service
        .claim_top_up_link(business, &single.id, "ctu_a", 500)
        .await
        .unwrap();
    let paid = w
        .service
        .top_up_link_paid(business, single.id.as_str(), "ctu_a", 500)
        .await
        .unwrap()
        .expect("its claim");
    let commit = |write: Write| Change {
        business_id: business.clone(),
        writes: vec![write],
        token: crate::kernel::ids::change_token(T0),
    };
    w.service
        .commit(&commit(paid.clone()))
        .await
        .unwrap()
        .0
        .unwrap();
    let stored = w
        .service
        .get_top_up_link(&w.tenant, &c, &single.id)
        .await
        .unwrap();
    assert_eq!(stored.status, TopUpLinkStatus::Paid);
    assert_eq!((stored.paid_count, stored.paid_amount), (1, 500));
    // The same write again (a settle that raced) is refused by its version condition.
    let mut again = commit(paid);
    again.token = crate::kernel::ids::change_token(T0 + 1);
    assert!(w.service.commit(&again).await.unwrap().0.is_err());
    assert!(w
        .service
        .top_up_link_paid(business, single.id.as_str(), "ctu_a", 500)
        .await
        .unwrap()
        .is_none());
    let used = w
        .service
        .claim_top_up_link(business, &single.id, "ctu_b", 500)
        .await;
    assert!(
        matches!(used, Err(DomainError::TopUpLinkUsed(_))),
        "{used:?}"
    );

    let multi = w
        .service
        .create_top_up_link(
            &w.tenant,
            &c,
            command(LinkAmount::Range { min: 100, max: 900 }, false),
        )
        .await
        .unwrap();
    for (n, top_up) in ["ctu_x", "ctu_y"].into_iter().enumerate() {
        let claimed = w
            .service
            .claim_top_up_link(business, &multi.id, top_up, 300)
            .await
            .unwrap();
        assert!(claimed.paying.is_none(), "many payers at once");
        let write = w
            .service
            .top_up_link_paid(business, multi.id.as_str(), top_up, 300)
            .await
            .unwrap()
            .unwrap();
        let mut change = commit(write);
        change.token = crate::kernel::ids::change_token(T0 + 10 + n as u64);
        w.service.commit(&change).await.unwrap().0.unwrap();
    }
    let counted = w
        .service
        .get_top_up_link(&w.tenant, &c, &multi.id)
        .await
        .unwrap();
    assert_eq!(counted.status, TopUpLinkStatus::Active);
    assert_eq!((counted.paid_count, counted.paid_amount), (2, 600));
}

#[tokio::test]
async fn the_expiry_step_waits_for_a_live_claim_and_expires_once() {
    let w = World::new().await;
    let c = w.customer().await;
    let business = &w.tenant.business_id;
    let link = w
        .service
        .create_top_up_link(&w.tenant, &c, command(LinkAmount::Fixed(500), true))
        .await
        .unwrap();
    w.clock.set(link.expires_at.unix_ms - 1);
    w.service
        .claim_top_up_link(business, &link.id, "ctu_a", 500)
        .await
        .unwrap();
    let due = link.expires_at;
    assert_eq!(
        w.service.expire_top_up_links(due, 10).await.unwrap(),
        0,
        "being paid"
    );
    let after_lease = crate::kernel::Timestamp::from_unix_ms(due.unix_ms + CLAIM_LEASE_MS);
    assert_eq!(
        w.service
            .expire_top_up_links(after_lease, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        w.service
            .expire_top_up_links(after_lease, 10)
            .await
            .unwrap(),
        0
    );
    let expired = w
        .service
        .get_top_up_link(&w.tenant, &c, &link.id)
        .await
        .unwrap();
    assert_eq!(expired.status, TopUpLinkStatus::Expired);
    assert!(expired.paying.is_some(), "its top-up may still be credited");
    // The expiry wrote the wallets' version with the link (its event's sequence).
    assert_eq!(
        w.store
            .get_wallets(business, &c)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

#[test]
fn a_link_written_with_the_wallets_makes_one_event_per_payment_and_one_on_expiry() {
    let wallets = crate::ledger::model::usd_wallets(0, 0);
    let after = WalletAfter {
        version: 3,
        wallet: wallets.wallets[&Currency::USD].clone(),
    };
    let business = crate::kernel::BusinessId::parse("bus_test").unwrap();
    let link = super::create(
        &wallets,
        &business,
        &command(LinkAmount::Fixed(5), false),
        &TopUpLinkId::generate(),
        crate::kernel::Timestamp::from_unix_ms(T0),
    )
    .unwrap();
    let now = crate::kernel::Timestamp::from_unix_ms(T0 + 1);
    let paid = super::mark_paid(&link, "ctu_1", 5, now).unwrap();
    let types = |old: &Stored, new: &Stored| -> Vec<EventType> {
        events_of(&business, Some(old), Some(new))
            .iter()
            .map(|e| e.event_type)
            .collect()
    };
    let before = Stored::TopUpLinkBefore(Box::new(link.clone()));
    let stored_paid = Stored::TopUpLink(Box::new(paid.clone()), after.clone());
    assert_eq!(types(&before, &stored_paid), [EventType::TopUpLinkPaid]);
    assert_eq!(types(&stored_paid, &stored_paid), [], "nothing new");
    let lapsed = crate::kernel::Timestamp::from_unix_ms(paid.expires_at.unix_ms);
    let expired = super::expire(&paid, lapsed).unwrap();
    let stored_expired = Stored::TopUpLink(Box::new(expired), after);
    assert_eq!(
        types(&stored_paid, &stored_expired),
        [EventType::TopUpLinkExpired]
    );
    assert_eq!(types(&stored_expired, &stored_expired), []);
}

#[test]
fn a_lapsed_claim_whose_top_up_charged_the_card_still_holds_the_link() {
    let wallets = crate::ledger::model::usd_wallets(0, 0);
    let business = crate::kernel::BusinessId::parse("bus_test").unwrap();
    let t0 = crate::kernel::Timestamp::from_unix_ms(T0);
    let link = super::create(
        &wallets,
        &business,
        &command(LinkAmount::Fixed(5), true),
        &TopUpLinkId::generate(),
        t0,
    )
    .unwrap();
    let held = super::claim(&link, "ctu_a", 5, t0, false).unwrap().unwrap();
    let lapsed = crate::kernel::Timestamp::from_unix_ms(T0 + CLAIM_LEASE_MS);
    assert_eq!(super::lapsed_claim(&held, "ctu_b", lapsed), Some("ctu_a"));
    assert_eq!(super::lapsed_claim(&held, "ctu_a", lapsed), None, "its own");
    let charged = super::claim(&held, "ctu_b", 5, lapsed, true);
    assert!(
        matches!(charged, Err(DomainError::TopUpLinkInUse(_))),
        "{charged:?}"
    );
    let taken = super::claim(&held, "ctu_b", 5, lapsed, false)
        .unwrap()
        .unwrap();
    assert_eq!(taken.paying.unwrap().top_up_id, "ctu_b");
}

/// A claim whose commit answer was lost, and whose resend the store refused (it forgot the
/// token): the claim landed, so the payer gets it, not `top_up_link_in_use` from its own claim.
#[tokio::test]
async fn a_claim_whose_answer_was_lost_answers_the_claim_it_made() {
    let w = World::new().await;
    let c = w.customer().await;
    let link = w
        .service
        .create_top_up_link(&w.tenant, &c, command(LinkAmount::Fixed(500), true))
        .await
        .unwrap();
    w.store.forget_tokens();
    w.store.lose_next_answers(1);
    let claimed = w
        .service
        .claim_top_up_link(&w.tenant.business_id, &link.id, "ctu_a", 500)
        .await
        .unwrap();
    assert_eq!(claimed.paying.unwrap().top_up_id, "ctu_a");
    let stored = w
        .service
        .get_top_up_link(&w.tenant, &c, &link.id)
        .await
        .unwrap();
    assert_eq!(stored.version, 2, "landed once");
}
