//! Concurrency: real requests racing through the handlers against DynamoDB Local.

use integration_tests::{assert_chain, json, race, Harness, Reply, Route};
use lambda_http::http::StatusCode;

/// `count` debits of 1 at once on the customer's USD wallet, sent in turn through `senders`
/// (one harness: one service instance; several: several Lambda instances).
async fn debits_of_one(senders: &[Harness], customer: &str, count: usize) -> Vec<Reply> {
    race(count, |i| {
        let (h, customer) = (senders[i % senders.len()].clone(), customer.to_owned());
        async move {
            h.entry(
                &customer,
                json!({"amount": 1, "currency": "USD", "entry_type": "debit"}),
            )
            .await
        }
    })
    .await
}

/// (answers 200, answers 400 insufficient_balance).
fn won_and_refused(replies: &[Reply]) -> (usize, usize) {
    let won = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::BAD_REQUEST && r.body["code"] == "insufficient_balance")
        .count();
    (won, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_debits_of_one_against_one_hundred_leave_zero_and_a_gapless_chain() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;

    let replies = debits_of_one(std::slice::from_ref(&h), &customer, 200).await;
    assert_eq!(
        won_and_refused(&replies),
        (100, 100),
        "unexpected replies: {:?}",
        replies
            .iter()
            .filter(|r| r.status != StatusCode::OK && r.status != StatusCode::BAD_REQUEST)
            .collect::<Vec<_>>()
    );
    assert_eq!(h.balance(&customer, "USD").await, 0);

    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries.len(), 101, "one credit and exactly 100 debits");
    assert_chain(&entries, 0);
    assert_eq!(
        h.all_entries(&customer, Some("USD")).await,
        entries,
        "the currency view holds the same entries"
    );
}

/// The same race across eight service instances (eight Lambda instances): their requests do not
/// take turns in one process, so every debit meets the others at DynamoDB's conditions, and
/// retries plan from the wallets a refused write answers (hints.rs), never a stale balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debits_racing_from_eight_instances_leave_zero_and_a_gapless_chain() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 60).await;
    let mut instances = Vec::new();
    for _ in 0..8 {
        instances.push(h.instance().await);
    }
    let replies = debits_of_one(&instances, &customer, 120).await;
    assert_eq!(won_and_refused(&replies), (60, 60), "{replies:?}");
    let mut after: Vec<i64> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .map(|r| r.body["balance"].as_i64().unwrap())
        .collect();
    after.sort();
    assert_eq!(
        after,
        (0..60).collect::<Vec<_>>(),
        "each debit answers its own balance"
    );
    assert_eq!(h.balance(&customer, "USD").await, 0);
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries.len(), 61);
    assert_chain(&entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_with_one_idempotency_key_write_exactly_one_entry() {
    let h = Harness::new().await;
    let customer = h.customer().await;

    let replies = race(50, |_| {
        let (h, customer) = (h.clone(), customer.clone());
        async move { h.entry(&customer, json!({"amount": 700, "currency": "USD", "entry_type": "credit", "idempotency_key": "topup-42"})).await }
    })
    .await;

    let succeeded: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    let conflicts: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!((succeeded.len(), conflicts.len()), (1, 49));
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries.len(), 1);
    for conflict in conflicts {
        assert_eq!(conflict.body["code"], "idempotency_key_reused");
        assert_eq!(
            conflict.body["ledger_entry"], entries[0],
            "every 409 carries the original entry"
        );
    }
    assert_eq!(h.balance(&customer, "USD").await, 700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_credits_and_debits_in_two_currencies_keep_each_chain_whole() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1_000).await;

    let replies = race(120, |i| {
        let (h, customer) = (h.clone(), customer.clone());
        let (currency, entry_type) = match i % 3 {
            0 => ("USD", "debit"),
            1 => ("USD", "credit"),
            _ => ("INR", "credit"),
        };
        async move {
            h.entry(
                &customer,
                json!({"amount": 7, "currency": currency, "entry_type": entry_type}),
            )
            .await
        }
    })
    .await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "all fit: {:?}",
        replies.iter().find(|r| r.status != StatusCode::OK)
    );

    let usd = h.all_entries(&customer, Some("USD")).await;
    let inr = h.all_entries(&customer, Some("INR")).await;
    assert_eq!((usd.len(), inr.len()), (81, 40));
    assert_chain(&usd, h.balance(&customer, "USD").await);
    assert_chain(&inr, h.balance(&customer, "INR").await);
    assert_eq!(h.balance(&customer, "USD").await, 1_000);
    assert_eq!(h.balance(&customer, "INR").await, 280);
    let all = h.all_entries(&customer, None).await;
    assert_eq!(all.len(), 121);
    let mut ids: Vec<_> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 121, "no entry listed twice");
    let listing = h
        .request(Route::ListLedgerEntries)
        .customer(&customer)
        .query("page_size", "3")
        .send()
        .await;
    assert_eq!(
        listing.body["items"].as_array().unwrap()[..],
        all[..3],
        "page 0 is the newest entries"
    );
}

/// A write of the wallets refused by its version condition answers the wallets as stored
/// (ReturnValuesOnConditionCheckFailure), which the next attempt plans from without a read.
#[tokio::test]
async fn a_refused_wallets_write_answers_the_stored_wallets() {
    use shared::change::model::{Change, Write};
    use shared::kernel::ids::change_token;
    use shared::kernel::{BusinessId, CustomerId};
    use shared::ports::WalletStore;

    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 7).await;
    let store = h.service().store();
    let business_id = BusinessId::parse(&h.business_id).unwrap();
    let customer_id = CustomerId::parse(&customer).unwrap();
    let stored = store
        .get_wallets(&business_id, &customer_id)
        .await
        .unwrap()
        .unwrap();
    // Planned from the version before the stored one: the condition fails.
    let change = Change {
        business_id,
        writes: vec![Write::Wallets(stored.clone())],
        token: change_token(0),
    };
    let rejection = store.commit(&change).await.unwrap().unwrap_err();
    assert_eq!(rejection.failed, vec![0]);
    assert_eq!(rejection.wallets_now.as_deref(), Some(&stored));
}
