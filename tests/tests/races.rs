//! Concurrency: real requests racing through the handlers against DynamoDB Local.

use integration_tests::{assert_chain, json, race, Harness, Route};
use lambda_http::http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_debits_of_one_against_one_hundred_leave_zero_and_a_gapless_chain() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;

    let replies = race(200, |_| {
        let (h, customer) = (h.clone(), customer.clone());
        async move {
            h.entry(
                &customer,
                json!({"amount": 1, "currency": "USD", "entry_type": "debit"}),
            )
            .await
        }
    })
    .await;

    let succeeded = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::BAD_REQUEST && r.body["code"] == "insufficient_balance")
        .count();
    assert_eq!(
        (succeeded, refused),
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
