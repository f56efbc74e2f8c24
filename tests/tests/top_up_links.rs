//! Top-up links (issue 21, part H-links) through the real handlers and the service against
//! DynamoDB Local: create, list, get, cancel; the claim that lets one payer of a single-use link
//! through; the sweep that expires links, with its one `wallet.top_up_link.expired` event.

use std::time::Duration;

use integration_tests::webhooks::{Pump, Receiver};
use integration_tests::{assert_error, json, Harness, Reply, Route};
use lambda_http::http::StatusCode;
use serde_json::Value;
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::{BusinessId, Timestamp, TopUpLinkId};
use shared::ports::TopUpLinkStore;
use shared::DomainError;

/// One test at a time: the expiry test sweeps the links due by a time of its own.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn create(h: &Harness, customer: &str, body: Value) -> Reply {
    h.request(Route::CreateTopUpLink)
        .customer(customer)
        .json(body)
        .send()
        .await
}

async fn get(h: &Harness, customer: &str, link: &str) -> Reply {
    h.request(Route::GetTopUpLink)
        .customer(customer)
        .path("link_id", link)
        .send()
        .await
}

fn instant(raw: &Value) -> Timestamp {
    Timestamp::from_unix_ms(parse_instant("t", raw.as_str().unwrap(), Round::Down).unwrap())
}

