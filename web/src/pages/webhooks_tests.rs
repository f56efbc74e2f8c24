use lambda_http::http::StatusCode;
use shared::kernel::{EndpointId, EventId, Timestamp};
use shared::ports::WebhookStore;
use shared::webhooks::model::{
    Attempt, AttemptResult, Delivery, DeliveryStatus, Endpoint, EventType,
};
use shared::webhooks::rules::{new_endpoint, EndpointFields};

use crate::pages::test_support::*;

async fn endpoint(app: &App, browser: &Browser, description: &str) -> Endpoint {
    endpoint_at(app, browser, description, "https://example.com/hooks").await
}

async fn endpoint_at(app: &App, browser: &Browser, description: &str, url: &str) -> Endpoint {
    let fields = EndpointFields {
        url: url.into(),
        description: Some(description.into()),
        ..EndpointFields::default()
    };
    let new = new_endpoint(fields, app.config().webhook_targets).unwrap();
    app.create_endpoint(&browser.tenant, new).await.unwrap()
}

/// A delivery of `endpoint` with one failed attempt, recorded as the dispatcher records it.
async fn delivery(app: &App, endpoint: &Endpoint) -> Delivery {
    delivery_leased(app, endpoint, None).await
}

async fn delivery_leased(
    app: &App,
    endpoint: &Endpoint,
    lease_until: Option<Timestamp>,
) -> Delivery {
    let at = Timestamp::from_unix_ms(app.now().unix_ms);
    let recorded = Delivery {
        id: EventId::generate(),
        endpoint_id: endpoint.id.clone(),
        business_id: endpoint.business_id.clone(),
        event_type: EventType::BalanceLow,
        payload: format!(r#"{{"type":"wallet.balance_low","note":"{SCRIPT}"}}"#),
        status: DeliveryStatus::Pending,
        attempt_count: 0,
        next_attempt_at: Some(at),
        lease_until: None,
        created_at: at,
        updated_at: at,
    };
    assert!(app.store().insert_delivery(&recorded).await.unwrap());
    let mut attempted = recorded.clone();
    attempted.attempt_count = 1;
    attempted.lease_until = lease_until;
    let attempt = Attempt {
        number: 1,
        attempted_at: at,
        result: AttemptResult {
            status_code: Some(500),
            duration_ms: 12,
            error: None,
            response: SCRIPT.into(),
        },
    };
    assert!(app
        .store()
        .update_delivery(&attempted, &recorded, Some(&attempt))
        .await
        .unwrap());
    attempted
}

#[tokio::test]
async fn a_description_with_a_script_shows_as_text_on_the_list_and_the_endpoint_page() {
    let app = app();
    let browser = signed_in(&app).await;
    let made = endpoint(&app, &browser, SCRIPT).await;
    for path in [
        "/dashboard/webhooks".to_owned(),
        format!("/dashboard/webhooks/{}", made.id),
    ] {
        let page = get(&app, &browser, &path).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = text(&page);
        assert!(html.contains(SCRIPT_ESCAPED), "{path}: {html}");
        assert!(!html.contains(SCRIPT), "{path}");
    }
}

#[tokio::test]
async fn the_secret_is_never_in_a_page_read_with_get_and_shows_after_a_post() {
    let app = app();
    let browser = signed_in(&app).await;
    let made = endpoint(&app, &browser, "orders").await;
    let page = text(&get(&app, &browser, &format!("/dashboard/webhooks/{}", made.id)).await);
    assert!(!page.contains(&made.secret));
    let path = format!("/dashboard/webhooks/{}/secret", made.id);
    let forged = post(&app, &browser, &path, &[("csrf_token", "x")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(!text(&forged).contains(&made.secret));
    let shown = post(&app, &browser, &path, &[("csrf_token", &browser.csrf)]).await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.headers()["cache-control"], "no-store");
    assert!(text(&shown).contains(&made.secret));
}

#[tokio::test]
async fn webhook_forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = app();
    let browser = signed_in(&app).await;
    let made = endpoint(&app, &browser, "orders").await;
    let sent = delivery(&app, &made).await;
    let key = form_key(1);
    let base = format!("/dashboard/webhooks/{}", made.id);
    let forms = [
        ("/dashboard/webhooks".to_owned(), "https://example.com/b"),
        (base.clone(), "https://example.com/c"),
        (format!("{base}/delete"), ""),
        (format!("{base}/deliveries/{}/resend", sent.id), ""),
    ];
    for (path, url) in forms {
        let answer = post(
            &app,
            &browser,
            &path,
            &[
                ("url", url),
                ("idempotency_key", &key),
                ("toggle", "disable"),
            ],
        )
        .await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (endpoints, _) = app.list_endpoints(&browser.tenant, None, 20).await.unwrap();
    assert_eq!(endpoints, vec![made.clone()]);
    let (after, attempts) = app
        .get_delivery(&browser.tenant, &made.id, &sent.id)
        .await
        .unwrap();
    assert_eq!((after.attempt_count, attempts.len()), (1, 1));
}

#[tokio::test]
async fn a_resubmitted_create_form_makes_one_endpoint() {
    let app = app();
    let browser = signed_in(&app).await;
    let key = form_key(2);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("url", "https://example.com/hooks"),
        ("description", "orders"),
        ("filter_types", "wallet.balance_low"),
        ("filter_types", "wallet.topped_up"),
        ("rate_limit", "5"),
    ];
    let first = post(&app, &browser, "/dashboard/webhooks", &form).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER, "{}", text(&first));
    let again = post(&app, &browser, "/dashboard/webhooks", &form).await;
    assert_eq!(location(&again), location(&first));
    let (endpoints, _) = app.list_endpoints(&browser.tenant, None, 20).await.unwrap();
    assert_eq!(endpoints.len(), 1);
    let made = &endpoints[0];
    assert_eq!(
        location(&first),
        format!("/dashboard/webhooks/{}?done=created", made.id)
    );
    assert_eq!(
        made.filter_types,
        vec![EventType::ToppedUp, EventType::BalanceLow]
    );
    assert_eq!(made.rate_limit, Some(5));
}

