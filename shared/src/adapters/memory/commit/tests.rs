//! Commits against hand-made changes: each write's condition, all-or-nothing commits, injected
//! conflicts, and a change sent again with its token.

use crate::adapters::memory::table::revision_of;
use crate::adapters::memory::tests::{
    claim, customer, entry, failed, hold, inr, payment, wallets, Stored, T0,
};
use crate::adapters::memory::Commits;
use crate::change::model::{Change, Write};
use crate::customers::model::Customer;
use crate::error::{DomainError, Original};
use crate::holds::model::HoldStatus;
use crate::kernel::ids::change_token;
use crate::kernel::{Currency, CustomerId, IdempotencyKey};
use crate::ports::{CustomerStore, HoldStore, WalletStore};

#[tokio::test]
async fn each_write_is_refused_when_its_condition_fails() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let mut stale_customer = stored.customer.clone();
    stale_customer.name = "Grace".into();
    let mut resolved = stored.hold.clone();
    resolved.status = HoldStatus::Released;
    let mut reversed = stored.payment.clone();
    reversed.reversed = 30;
    let unknown = CustomerId::generate();
    let refused = [
        (
            "business id taken",
            Write::NewBusiness(stored.business.clone()),
        ),
        ("key hash taken", Write::NewApiKey(stored.api_key.clone())),
        (
            "customer id taken",
            Write::NewCustomer(stored.customer.clone()),
        ),
        (
            "customer at another revision",
            Write::ReplaceCustomer {
                customer: stale_customer.clone(),
                revision: "stale".into(),
            },
        ),
        (
            "customer missing",
            Write::ReplaceCustomer {
                customer: customer(b, T0, "x@example.com", "X"),
                revision: revision_of(&stored.customer),
            },
        ),
        ("wallets exist", Write::NewWallets(wallets(c, 0))),
        ("wallets moved on", Write::Wallets(wallets(c, 3))),
        ("wallets not yet moved", Write::Wallets(wallets(c, 1))),
        ("wallets missing", Write::Wallets(wallets(&unknown, 1))),
        ("position taken", Write::NewEntry(entry(b, c, inr(), 1, 1))),
        ("hold id taken", Write::NewHold(stored.hold.clone())),
        (
            "hold missing",
            Write::ResolveHold(hold(b, c, T0, HoldStatus::Released, Currency::USD, T0)),
        ),
        (
            "invoice paid",
            Write::NewInvoicePayment(payment(b, c, "inv_1", 0)),
        ),
        (
            "reversed since",
            Write::ReverseInvoicePayment {
                payment: reversed.clone(),
                reversed_before: 0,
            },
        ),
        (
            "payment missing",
            Write::ReverseInvoicePayment {
                payment: payment(b, c, "inv_2", 10),
                reversed_before: 0,
            },
        ),
        ("key claimed", claim("k", &stored.entry)),
    ];
    let before = stored.snapshot().await;
    for (why, write) in refused {
        assert_eq!(stored.commit(vec![write]).await, failed(&[0]), "{why}");
    }
    assert_eq!(stored.snapshot().await, before);

    // The same items with the state they expect land.
    let landing = [
        Write::ReplaceCustomer {
            customer: stale_customer,
            revision: revision_of(&stored.customer),
        },
        Write::Wallets(wallets(c, 2)),
        Write::ResolveHold(resolved.clone()),
        Write::ReverseInvoicePayment {
            payment: reversed,
            reversed_before: 20,
        },
    ];
    for write in landing {
        assert_eq!(
            stored.commit(vec![write.clone()]).await,
            Ok(()),
            "{write:?}"
        );
    }
    // A hold resolved once is not resolved again.
    assert_eq!(
        stored.commit(vec![Write::ResolveHold(resolved)]).await,
        failed(&[0])
    );
}

