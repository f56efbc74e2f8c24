//! Card top-ups (issue 21) end to end on DynamoDB Local and localstripe: the card set up through
//! a SetupIntent, the PaymentIntent created and confirmed at start, and the wallet credited only
//! when the payment is settled (Stripe's webhook, or the sweep), exactly once however often and
//! however concurrently it is settled. localstripe does not replay idempotency keys: "charged
//! once" is proven by counting PaymentIntents at the gateway.

use std::time::Duration;

use integration_tests::cards::{gateway, DECLINING_CARD, GOOD_CARD};
use integration_tests::webhooks::Receiver;
use integration_tests::{assert_error, Harness, Route, STRIPE_WEBHOOK_TEST_SECRET};
use lambda_http::http::StatusCode;
use shared::access::model::Tenant;
use shared::kernel::paging::PageRequest;
use shared::kernel::{BusinessId, Currency, CustomerId, Timestamp};
use shared::payins::gateway::CardGateway;
use shared::payins::limits::TopUpLimits;
use shared::payins::model::{CardTopUp, CardTopUpStatus, StartCardTopUp, TopUpSource};
use shared::payins::stripe_events::{signature_header, WebhookOutcome};
use shared::DomainError;

/// Five runs of `make`'s future at once, on one task (they interleave at every store call).
async fn five_at_once<F: std::future::Future>(make: impl Fn() -> F) -> Vec<F::Output> {
    let (a, b, c, d, e) = tokio::join!(make(), make(), make(), make(), make());
    vec![a, b, c, d, e]
}

const SECRET: &str = "whsec_card_top_up_tests";

/// One test at a time: the sweep's step serves every business, and one run at a future instant
/// would settle another test's pending top-up before that test looks.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tenant(h: &Harness) -> Tenant {
    Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    }
}

fn id(customer: &str) -> CustomerId {
    CustomerId::parse(customer).unwrap()
}

/// A card set up for the customer as Stripe.js would: answers the SetupIntent's id.
async fn set_up_card(h: &Harness, customer: &str, card: &str) -> String {
    let setup = h
        .service()
        .prepare_card_top_up(&gateway(), &tenant(h), &id(customer))
        .await
        .unwrap();
    assert!(setup.client_secret.starts_with(&setup.setup_intent_id));
    gateway()
        .confirm_test_setup_intent(&setup.setup_intent_id, card)
        .await
        .unwrap();
    setup.setup_intent_id
}

fn start_of(setup_intent_id: &str, amount: i64) -> StartCardTopUp {
    StartCardTopUp {
        id: CardTopUp::new_id(Timestamp::now().unix_ms),
        currency: Currency::USD,
        amount,
        setup_intent_id: setup_intent_id.to_owned(),
        source: TopUpSource::Portal,
        save_card: false,
        limits: TopUpLimits::default_for(Currency::USD),
    }
}

async fn start(
    h: &Harness,
    customer: &str,
    start: StartCardTopUp,
) -> Result<CardTopUp, DomainError> {
    h.service()
        .start_card_top_up(&gateway(), &tenant(h), &id(customer), start)
        .await
}

/// Settles a top-up with what localstripe says of its PaymentIntent (as the sweep and the
/// webhook do).
async fn settle(h: &Harness, top_up: &CardTopUp) -> Result<CardTopUp, DomainError> {
    let pi = top_up.payment_intent_id.as_deref().expect("charged");
    let payment = gateway().payment_intent(pi).await.unwrap().unwrap();
    h.service()
        .settle_card_top_up(
            &top_up.business_id,
            &top_up.customer_id,
            &top_up.id,
            &payment,
        )
        .await
}

async fn top_up_entries(h: &Harness, customer: &str) -> Vec<serde_json::Value> {
    h.all_entries(customer, None)
        .await
        .into_iter()
        .filter(|e| e["reason"] == "Top-up")
        .collect()
}