#[tokio::test]
async fn a_refused_endpoint_shows_the_message_and_what_was_typed_and_makes_nothing() {
    let app = app();
    let browser = signed_in(&app).await;
    let key = form_key(3);
    let answer = post(
        &app,
        &browser,
        "/dashboard/webhooks",
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", key.as_str()),
            ("url", "ftp://example.com"),
            ("description", "typed <i>"),
            ("filter_types", "wallet.closed"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&answer);
    assert!(html.contains("absolute http or https URL"), "{html}");
    assert!(html.contains("value=\"typed &lt;i&gt;\""));
    assert!(html.contains("value=\"wallet.closed\" checked"));
    let (endpoints, _) = app.list_endpoints(&browser.tenant, None, 20).await.unwrap();
    assert!(endpoints.is_empty());
}

#[tokio::test]
async fn an_endpoint_is_edited_disabled_and_deleted_once_per_form() {
    let app = app();
    let browser = signed_in(&app).await;
    let made = endpoint(&app, &browser, "orders").await;
    let base = format!("/dashboard/webhooks/{}", made.id);
    let edit = form_key(4);
    let answer = post(
        &app,
        &browser,
        &base,
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", edit.as_str()),
            ("url", "https://example.com/v2"),
            ("description", "orders v2"),
            ("filter_types", "wallet.closed"),
        ],
    )
    .await;
    assert_eq!(location(&answer), format!("{base}?done=saved"));
    let edited = app.get_endpoint(&browser.tenant, &made.id).await.unwrap();
    assert_eq!(
        (
            edited.url.as_str(),
            edited.description.as_str(),
            edited.disabled
        ),
        ("https://example.com/v2", "orders v2", false)
    );
    assert_eq!(edited.filter_types, vec![EventType::WalletClosed]);
    let toggle = form_key(5);
    let disable = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", toggle.as_str()),
        ("toggle", "disable"),
    ];
    let answer = post(&app, &browser, &base, &disable).await;
    assert_eq!(location(&answer), format!("{base}?done=disabled"));
    let disabled = app.get_endpoint(&browser.tenant, &made.id).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.version, edited.version + 1);
    // The same form again: applied once.
    post(&app, &browser, &base, &disable).await;
    let again = app.get_endpoint(&browser.tenant, &made.id).await.unwrap();
    assert_eq!(again.version, disabled.version);

    let delete = form_key(6);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", delete.as_str()),
    ];
    let path = format!("{base}/delete");
    let first = post(&app, &browser, &path, &form).await;
    assert_eq!(location(&first), "/dashboard/webhooks?done=deleted");
    let twice = post(&app, &browser, &path, &form).await;
    assert_eq!(location(&twice), "/dashboard/webhooks?done=deleted");
    assert!(app.get_endpoint(&browser.tenant, &made.id).await.is_err());
}

