//! Holds, invoice payments and closing under concurrency: real requests racing through the
//! handlers against DynamoDB Local.

use integration_tests::{
    assert_chain, assert_only, json, pending_and_available, race, successes, Harness, Route,
};
use lambda_http::http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_holds_captures_and_debits_never_overdraw_and_pending_matches_the_holds(
) {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await;
    // Twenty holds of 30 to capture while everything else races.
    let mut held = Vec::new();
    for _ in 0..20 {
        let reply = h.hold(&customer, 30).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        held.push(reply.body["id"].as_str().unwrap().to_owned());
    }

    let replies = race(100, |i| {
        let (h, customer, held) = (h.clone(), customer.clone(), held.clone());
        async move {
            match i % 5 {
                // 20 captures of 25 (one per hold): 5 of each 30 is released.
                0 => h.capture(&customer, &held[i / 5], Some(25)).await,
                // 40 new holds of 20.
                1 | 2 => h.hold(&customer, 20).await,
                // 40 debits of 15.
                _ => {
                    h.entry(
                        &customer,
                        json!({"amount": 15, "currency": "USD", "entry_type": "debit"}),
                    )
                    .await
                }
            }
        }
    })
    .await;
    assert_only(
        &replies,
        &[(StatusCode::BAD_REQUEST, "insufficient_balance")],
    );
    let captures = replies
        .iter()
        .step_by(5)
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(captures, 20, "a capture is always covered by its own hold");

    let wallet = h.usd_wallet(&customer).await;
    let (balance, pending, available) = pending_and_available(&wallet);
    assert!(balance >= 0 && available >= 0, "{wallet}");
    assert_eq!(available, balance - pending);
    let holds = h.all_holds(&customer).await;
    let pending_sum: i64 = holds
        .iter()
        .filter(|hold| hold["status"] == "pending")
        .map(|hold| hold["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(
        pending, pending_sum,
        "pending_charges is the sum of pending holds"
    );
    let new_holds = holds.len() - 20;
    let debits = successes(&replies).len() - 20 - new_holds;
    assert_eq!(
        balance,
        1000 - 20 * 25 - 15 * debits as i64,
        "balance is the credit less the captures and debits that succeeded"
    );
    assert_chain(&h.all_entries(&customer, None).await, balance);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_captures_of_one_hold_capture_it_exactly_once() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;
    let hold = h.hold(&customer, 80).await.body;
    let hold_id = hold["id"].as_str().unwrap().to_owned();

    let replies = race(20, |_| {
        let (h, customer, hold_id) = (h.clone(), customer.clone(), hold_id.clone());
        async move { h.capture(&customer, &hold_id, None).await }
    })
    .await;
    assert_only(&replies, &[(StatusCode::CONFLICT, "hold_not_pending")]);
    assert_eq!(successes(&replies).len(), 1, "exactly one capture wins");
    let entries = h.all_entries(&customer, None).await;
    assert_eq!(entries.len(), 2, "one credit and one capture");
    assert_chain(&entries, 20);
    assert_eq!(h.usd_wallet(&customer).await["pending_charges"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_invoices_paid_at_once_never_apply_more_than_the_balance() {
    for round in 0..5 {
        let h = Harness::new().await;
        let customer = h.customer().await;
        h.credit(&customer, 1000).await;
        let replies = race(2, |i| {
            let (h, customer) = (h.clone(), customer.clone());
            async move {
                h.pay_invoice(&customer, &format!("inv_{i}"), "USD", 700)
                    .await
            }
        })
        .await;
        assert_only(&replies, &[]);
        let applied: Vec<i64> = replies
            .iter()
            .map(|r| r.body["applied"].as_i64().unwrap())
            .collect();
        assert_eq!(
            applied.iter().sum::<i64>(),
            1000,
            "round {round}: {applied:?}"
        );
        for reply in &replies {
            assert_eq!(
                reply.body["applied"].as_i64().unwrap() + reply.body["remaining"].as_i64().unwrap(),
                700
            );
        }
        assert_eq!(h.balance(&customer, "USD").await, 0);
        assert_chain(&h.all_entries(&customer, None).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_credit_lands_after_a_racing_close() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 100).await;

    let replies = race(41, |i| {
        let (h, customer) = (h.clone(), customer.clone());
        async move {
            if i == 20 {
                h.request(Route::CloseWallet)
                    .customer(&customer)
                    .json(json!({"currency": "USD", "reason": "customer left", "reference_object_id": "po_1"}))
                    .send()
                    .await
            } else {
                h.entry(
                    &customer,
                    json!({"amount": 10, "currency": "USD", "entry_type": "credit"}),
                )
                .await
            }
        }
    })
    .await;
    assert_only(&replies, &[(StatusCode::CONFLICT, "wallet_closed")]);
    assert_eq!(replies[20].status, StatusCode::OK, "{}", replies[20].body);
    assert_eq!(replies[20].body["status"], "closed");
    let credited = successes(&replies).len() - 1;

    let entries = h.all_entries(&customer, Some("USD")).await;
    let payout = &entries[0];
    assert!(
        !payout["is_credit"].as_bool().unwrap(),
        "the newest entry is the close's payout, no credit after it: {payout}"
    );
    assert_eq!(
        payout["amount"].as_i64().unwrap(),
        100 + 10 * credited as i64
    );
    assert_eq!(entries.len(), 1 + credited + 1);
    assert_chain(&entries, 0);
    let wallet = h.usd_wallet(&customer).await;
    assert_eq!(
        (wallet["balance"].as_i64(), wallet["status"].as_str()),
        (Some(0), Some("closed"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_payments_of_one_invoice_pay_it_once_and_the_rest_get_the_original() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 1000).await;
    let replies = race(10, |_| {
        let (h, customer) = (h.clone(), customer.clone());
        async move { h.pay_invoice(&customer, "in_same", "USD", 300).await }
    })
    .await;
    assert_only(&replies, &[(StatusCode::CONFLICT, "invoice_already_paid")]);
    let paid = successes(&replies);
    assert_eq!(paid.len(), 1, "one payment per invoice");
    for reply in replies.iter().filter(|r| r.status == StatusCode::CONFLICT) {
        assert_eq!(
            reply.body["invoice_payment"]["ledger_entry_id"],
            paid[0].body["ledger_entry_id"]
        );
    }
    assert_eq!(h.balance(&customer, "USD").await, 700);
    assert_eq!(h.all_entries(&customer, None).await.len(), 2);
}