async fn charges(top_up: &CardTopUp) -> usize {
    gateway()
        .payment_intents_of(&top_up.gateway_customer_id, None)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_succeeded_top_up_is_credited_only_when_settled_and_once_when_settled_twice() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 2_500)).await.unwrap();
    assert_eq!(top_up.status, CardTopUpStatus::Pending);
    assert!(top_up.payment_intent_id.is_some());
    // Charged once, credited not yet.
    assert_eq!(charges(&top_up).await, 1);
    assert_eq!(h.balance(&customer, "USD").await, 0);

    let first = settle(&h, &top_up).await.unwrap();
    let second = settle(&h, &top_up).await.unwrap();
    assert_eq!(first.status, CardTopUpStatus::Succeeded);
    assert_eq!(second, first);
    assert_eq!(h.balance(&customer, "USD").await, 2_500);
    let entries = top_up_entries(&h, &customer).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0]["reference_object_id"].as_str(),
        top_up.payment_intent_id.as_deref()
    );
    assert_eq!(
        entries[0]["id"].as_str(),
        first.entry_id.as_ref().map(|e| e.as_str())
    );
    // The same id started again answers the first one's record and charges nothing.
    let again = StartCardTopUp {
        id: top_up.id.clone(),
        ..start_of(&setup, 2_500)
    };
    assert_eq!(start(&h, &customer, again).await.unwrap(), first);
    assert_eq!(charges(&top_up).await, 1);
}

#[tokio::test]
async fn five_settles_at_once_credit_once() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 1_000)).await.unwrap();
    let settled = five_at_once(|| settle(&h, &top_up)).await;
    for one in &settled {
        assert_eq!(
            one.as_ref().unwrap().status,
            CardTopUpStatus::Succeeded,
            "{one:?}"
        );
    }
    assert_eq!(h.balance(&customer, "USD").await, 1_000);
    assert_eq!(top_up_entries(&h, &customer).await.len(), 1);
}

#[tokio::test]
async fn a_declined_card_records_failed_and_credits_nothing() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, DECLINING_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 2_500)).await.unwrap();
    assert_eq!(top_up.status, CardTopUpStatus::Failed, "{top_up:?}");
    assert_eq!(top_up.decline_code.as_deref(), Some("card_declined"));
    assert_eq!(top_up.message.as_deref(), Some("the card was declined"));
    assert_eq!(h.balance(&customer, "USD").await, 0);
    assert!(top_up_entries(&h, &customer).await.is_empty());
    let listed = h
        .service()
        .list_card_top_ups(
            &tenant(&h),
            &id(&customer),
            PageRequest::parse(None, None).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(listed, vec![top_up]);
}

#[tokio::test]
async fn a_top_up_outside_the_limits_charges_nothing() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 999_000).await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    for (amount, code) in [
        (99, "top_up_below_minimum"),
        (100_001, "top_up_above_maximum"),
        (2_000, "top_up_balance_limit"),
    ] {
        let refused = start(&h, &customer, start_of(&setup, amount)).await;
        let Err(DomainError::Invalid(invalid)) = refused else {
            panic!("{amount}: {refused:?}")
        };
        assert_eq!(invalid.code, code);
    }
    let listed = h
        .service()
        .list_card_top_ups(
            &tenant(&h),
            &id(&customer),
            PageRequest::parse(None, None).unwrap(),
        )
        .await
        .unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn another_business_cannot_use_a_card_set_up_or_read_a_top_up_of_this_one() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let other = h.other_business().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    // The other business's customer names this customer's SetupIntent.
    let theirs = other.customer().await;
    let refused = start(&other, &theirs, start_of(&setup, 2_500)).await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid(v)) if v.code == "card_setup_invalid"),
        "{refused:?}"
    );
    let top_up = start(&h, &customer, start_of(&setup, 2_500)).await.unwrap();
    let read = other
        .service()
        .get_card_top_up(&tenant(&other), &id(&customer), &top_up.id)
        .await;
    assert!(
        matches!(read, Err(DomainError::CardTopUpNotFound(_))),
        "{read:?}"
    );
    assert_eq!(charges(&top_up).await, 1);
}