#[tokio::test]
async fn the_delivery_log_and_a_delivery_show_status_attempts_and_escaped_payload() {
    let app = app();
    let browser = signed_in(&app).await;
    let made = endpoint(&app, &browser, "orders").await;
    let sent = delivery(&app, &made).await;
    let base = format!("/dashboard/webhooks/{}", made.id);
    let html = text(&get(&app, &browser, &base).await);
    assert!(html.contains(&sent.id.to_string()), "{html}");
    assert!(html.contains("wallet.balance_low"));
    let none = text(&get(&app, &browser, &format!("{base}?status=succeeded")).await);
    assert!(!none.contains(&sent.id.to_string()));
    let page = get(&app, &browser, &format!("{base}/deliveries/{}", sent.id)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(html.contains("500"), "{html}");
    assert!(html.contains("12 ms"));
    assert!(
        !html.contains(SCRIPT),
        "payload and answer body are escaped"
    );
    assert!(html.contains("/resend"));
    let missing = get(
        &app,
        &browser,
        &format!(
            "/dashboard/webhooks/{}/deliveries/{}",
            EndpointId::generate(),
            sent.id
        ),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A port of this machine that refuses connections (bound, then closed).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_resend_is_attempted_once_per_form() {
    let app = app_allowing_private_targets();
    let browser = signed_in(&app).await;
    let url = format!("http://127.0.0.1:{}/hooks", closed_port());
    let made = endpoint_at(&app, &browser, "local", &url).await;
    let sent = delivery(&app, &made).await;
    let path = format!(
        "/dashboard/webhooks/{}/deliveries/{}/resend",
        made.id, sent.id
    );
    let key = form_key(7);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
    ];
    let first = post(&app, &browser, &path, &form).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER, "{}", text(&first));
    assert_eq!(
        location(&first),
        format!(
            "/dashboard/webhooks/{}/deliveries/{}?done=resent",
            made.id, sent.id
        )
    );
    let again = post(&app, &browser, &path, &form).await;
    assert_eq!(location(&again), location(&first));
    let (after, attempts) = app
        .get_delivery(&browser.tenant, &made.id, &sent.id)
        .await
        .unwrap();
    assert_eq!((after.attempt_count, attempts.len()), (2, 2), "one resend");
    assert!(attempts[1].result.error.is_some(), "{attempts:?}");
    let html = text(&get(&app, &browser, location(&first)).await);
    assert!(html.contains("Delivery resent."));
}

#[tokio::test]
async fn a_resend_of_a_delivery_in_flight_shows_409_and_sends_nothing() {
    let app = app();
    let browser = signed_in(&app).await;
    let made = endpoint(&app, &browser, "orders").await;
    let lease = Timestamp::from_unix_ms(app.now().unix_ms + 60_000);
    let sent = delivery_leased(&app, &made, Some(lease)).await;
    let key = form_key(8);
    let answer = post(
        &app,
        &browser,
        &format!(
            "/dashboard/webhooks/{}/deliveries/{}/resend",
            made.id, sent.id
        ),
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", key.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::CONFLICT, "{}", text(&answer));
    assert!(text(&answer).contains("role=\"alert\""));
    let (_, attempts) = app
        .get_delivery(&browser.tenant, &made.id, &sent.id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
}
