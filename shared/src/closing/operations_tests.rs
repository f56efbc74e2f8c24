//! Closing on the memory store: the payout, and nothing moves the wallet after.

use crate::adapters::memory::fixtures::{entry, hold, World};
use crate::closing::model::CloseCommand;
use crate::error::DomainError;
use crate::kernel::Currency;
use crate::ledger::model::{EntryType, EventType, WalletStatus};

fn close(currency: Currency) -> CloseCommand {
    CloseCommand {
        currency,
        reason: "account closed".into(),
        reference_object_id: Some("po_1".into()),
    }
}

#[tokio::test]
async fn closing_pays_out_the_balance_and_refuses_later_credits_debits_and_holds() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 500).await;
    let closed = w
        .service
        .close_wallet(&w.tenant, &c, close(Currency::USD))
        .await
        .unwrap();
    assert_eq!(
        (closed.wallet.status, closed.wallet.balance),
        (WalletStatus::Closed, 0)
    );
    let payout = w.ledger(&c).await.pop().unwrap();
    assert_eq!(
        (payout.is_credit, payout.amount, payout.after_balance),
        (false, 500, 0)
    );
    assert_eq!(payout.event_type, EventType::MerchantAdjustment);
    assert_eq!(payout.reference_object_id.as_deref(), Some("po_1"));

    let ledger = w.ledger(&c).await;
    let credit = w
        .service
        .create_entry(&w.tenant, &c, entry(EntryType::Credit, 1, None))
        .await;
    assert!(
        matches!(credit, Err(DomainError::WalletClosed { .. })),
        "{credit:?}"
    );
    let held = w.service.create_hold(&w.tenant, &c, hold(1, None)).await;
    assert!(
        matches!(held, Err(DomainError::WalletClosed { .. })),
        "{held:?}"
    );
    let again = w
        .service
        .close_wallet(&w.tenant, &c, close(Currency::USD))
        .await;
    assert!(
        matches!(again, Err(DomainError::WalletClosed { .. })),
        "{again:?}"
    );
    assert_eq!(
        w.ledger(&c).await,
        ledger,
        "nothing written after the close"
    );

    // The customer's other wallets stay open.
    let inr = Currency::parse("INR").unwrap();
    let mut credit = entry(EntryType::Credit, 5, None);
    credit.currency = inr;
    w.service.create_entry(&w.tenant, &c, credit).await.unwrap();
    assert_eq!(w.wallet(&c, inr).await.balance, 5);
}

#[tokio::test]
async fn a_wallet_with_pending_holds_stays_open_and_an_empty_one_closes_without_a_payout() {
    let w = World::new().await;
    let c = w.customer().await;
    w.credit(&c, 100).await;
    let held = w
        .service
        .create_hold(&w.tenant, &c, hold(40, None))
        .await
        .unwrap();
    let refused = w
        .service
        .close_wallet(&w.tenant, &c, close(Currency::USD))
        .await;
    assert!(
        matches!(
            refused,
            Err(DomainError::HoldsPending {
                pending_charges: 40,
                ..
            })
        ),
        "{refused:?}"
    );
    w.service
        .release_hold(&w.tenant, &c, &held.id)
        .await
        .unwrap();
    w.service
        .close_wallet(&w.tenant, &c, close(Currency::USD))
        .await
        .unwrap();

    let inr = Currency::parse("INR").unwrap();
    let entries = w.ledger(&c).await.len();
    let closed = w
        .service
        .close_wallet(&w.tenant, &c, close(inr))
        .await
        .unwrap();
    assert_eq!(closed.wallet.status, WalletStatus::Closed);
    assert_eq!(w.ledger(&c).await.len(), entries, "no payout of nothing");
}

/// Issue 24.6: closing an empty wallet writes only the wallets. Its answer is lost, DynamoDB no
/// longer knows its token, and another change of the customer's wallets lands before the resend:
/// the close did land, and answers so (not 409 `wallet_closed`, as planned again it would).
#[tokio::test]
async fn a_lost_wallet_only_change_overtaken_by_another_answers_as_landed() {
    let w = World::new().await;
    let c = w.customer().await;
    w.store.forget_tokens();
    w.store.lose_next_answers(1);
    w.store.move_wallets_after_lost_answers();
    let closed = w
        .service
        .close_wallet(&w.tenant, &c, close(Currency::USD))
        .await;
    let closed = closed.expect("the close landed");
    assert_eq!(closed.wallet.status, WalletStatus::Closed);
    assert!(
        w.ledger(&c).await.is_empty(),
        "an empty wallet closes without an entry"
    );
}