/// A `payment_intent.succeeded` event as Stripe sends it, for `top_up`'s PaymentIntent.
async fn succeeded_event(top_up: &CardTopUp, event_id: &str) -> Vec<u8> {
    let pi = top_up.payment_intent_id.as_deref().unwrap();
    serde_json::to_vec(&serde_json::json!({
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": pi, "object": "payment_intent", "amount": top_up.amount, "currency": "usd",
            "status": "succeeded",
            "metadata": {
                "card_top_up": top_up.id,
                "business_id": top_up.business_id.as_str(),
                "customer_id": top_up.customer_id.as_str(),
            },
        }},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_webhook_replayed_gives_one_credit_and_a_bad_or_stale_signature_credits_nothing() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 700)).await.unwrap();
    let event_id = format!("evt_{}", top_up.id);
    let body = succeeded_event(&top_up, &event_id).await;
    let now_s = Timestamp::now().unix_ms / 1000;
    let h = &h;
    let receive = move |header: String, body: Vec<u8>| async move {
        h.service()
            .receive_stripe_webhook(SECRET, Some(&header), &body)
            .await
    };
    // Bad or stale signatures: refused, nothing credited.
    for header in [
        signature_header("whsec_wrong", now_s, &body),
        signature_header(SECRET, now_s - 301, &body),
        signature_header(SECRET, now_s, b"{}"),
        "t=1,v1=00".to_owned(),
    ] {
        let refused = receive(header, body.clone()).await;
        assert!(
            matches!(refused, Err(DomainError::InvalidSignature)),
            "{refused:?}"
        );
    }
    assert_eq!(h.balance(&customer, "USD").await, 0);

    let header = signature_header(SECRET, now_s, &body);
    let first = receive(header.clone(), body.clone()).await.unwrap();
    assert_eq!(
        first,
        WebhookOutcome::Settled {
            top_up_id: top_up.id.clone(),
            status: "succeeded"
        }
    );
    assert_eq!(
        receive(header.clone(), body.clone()).await.unwrap(),
        WebhookOutcome::Duplicate
    );
    // The same event under another id (Stripe's own resend is the same id; a second event for
    // one payment is possible): settled, still one credit.
    let other_body = succeeded_event(&top_up, &format!("{event_id}_b")).await;
    let other = receive(signature_header(SECRET, now_s, &other_body), other_body).await;
    assert!(
        matches!(other, Ok(WebhookOutcome::Settled { .. })),
        "{other:?}"
    );
    // Five at once of a fresh event: one credit in all.
    let burst_body = succeeded_event(&top_up, &format!("{event_id}_c")).await;
    let burst_header = signature_header(SECRET, now_s, &burst_body);
    let burst = five_at_once(|| receive(burst_header.clone(), burst_body.clone())).await;
    for one in burst {
        assert!(one.is_ok(), "{one:?}");
    }
    assert_eq!(h.balance(&customer, "USD").await, 700);
    assert_eq!(top_up_entries(h, &customer).await.len(), 1);
}

#[tokio::test]
async fn localstripe_s_own_webhook_is_verified_and_settles_the_top_up() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let receiver = Receiver::start().await;
    // Register the receiver at localstripe (its `/_config/webhooks/<id>`), for this event only.
    let base = std::env::var("STRIPE_BASE_URL").unwrap();
    let hook = format!("card_top_ups_{}", receiver.port);
    let registered = reqwest_free_post(
        &format!("{base}/_config/webhooks/{hook}"),
        &format!(
            "url={}&secret={SECRET}&events[]=payment_intent.succeeded",
            receiver.url()
        ),
    )
    .await;
    assert_eq!(registered, 200);
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 1_200)).await.unwrap();
    let pi = top_up.payment_intent_id.clone().unwrap();
    let mine = |r: &integration_tests::webhooks::Received| {
        r.json()["data"]["object"]["id"].as_str() == Some(pi.as_str())
    };
    let got = receiver.wait_for(1, Duration::from_secs(20), mine).await;
    assert_eq!(got.len(), 1, "localstripe sent no payment_intent.succeeded");
    let delivered = &got[0];
    let signature = delivered.header("stripe-signature");
    assert!(
        signature.starts_with("t=") && signature.contains(",v1="),
        "{signature}"
    );
    assert_eq!(h.balance(&customer, "USD").await, 0);
    let outcome = h
        .service()
        .receive_stripe_webhook(SECRET, Some(signature), delivered.body.as_bytes())
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            WebhookOutcome::Settled {
                status: "succeeded",
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(h.balance(&customer, "USD").await, 1_200);
}

#[tokio::test]
async fn the_webhook_route_takes_no_key_refuses_a_bad_signature_with_400_and_credits_once() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 900)).await.unwrap();
    let body = succeeded_event(&top_up, &format!("evt_route_{}", top_up.id)).await;
    let text = String::from_utf8(body.clone()).unwrap();
    let now_s = Timestamp::now().unix_ms / 1000;
    let post = |signature: Option<String>| {
        let request = h
            .request(Route::StripeWebhook)
            .without_key()
            .raw_body(&text);
        match signature {
            Some(signature) => request.header("stripe-signature", &signature),
            None => request,
        }
        .send()
    };
    for bad in [
        None,
        Some(signature_header("whsec_wrong", now_s, &body)),
        Some(signature_header(
            STRIPE_WEBHOOK_TEST_SECRET,
            now_s - 600,
            &body,
        )),
    ] {
        let reply = post(bad).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_signature");
    }
    assert_eq!(h.balance(&customer, "USD").await, 0);
    // Too long: 413 before anything is read.
    let long = format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    let reply = h
        .request(Route::StripeWebhook)
        .without_key()
        .raw_body(&long)
        .header(
            "stripe-signature",
            &signature_header(STRIPE_WEBHOOK_TEST_SECRET, now_s, long.as_bytes()),
        )
        .send()
        .await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let good = signature_header(STRIPE_WEBHOOK_TEST_SECRET, now_s, &body);
    let first = post(Some(good.clone())).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["outcome"], "settled");
    let replayed = post(Some(good)).await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(replayed.body["outcome"], "duplicate");
    assert_eq!(h.balance(&customer, "USD").await, 900);
    assert_eq!(top_up_entries(&h, &customer).await.len(), 1);
}