fn ids(h: &Harness, link: &Value) -> (BusinessId, TopUpLinkId) {
    (
        BusinessId::parse(&h.business_id).unwrap(),
        TopUpLinkId::parse(link["id"].as_str().unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn a_link_is_created_listed_read_and_cancelled_once() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let made = create(
        &h,
        &customer,
        json!({"currency": "USD", "amount": 2500, "reason": "Invoice 7"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let link = made.body.clone();
    let id = link["id"].as_str().unwrap();
    assert!(id.starts_with("tul_"), "{id}");
    assert_eq!(link["status"], "active");
    assert_eq!(link["amount"], 2500);
    assert_eq!(link["single_use"], true);
    assert_eq!(link["customer_id"], customer);
    let url = link["url"].as_str().unwrap();
    assert!(url.contains("/pay/"), "{url}");
    let token = url.rsplit('/').next().unwrap();
    // Seven days by default.
    let (created, expires) = (instant(&link["created_at"]), instant(&link["expires_at"]));
    assert_eq!(expires.unix_ms - created.unix_ms, 7 * 86_400_000);

    let ranged = create(
        &h,
        &customer,
        json!({"currency": "USD", "min_amount": 500, "max_amount": 5000, "single_use": false, "expires_in": 3600}),
    )
    .await;
    assert_eq!(ranged.status, StatusCode::OK, "{}", ranged.body);
    assert_eq!(ranged.body["min_amount"], 500);
    assert_eq!(ranged.body["amount"], Value::Null);

    let listed = h
        .request(Route::ListTopUpLinks)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let listed: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [ranged.body["id"].as_str().unwrap(), id],
        "newest first"
    );

    let read = get(&h, &customer, id).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, link);
    let by_token = h.service().top_up_link_by_token(token).await.unwrap();
    assert_eq!(by_token.id.as_str(), id);

    let cancel = || {
        h.request(Route::CancelTopUpLink)
            .customer(&customer)
            .path("link_id", id)
            .send()
    };
    let cancelled = cancel().await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        cancel().await.body["status"],
        "cancelled",
        "cancelling again answers it"
    );
    assert_eq!(get(&h, &customer, id).await.body["status"], "cancelled");
    let refused = h.service().top_up_link_by_token(token).await;
    assert!(
        matches!(refused, Err(DomainError::TopUpLinkCancelled(_))),
        "{refused:?}"
    );
    let (business, link_id) = ids(&h, &link);
    let claim = h
        .service()
        .claim_top_up_link(&business, &link_id, "ctu_1", 2500)
        .await;
    assert!(
        matches!(claim, Err(DomainError::TopUpLinkCancelled(_))),
        "{claim:?}"
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_the_first_link_and_makes_no_second() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let body = json!({"currency": "USD", "amount": 100, "idempotency_key": "link-1"});
    let first = create(&h, &customer, body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = create(&h, &customer, body).await;
    assert_error(&again, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(again.body["top_up_link"]["id"], first.body["id"]);
    let listed = h
        .request(Route::ListTopUpLinks)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_is_refused_with_422_and_writes_nothing() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    for body in [
        json!({"currency": "USD", "amount": 100, "min_amount": 1, "max_amount": 200}),
        json!({"currency": "USD"}),
        json!({"currency": "USD", "min_amount": 500}),
        json!({"currency": "USD", "min_amount": 500, "max_amount": 100}),
        json!({"currency": "USD", "amount": 0}),
        json!({"currency": "USD", "amount": -5}),
        json!({"currency": "USD", "amount": 100, "expires_in": 30 * 86_400 + 1}),
        json!({"currency": "USD", "amount": 100, "expires_in": 0}),
        json!({"currency": "XXX", "amount": 100}),
        json!({"currency": "USD", "amount": 100, "reason": "x".repeat(600)}),
    ] {
        let refused = create(&h, &customer, body.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.body
        );
        assert!(refused.body["code"].is_string() && refused.body["message"].is_string());
    }
    let listed = h
        .request(Route::ListTopUpLinks)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(listed.body["items"], json!([]), "nothing written");
}

#[tokio::test]
async fn another_business_s_link_ids_answer_404() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let other = h.other_business().await;
    let customer = h.customer().await;
    let link = create(&h, &customer, json!({"currency": "USD", "amount": 100}))
        .await
        .body;
    let id = link["id"].as_str().unwrap();
    assert_error(
        &get(&other, &customer, id).await,
        StatusCode::NOT_FOUND,
        "customer_not_found",
    );
    let theirs = other.customer().await;
    assert_error(
        &get(&other, &theirs, id).await,
        StatusCode::NOT_FOUND,
        "top_up_link_not_found",
    );
    let cancel = other
        .request(Route::CancelTopUpLink)
        .customer(&theirs)
        .path("link_id", id)
        .send()
        .await;
    assert_error(&cancel, StatusCode::NOT_FOUND, "top_up_link_not_found");
    // Another customer of the same business does not reach it either.
    let sibling = h.customer().await;
    assert_error(
        &get(&h, &sibling, id).await,
        StatusCode::NOT_FOUND,
        "top_up_link_not_found",
    );
    let other_business = BusinessId::parse(&other.business_id).unwrap();
    let (_, link_id) = ids(&h, &link);
    let claim = other
        .service()
        .claim_top_up_link(&other_business, &link_id, "ctu_1", 100)
        .await;
    assert!(
        matches!(claim, Err(DomainError::TopUpLinkNotFound(_))),
        "{claim:?}"
    );
    assert_eq!(get(&h, &customer, id).await.body["status"], "active");
}

/// Two tabs, then eight, pay one single-use link at once: exactly one claim wins, the others
/// are told the link is in use.
#[tokio::test]
async fn racing_claims_of_a_single_use_link_let_exactly_one_through() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    for tabs in [2, 8] {
        let link = create(&h, &customer, json!({"currency": "USD", "amount": 700}))
            .await
            .body;
        let (business, link_id) = ids(&h, &link);
        let claims = (0..tabs).map(|tab| {
            let (h, business, link_id) = (h.clone(), business.clone(), link_id.clone());
            tokio::spawn(async move {
                h.service()
                    .claim_top_up_link(&business, &link_id, &format!("ctu_tab{tab}"), 700)
                    .await
            })
        });
        let mut won = Vec::new();
        let claims: Vec<_> = claims.collect();
        for claim in claims {
            match claim.await.unwrap() {
                Ok(claimed) => won.push(claimed.paying.unwrap().top_up_id),
                Err(DomainError::TopUpLinkInUse(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won.len(), 1, "{tabs} tabs: {won:?}");
        let stored = get(&h, &customer, link_id.as_str()).await.body;
        assert_eq!(stored["status"], "active");
    }
}

#[tokio::test]
async fn a_released_claim_can_be_taken_again_and_amounts_must_fit_the_link() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let link = create(
        &h,
        &customer,
        json!({"currency": "USD", "min_amount": 500, "max_amount": 900}),
    )
    .await
    .body;
    let (business, link_id) = ids(&h, &link);
    let app = h.service();
    let outside = app
        .claim_top_up_link(&business, &link_id, "ctu_a", 901)
        .await;
    assert!(
        matches!(&outside, Err(DomainError::Invalid(v)) if v.code == "top_up_link_amount"),
        "{outside:?}"
    );
    app.claim_top_up_link(&business, &link_id, "ctu_a", 600)
        .await
        .unwrap();
    let busy = app
        .claim_top_up_link(&business, &link_id, "ctu_b", 600)
        .await;
    assert!(
        matches!(busy, Err(DomainError::TopUpLinkInUse(_))),
        "{busy:?}"
    );
    // The first top-up declined: its claim is given back, and the second tab may pay.
    let released = app
        .release_top_up_link(&business, &link_id, "ctu_a")
        .await
        .unwrap();
    assert!(released.paying.is_none());
    let taken = app
        .claim_top_up_link(&business, &link_id, "ctu_b", 900)
        .await
        .unwrap();
    assert_eq!(taken.paying.unwrap().top_up_id, "ctu_b");
    // Releasing someone else's claim changes nothing.
    app.release_top_up_link(&business, &link_id, "ctu_a")
        .await
        .unwrap();
    assert!(app
        .claim_top_up_link(&business, &link_id, "ctu_c", 600)
        .await
        .is_err());
}

/// The sweep marks a lapsed link expired once, however often it runs; the change makes one
/// `wallet.top_up_link.expired` event; an expired link is refused.
#[tokio::test]
async fn the_sweep_expires_a_lapsed_link_once_with_one_event() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let receiver = Receiver::start().await;
    let _pump = Pump::start(h.calm_service()).await;
    let hook = h
        .request(Route::CreateWebhook)
        .json(json!({"url": receiver.url(), "filter_types": ["wallet.top_up_link.expired"]}))
        .send()
        .await;
    assert_eq!(hook.status, StatusCode::OK, "{}", hook.body);
    let customer = h.customer().await;
    let link = create(
        &h,
        &customer,
        json!({"currency": "USD", "amount": 100, "expires_in": 60}),
    )
    .await
    .body;
    let id = link["id"].as_str().unwrap();
    let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let due = instant(&link["expires_at"]);
    let found = h
        .service()
        .store()
        .expired_top_up_links(due.unix_ms, 1_000)
        .await
        .unwrap();
    assert!(
        found.iter().any(|f| f.link_id.as_str() == id),
        "in the index"
    );
    let (first, second) = tokio::join!(
        h.service().expire_top_up_links(due, 1_000),
        h.service().expire_top_up_links(due, 1_000)
    );
    assert!(first.unwrap() + second.unwrap() >= 1);
    h.service().expire_top_up_links(due, 1_000).await.unwrap();
    assert_eq!(get(&h, &customer, id).await.body["status"], "expired");
    let after = h
        .service()
        .store()
        .expired_top_up_links(due.unix_ms, 1_000)
        .await
        .unwrap();
    assert!(
        !after.iter().any(|f| f.link_id.as_str() == id),
        "out of the index"
    );
    let refused = h.service().top_up_link_by_token(token).await;
    assert!(
        matches!(refused, Err(DomainError::TopUpLinkExpired(_))),
        "{refused:?}"
    );
    let (business, link_id) = ids(&h, &link);
    let claim = h
        .service()
        .claim_top_up_link(&business, &link_id, "ctu_late", 100)
        .await;
    assert!(
        matches!(claim, Err(DomainError::TopUpLinkExpired(_))),
        "{claim:?}"
    );

    let events = receiver
        .wait_for(1, Duration::from_secs(20), |e| {
            e.json()["data"]["top_up_link"]["id"] == id
        })
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type(), "wallet.top_up_link.expired");
    assert_eq!(events[0].json()["data"]["top_up_link"]["status"], "expired");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = receiver
        .received()
        .into_iter()
        .filter(|e| e.json()["data"]["top_up_link"]["id"] == id)
        .count();
    assert_eq!(all, 1, "one event, however many sweeps ran");
}

/// The write a card top-up's settle adds to its credit's transaction (here with the wallet set
/// alone, as the credit would write it): the link becomes paid once, with one
/// `wallet.top_up_link.paid` event; a second settle's write is refused and marks nothing.
#[tokio::test]
async fn the_paid_write_in_the_credit_s_transaction_marks_the_link_paid_once_with_one_event() {
    use shared::change::model::{Change, Write};
    use shared::ports::WalletStore;
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let receiver = Receiver::start().await;
    let _pump = Pump::start(h.calm_service()).await;
    let hook = h
        .request(Route::CreateWebhook)
        .json(json!({"url": receiver.url(), "filter_types": ["wallet.top_up_link.paid"]}))
        .send()
        .await;
    assert_eq!(hook.status, StatusCode::OK, "{}", hook.body);
    let customer = h.customer().await;
    let link = create(&h, &customer, json!({"currency": "USD", "amount": 900}))
        .await
        .body;
    let (business, link_id) = ids(&h, &link);
    let app = h.service();
    let unclaimed = app
        .top_up_link_paid(&business, link_id.as_str(), "ctu_paid", 900)
        .await
        .unwrap();
    assert!(unclaimed.is_none(), "not claimed by that top-up");
    app.claim_top_up_link(&business, &link_id, "ctu_paid", 900)
        .await
        .unwrap();
    let settle = || {
        let (app, business, link_id) = (app, business.clone(), link_id.clone());
        let customer = shared::kernel::CustomerId::parse(&customer).unwrap();
        let token = shared::kernel::ids::change_token(Timestamp::now().unix_ms);
        async move {
            let Some(paid) = app
                .top_up_link_paid(&business, link_id.as_str(), "ctu_paid", 900)
                .await
                .unwrap()
            else {
                return false; // counted already: nothing to write
            };
            let mut wallets = app
                .store()
                .get_wallets(&business, &customer)
                .await
                .unwrap()
                .unwrap();
            wallets.version += 1;
            let change = Change {
                business_id: business.clone(),
                writes: vec![Write::Wallets(wallets), paid],
                token,
            };
            app.store().commit(&change).await.unwrap().is_ok()
        }
    };
    let (first, second) = tokio::join!(settle(), settle());
    assert!(first != second, "one lands: {first} {second}");
    let stored = get(&h, &customer, link_id.as_str()).await.body;
    assert_eq!(stored["status"], "paid");
    assert_eq!(
        (&stored["paid_count"], &stored["paid_amount"]),
        (&json!(1), &json!(900))
    );
    assert_eq!(stored["last_paid_top_up_id"], "ctu_paid");
    let events = receiver
        .wait_for(1, Duration::from_secs(20), |e| {
            e.json()["data"]["top_up_link"]["id"] == link_id.as_str()
        })
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type(), "wallet.top_up_link.paid");
    assert_eq!(events[0].json()["data"]["top_up_link"]["status"], "paid");
    let used = h
        .service()
        .top_up_link_by_token(link["url"].as_str().unwrap().rsplit('/').next().unwrap());
    assert!(matches!(used.await, Err(DomainError::TopUpLinkUsed(_))));
}
