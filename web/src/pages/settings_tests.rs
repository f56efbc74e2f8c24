use lambda_http::http::StatusCode;
use shared::customers::model::NewCustomer;
use shared::kernel::{Currency, CustomerId};
use shared::ledger::model::Wallet;
use shared::topups::model::{AutoTopUp, PaymentMethod, TopUpAmount};
use shared::topups::operations::SettingsPatch;

use crate::pages::test_support::*;

async fn customer(app: &App, browser: &Browser, name: &str) -> CustomerId {
    let new = NewCustomer {
        email: "ada@example.com".into(),
        name: name.into(),
        phone_number: None,
        metadata: Default::default(),
        preferred_locale: None,
    };
    app.create_customer(&browser.tenant, new)
        .await
        .unwrap()
        .customer_id
}

async fn usd(app: &App, browser: &Browser, id: &CustomerId) -> (u64, Wallet) {
    let found = app.list_wallets(&browser.tenant, id).await.unwrap();
    (
        found.wallets.version,
        found.wallets.wallets[&Currency::USD].clone(),
    )
}

fn path(id: &CustomerId) -> String {
    format!("/dashboard/customers/{id}/settings")
}

#[tokio::test]
async fn the_settings_page_shows_a_customer_named_with_a_script_as_text() {
    let app = app();
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser, SCRIPT).await;
    let page = get(&app, &browser, &format!("{}?currency=USD", path(&id))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(html.contains(SCRIPT_ESCAPED), "{html}");
    assert!(!html.contains(SCRIPT));
    // A currency the customer has no wallet in, and a made-up customer: 404.
    let none = get(&app, &browser, &format!("{}?currency=JPY", path(&id))).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let nobody = get(&app, &browser, &path(&CustomerId::generate())).await;
    assert_eq!(nobody.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_settings_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = app();
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser, "Ada").await;
    let before = usd(&app, &browser, &id).await;
    let key = form_key(1);
    let answer = post(
        &app,
        &browser,
        &path(&id),
        &[
            ("currency", "USD"),
            ("idempotency_key", &key),
            ("low_balance_threshold", "10"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert_eq!(usd(&app, &browser, &id).await, before);
}

#[tokio::test]
async fn a_resubmitted_settings_form_applies_once_and_saves_threshold_and_auto_top_up() {
    let app = app();
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser, "Ada").await;
    let (version, _) = usd(&app, &browser, &id).await;
    let key = form_key(2);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("currency", "USD"),
        ("low_balance_threshold", "12.50"),
        ("auto_top_up", "on"),
        ("top_up_threshold", "0"),
        ("top_up_by", "target"),
        ("top_up_value", "100"),
        ("max_per_day", "2"),
        ("max_amount_per_day", ""),
        ("payment_method_id", "pm_card"),
        // No gateway is configured here: the gateway customer must be named (the domain's
        // rule); with one, it is found or made there.
        ("gateway_customer_id", "cus_gw"),
    ];
    let first = post(&app, &browser, &path(&id), &form).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER, "{}", text(&first));
    assert_eq!(
        location(&first),
        format!("{}?currency=USD&done=saved", path(&id))
    );
    let (saved_version, wallet) = usd(&app, &browser, &id).await;
    assert_eq!(saved_version, version + 1);
    assert_eq!(wallet.settings.low_balance_threshold, Some(1_250));
    let auto = wallet.settings.auto_top_up.unwrap();
    assert_eq!(auto.amount, TopUpAmount::TargetBalance(10_000));
    assert_eq!((auto.threshold, auto.max_per_day), (0, 2));
    assert_eq!(auto.payment_method.payment_method_id, "pm_card");
    let actor = wallet.settings.updated_by.unwrap();
    assert!(actor.session_id.is_some(), "the session is the actor");

    let again = post(&app, &browser, &path(&id), &form).await;
    assert_eq!(location(&again), location(&first));
    assert_eq!(
        usd(&app, &browser, &id).await.0,
        saved_version,
        "applied once"
    );
    let html = text(&get(&app, &browser, location(&first)).await);
    assert!(html.contains("Saved."));
    assert!(html.contains("value=\"12.50\""), "{html}");
}

#[tokio::test]
async fn a_refused_setting_shows_the_message_and_what_was_typed_and_changes_nothing() {
    let app = app();
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser, "Ada").await;
    let before = usd(&app, &browser, &id).await;
    let key = form_key(3);
    let answer = post(
        &app,
        &browser,
        &path(&id),
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", key.as_str()),
            ("currency", "USD"),
            ("low_balance_threshold", "5"),
            ("auto_top_up", "on"),
            ("top_up_threshold", "10"),
            ("top_up_by", "target"),
            ("top_up_value", "5"),
            ("payment_method_id", "pm_<b>"),
            ("gateway_customer_id", "cus_gw"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&answer);
    assert!(
        html.contains("target_balance must be above the threshold"),
        "{html}"
    );
    assert!(html.contains("value=\"pm_&lt;b&gt;\""));
    assert_eq!(usd(&app, &browser, &id).await, before);
}

#[tokio::test]
async fn a_paused_auto_top_up_shows_its_reason_and_resumes() {
    let app = app();
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser, "Ada").await;
    let reason = "paused after 3 declined top-ups in a row (last: card_declined)";
    let paused = AutoTopUp {
        enabled: true,
        threshold: 100,
        amount: TopUpAmount::Fixed(500),
        payment_method: PaymentMethod {
            gateway_customer_id: "cus_gw".into(),
            payment_method_id: "pm_card".into(),
        },
        max_per_day: 3,
        max_amount_per_day: 1_500,
        paused_reason: Some(reason.into()),
    };
    let patch = SettingsPatch {
        low_balance_threshold: None,
        auto_top_up: Some(Some(paused)),
    };
    app.update_settings(&browser.tenant, &id, Currency::USD, &patch)
        .await
        .unwrap();
    let html = text(&get(&app, &browser, &format!("{}?currency=USD", path(&id))).await);
    assert!(html.contains(&format!("paused: {reason}")), "{html}");
    assert!(html.contains("name=\"resume\""));
    let key = form_key(4);
    let answer = post(
        &app,
        &browser,
        &path(&id),
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", key.as_str()),
            ("currency", "USD"),
            ("resume", "true"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    let auto = usd(&app, &browser, &id)
        .await
        .1
        .settings
        .auto_top_up
        .unwrap();
    assert!(auto.active(), "{auto:?}");
    assert_eq!(auto.amount, TopUpAmount::Fixed(500));
}