#[tokio::test]
async fn with_consent_the_card_becomes_the_wallet_s_auto_top_up_payment_method() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(
        &h,
        &customer,
        StartCardTopUp {
            save_card: true,
            ..start_of(&setup, 1_100)
        },
    )
    .await
    .unwrap();
    let settings = || async {
        let got = h
            .request(Route::GetWalletSettings)
            .customer(&customer)
            .send()
            .await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        got.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["currency"] == "USD")
            .unwrap()
            .clone()
    };
    // Not before the payment is settled.
    assert!(
        settings().await["auto_top_up"].is_null(),
        "{}",
        settings().await
    );
    settle(&h, &top_up).await.unwrap();
    let saved = settings().await;
    let auto = &saved["auto_top_up"];
    assert_eq!(auto["enabled"], false, "{saved}");
    assert_eq!(
        auto["payment_method"]["payment_method_id"].as_str(),
        Some(top_up.payment_method_id.as_str()),
        "{saved}"
    );
    assert_eq!(
        auto["payment_method"]["gateway_customer_id"].as_str(),
        Some(top_up.gateway_customer_id.as_str())
    );
    // Without consent, nothing is saved.
    let other = h.customer().await;
    let setup = set_up_card(&h, &other, GOOD_CARD).await;
    let plain = start(&h, &other, start_of(&setup, 1_100)).await.unwrap();
    settle(&h, &plain).await.unwrap();
    let got = h
        .request(Route::GetWalletSettings)
        .customer(&other)
        .send()
        .await;
    let usd = got.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "USD")
        .unwrap()
        .clone();
    assert!(usd["auto_top_up"].is_null(), "{usd}");
}

/// A form POST without a client crate: localstripe's configuration endpoint.
async fn reqwest_free_post(url: &str, form: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(url).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(80));
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}",
        url.path(),
        url.host_str().unwrap(),
        form.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_sweep_settles_a_top_up_whose_webhook_never_came() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 1_500)).await.unwrap();
    let stop_at = tokio::time::Instant::now() + Duration::from_secs(30);
    // Not yet due: a minute after its creation.
    let now = Timestamp::now();
    h.service()
        .reconcile_card_top_ups_within(&gateway(), now, 200, stop_at)
        .await
        .unwrap();
    assert_eq!(h.balance(&customer, "USD").await, 0);
    let later = Timestamp::from_unix_ms(now.unix_ms + 61_000);
    let step = h
        .service()
        .reconcile_card_top_ups_within(&gateway(), later, 200, stop_at)
        .await
        .unwrap();
    assert!(step.errors.is_empty(), "{:?}", step.errors);
    assert_eq!(h.balance(&customer, "USD").await, 1_500);
    let read = h
        .service()
        .get_card_top_up(&tenant(&h), &id(&customer), &top_up.id)
        .await
        .unwrap();
    assert_eq!(read.status, CardTopUpStatus::Succeeded);
    // Settled, it is no longer due; a second run credits nothing more.
    h.service()
        .reconcile_card_top_ups_within(&gateway(), later, 200, stop_at)
        .await
        .unwrap();
    assert_eq!(top_up_entries(&h, &customer).await.len(), 1);
}

#[tokio::test]
async fn a_webhook_s_credit_is_one_transaction_of_five_items() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 800)).await.unwrap();
    let body = succeeded_event(&top_up, &format!("evt_cost_{}", top_up.id)).await;
    let header = signature_header(SECRET, Timestamp::now().unix_ms / 1000, &body);
    h.take_usage();
    h.service()
        .receive_stripe_webhook(SECRET, Some(&header), &body)
        .await
        .unwrap();
    let usage = h.take_usage();
    println!(
        "webhook credit: {} calls, {} RCU read, {} WCU written outside transactions, transaction items {:?} ({} WCU billed on AWS)",
        usage.calls,
        usage.read_units,
        usage.write_units,
        usage.transaction_items,
        usage.billed_wcu()
    );
    let kinds: Vec<&str> = usage
        .transaction_items
        .iter()
        .map(|(kind, _, _)| kind.as_str())
        .collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    // The event-id read, the top-up and wallets reads, the transaction, the event-id put.
    assert_eq!(usage.calls, 5, "{usage:?}");
}

