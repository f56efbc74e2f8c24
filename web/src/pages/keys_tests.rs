use lambda_http::http::StatusCode;

use crate::pages::test_support::*;

#[tokio::test]
async fn a_key_named_with_a_script_shows_as_text() {
    let app = app();
    let browser = signed_in(&app).await;
    app.create_key(
        &browser.tenant,
        None,
        Some(SCRIPT),
        None,
        shared::access::model::Scope::Full,
    )
    .await
    .unwrap();
    let page = get(&app, &browser, "/dashboard/api-keys").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(html.contains(SCRIPT_ESCAPED), "{html}");
    assert!(!html.contains(SCRIPT));
    assert!(html.contains("data-confirm"), "revoking asks first");
}

#[tokio::test]
async fn a_key_form_without_the_csrf_token_is_refused_and_makes_nothing() {
    let app = app();
    let browser = signed_in(&app).await;
    let key = form_key(1);
    let before = app.list_keys(&browser.tenant).await.unwrap();
    let answer = post(
        &app,
        &browser,
        "/dashboard/api-keys",
        &[("name", "ci"), ("idempotency_key", &key)],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let id = before[0].id.to_string();
    for path in [
        format!("/dashboard/api-keys/{id}/revoke"),
        format!("/dashboard/api-keys/{id}/rotate"),
    ] {
        let answer = post(
            &app,
            &browser,
            &path,
            &[("csrf_token", "forged"), ("idempotency_key", &key)],
        )
        .await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.list_keys(&browser.tenant).await.unwrap(), before);
}

#[tokio::test]
async fn a_created_key_s_secret_shows_once_and_a_resubmitted_form_makes_one_key() {
    let app = app();
    let browser = signed_in(&app).await;
    let key = form_key(2);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("name", "billing job"),
        ("expires_in_days", "30"),
    ];
    let first = post(&app, &browser, "/dashboard/api-keys", &form).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let html = text(&first);
    assert!(
        html.contains("value=\"cw_"),
        "the secret is on the answer: {html}"
    );
    let again = post(&app, &browser, "/dashboard/api-keys", &form).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&again), "/dashboard/api-keys?done=created");
    assert!(!text(&again).contains("cw_"), "no secret the second time");
    let keys = app.list_keys(&browser.tenant).await.unwrap();
    let named: Vec<_> = keys.iter().filter(|k| k.name == "billing job").collect();
    assert_eq!(named.len(), 1, "{keys:?}");
    assert!(named[0].expires_at.is_some());
}

#[tokio::test]
async fn a_rotation_shows_the_new_secret_once_and_gives_the_old_key_its_grace() {
    let app = app();
    let browser = signed_in(&app).await;
    let (old, _) = app
        .create_key(
            &browser.tenant,
            None,
            Some("worker"),
            None,
            shared::access::model::Scope::Full,
        )
        .await
        .unwrap();
    let key = form_key(3);
    let path = format!("/dashboard/api-keys/{}/rotate", old.id);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("grace", "2"),
        ("grace_unit", "hours"),
    ];
    let first = post(&app, &browser, &path, &form).await;
    assert_eq!(first.status(), StatusCode::OK, "{}", text(&first));
    assert!(text(&first).contains("value=\"cw_"));
    let again = post(&app, &browser, &path, &form).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let keys = app.list_keys(&browser.tenant).await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.name == "worker").count(), 2);
    let old_now = keys.iter().find(|k| k.id == old.id).unwrap();
    assert_eq!(
        old_now.expires_at.unwrap().unix_ms,
        app.now().unix_ms + 2 * 3_600_000
    );
}

#[tokio::test]
async fn a_refused_form_shows_its_message_and_what_was_typed() {
    let app = app();
    let browser = signed_in(&app).await;
    let key = form_key(4);
    let answer = post(
        &app,
        &browser,
        "/dashboard/api-keys",
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", key.as_str()),
            ("name", "nightly <b>"),
            ("expires_in_days", "-3"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&answer);
    assert!(html.contains("whole number of days"), "{html}");
    assert!(html.contains("value=\"nightly &lt;b&gt;\""), "{html}");
    assert_eq!(app.list_keys(&browser.tenant).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_revoked_key_shows_as_revoked() {
    let app = app();
    let browser = signed_in(&app).await;
    let (other, _) = app
        .create_key(
            &browser.tenant,
            None,
            Some("old"),
            None,
            shared::access::model::Scope::Full,
        )
        .await
        .unwrap();
    let key = form_key(5);
    let answer = post(
        &app,
        &browser,
        &format!("/dashboard/api-keys/{}/revoke", other.id),
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", key.as_str()),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), "/dashboard/api-keys?done=revoked");
    let keys = app.list_keys(&browser.tenant).await.unwrap();
    assert!(keys
        .iter()
        .find(|k| k.id == other.id)
        .unwrap()
        .revoked_at
        .is_some());
    let html = text(&get(&app, &browser, "/dashboard/api-keys?done=revoked").await);
    assert!(html.contains("Key revoked."));
    assert!(html.contains("revoked"));
}