#[tokio::test]
async fn a_change_lands_all_or_nothing_and_names_every_failed_write() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let fresh_hold = hold(b, c, T0 + 5, HoldStatus::Pending, Currency::USD, T0 + 9);
    let fresh_entry = entry(b, c, Currency::USD, 2, 2);
    let before = stored.snapshot().await;
    let writes = vec![
        Write::NewHold(fresh_hold.clone()),
        Write::Wallets(wallets(c, 1)),
        Write::NewEntry(fresh_entry.clone()),
        claim("k", &fresh_entry),
        Write::NewInvoicePayment(payment(b, c, "inv_2", 0)),
    ];
    assert_eq!(stored.commit(writes).await, failed(&[1, 3]));
    assert_eq!(stored.snapshot().await, before, "nothing landed");
    assert_eq!(
        stored.store.commits(),
        Commits {
            landed: 2,
            rejected: 1
        }
    );

    let writes = vec![
        Write::NewHold(fresh_hold.clone()),
        Write::Wallets(wallets(c, 2)),
        Write::NewEntry(fresh_entry.clone()),
        claim("k2", &fresh_entry),
    ];
    assert_eq!(stored.commit(writes).await, Ok(()));
    let s = &stored.store;
    assert_eq!(
        s.get_hold(b, c, &fresh_hold.id).await.unwrap(),
        Some(fresh_hold)
    );
    assert_eq!(s.get_wallets(b, c).await.unwrap().unwrap().version, 2);
    assert_eq!(
        s.original_for_key(b, &IdempotencyKey::parse("k2").unwrap())
            .await
            .unwrap(),
        Some(Original::Entry(fresh_entry))
    );
}

#[tokio::test]
async fn a_malformed_change_is_a_storage_failure_not_a_rejection() {
    let stored = Stored::new().await;
    let c = stored.customer_id();
    let twice = Change {
        business_id: stored.business_id().clone(),
        writes: vec![Write::Wallets(wallets(c, 2)), Write::Wallets(wallets(c, 2))],
        token: change_token(0),
    };
    let empty = Change {
        business_id: stored.business_id().clone(),
        writes: vec![],
        token: change_token(0),
    };
    for change in [twice, empty] {
        assert!(matches!(
            stored.store.commit(&change).await,
            Err(DomainError::Storage(_))
        ));
    }
    assert_eq!(stored.store.commits().rejected, 0);
}

#[tokio::test]
async fn injected_conflicts_refuse_the_next_commits_then_commits_land_again() {
    let stored = Stored::new().await;
    let c = stored.customer_id();
    stored.store.fail_next_commits(2);
    for _ in 0..2 {
        assert_eq!(
            stored.commit(vec![Write::Wallets(wallets(c, 2))]).await,
            failed(&[])
        );
    }
    assert_eq!(
        stored.commit(vec![Write::Wallets(wallets(c, 2))]).await,
        Ok(())
    );
    assert_eq!(
        stored.store.commits(),
        Commits {
            landed: 3,
            rejected: 2
        }
    );
}

#[tokio::test]
async fn a_replacement_changes_the_revision_a_later_replacement_must_find() {
    let stored = Stored::new().await;
    let (b, c) = (stored.business_id(), stored.customer_id());
    let read = stored
        .store
        .get_customer_revision(b, c)
        .await
        .unwrap()
        .unwrap();
    let mut renamed = read.customer.clone();
    renamed.name = "Grace".into();
    let replace = |customer: &Customer, revision: &str| Write::ReplaceCustomer {
        customer: customer.clone(),
        revision: revision.to_owned(),
    };
    assert_eq!(
        stored.commit(vec![replace(&renamed, &read.revision)]).await,
        Ok(())
    );
    let reread = stored
        .store
        .get_customer_revision(b, c)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(reread.revision, read.revision);
    assert_eq!(reread.customer, renamed);
    assert_eq!(
        stored
            .commit(vec![replace(&read.customer, &read.revision)])
            .await,
        failed(&[0]),
        "a replacement of what was read before is refused"
    );
}

#[tokio::test]
async fn a_change_sent_again_with_its_token_lands_once() {
    let stored = Stored::new().await;
    let c = stored.customer_id();
    let change = Change {
        business_id: stored.business_id().clone(),
        writes: vec![Write::Wallets(wallets(c, 2))],
        token: change_token(0),
    };
    let landed_before = stored.store.commits().landed;
    assert_eq!(stored.store.commit(&change).await.unwrap(), Ok(()));
    assert_eq!(
        stored.store.commit(&change).await.unwrap(),
        Ok(()),
        "the same token again"
    );
    let again = Change {
        token: change_token(0),
        ..change
    };
    let refused = stored.store.commit(&again).await.unwrap().unwrap_err();
    assert_eq!(refused.failed, vec![0]);
    assert_eq!(
        refused.wallets_now.map(|w| w.version),
        Some(2),
        "it answers the stored wallets"
    );
    assert_eq!(stored.store.commits().landed, landed_before + 1);
}