#[tokio::test]
async fn a_card_is_never_set_up_on_a_gateway_customer_of_someone_else() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let other = h.other_business().await;
    let theirs = other.customer().await;
    let (foreign, _) = gateway()
        .create_test_customer(GOOD_CARD, &other.business_id, &theirs)
        .await
        .unwrap();
    // This business names the other's gateway customer on its own customer.
    let customer = h.customer().await;
    let patch = shared::customers::model::CustomerPatch {
        gateway_customer_id: Some(Some(foreign.clone())),
        ..Default::default()
    };
    h.service()
        .update_customer(&tenant(&h), &id(&customer), patch)
        .await
        .unwrap();
    let setup = h
        .service()
        .prepare_card_top_up(&gateway(), &tenant(&h), &id(&customer))
        .await
        .unwrap();
    assert_ne!(setup.gateway_customer_id, foreign);
    let used = gateway()
        .gateway_customer(&setup.gateway_customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.metadata["wallet_business_id"], h.business_id);
    assert_eq!(used.metadata["wallet_customer_id"], customer);
    // And the top-up made with it is this customer's.
    gateway()
        .confirm_test_setup_intent(&setup.setup_intent_id, GOOD_CARD)
        .await
        .unwrap();
    let top_up = start(&h, &customer, start_of(&setup.setup_intent_id, 600))
        .await
        .unwrap();
    assert_eq!(top_up.gateway_customer_id, setup.gateway_customer_id);
}

#[tokio::test]
async fn a_credited_top_up_fires_one_wallet_topped_up_however_often_it_is_settled() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let _pump = integration_tests::webhooks::Pump::start(h.calm_service()).await;
    let receiver = Receiver::start().await;
    let hook = h
        .request(Route::CreateWebhook)
        .json(serde_json::json!({"url": receiver.url()}))
        .send()
        .await;
    assert_eq!(hook.status, StatusCode::OK, "{}", hook.body);
    let customer = h.customer().await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let top_up = start(&h, &customer, start_of(&setup, 1_300)).await.unwrap();
    let body = succeeded_event(&top_up, &format!("evt_once_{}", top_up.id)).await;
    let header = signature_header(
        STRIPE_WEBHOOK_TEST_SECRET,
        Timestamp::now().unix_ms / 1000,
        &body,
    );
    let text = String::from_utf8(body).unwrap();
    for _ in 0..2 {
        let reply = h
            .request(Route::StripeWebhook)
            .without_key()
            .raw_body(&text)
            .header("stripe-signature", &header)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    settle(&h, &top_up).await.unwrap();
    let topped_up = |r: &integration_tests::webhooks::Received| {
        r.event_type() == "wallet.topped_up" && r.json()["data"]["customer_id"] == customer
    };
    let got = receiver
        .wait_for(1, Duration::from_secs(20), topped_up)
        .await;
    assert_eq!(got.len(), 1);
    let entry = &got[0].json()["data"]["ledger_entry"];
    assert_eq!(entry["amount"], 1_300, "{entry}");
    assert_eq!(entry["reason"], "Top-up", "{entry}");
    assert_eq!(
        entry["reference_object_id"].as_str(),
        top_up.payment_intent_id.as_deref()
    );
    assert_eq!(entry["created_by"]["process"], "stripe-webhook");
    // Nothing more comes (a second one would follow the first within the dispatcher's batch).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().into_iter().filter(topped_up).count(), 1);
}

#[tokio::test]
async fn the_balance_limit_counts_the_top_ups_still_pending() {
    let _serial = SERIAL.lock().await;
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 998_000).await;
    let setup = set_up_card(&h, &customer, GOOD_CARD).await;
    let first = start(&h, &customer, start_of(&setup, 1_500)).await.unwrap();
    assert_eq!(first.status, CardTopUpStatus::Pending);
    // 998,000 + 1,500 pending + 1,000 would pass the 1,000,000 limit.
    let refused = start(&h, &customer, start_of(&setup, 1_000)).await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid(v)) if v.code == "top_up_balance_limit"),
        "{refused:?}"
    );
    assert_eq!(charges(&first).await, 1);
    assert!(start(&h, &customer, start_of(&setup, 500)).await.is_ok());
}
