//! The dashboard's handlers on the in-memory store, without a browser: sign-in and its cookies,
//! escaping, CSRF refusal, idle sessions, a resubmitted form, a refused debit. The same flows run
//! in a real browser against the local service in tests/browser/.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::kernel::CustomerId;

use crate::pages::test_support::{app_and_clock as app, request, text, App};

fn header<'a>(response: &'a Response<Body>, name: &str) -> Vec<&'a str> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// A signed-in browser: its cookie and its session's CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn signed_in(app: &App, key: &str) -> Browser {
    let (id, session) = app.sign_in(Some(key)).await.unwrap();
    Browser {
        cookie: format!("cw_session={id}"),
        csrf: session.csrf_token,
    }
}

async fn customer(app: &App, business_key: &str, name: &str) -> CustomerId {
    let (tenant, _) = app.authenticate_key(Some(business_key)).await.unwrap();
    let new = shared::customers::model::NewCustomer {
        email: "a@example.com".into(),
        name: name.into(),
        phone_number: None,
        metadata: Default::default(),
        preferred_locale: None,
    };
    app.create_customer(&tenant, new).await.unwrap().customer_id
}

async fn balance(app: &App, key: &str, id: &CustomerId) -> i64 {
    let (tenant, _) = app.authenticate_key(Some(key)).await.unwrap();
    let wallets = app.list_wallets(&tenant, id).await.unwrap();
    wallets.wallets.wallets[&shared::kernel::Currency::USD].balance
}

fn form_of(pairs: &[(&str, &str)]) -> String {
    crate::forms::query_string(pairs)
}

#[tokio::test]
async fn signing_in_sets_only_a_session_cookie_httponly_strict_and_secure_off_loopback() {
    let (app, _) = app();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let form = crate::handle(&app, request("GET", "/dashboard/sign-in", None, None)).await;
    assert_eq!(form.status(), StatusCode::OK);
    let token_cookie = header(&form, "set-cookie")[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = token_cookie.split_once('=').unwrap().1.to_owned();
    let body = form_of(&[
        ("sign_in_token", &token),
        ("api_key", &key),
        ("next", "/dashboard/customers"),
    ]);

    // Without the form's cookie: refused, no session.
    let forged = crate::handle(
        &app,
        request("POST", "/dashboard/sign-in", None, Some(&body)),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let signed = crate::handle(
        &app,
        request(
            "POST",
            "/dashboard/sign-in",
            Some(&token_cookie),
            Some(&body),
        ),
    )
    .await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&signed, "location"), ["/dashboard/customers"]);
    let session = header(&signed, "set-cookie")
        .into_iter()
        .find(|c| c.starts_with("cw_session="))
        .unwrap()
        .to_owned();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(
        !session.contains("Secure"),
        "plain HTTP on loopback: {session}"
    );
    assert!(!session.contains(&key), "the key never reaches the browser");

    // Off loopback the cookie is Secure.
    let mut remote = request(
        "POST",
        "/dashboard/sign-in",
        Some(&token_cookie),
        Some(&body),
    );
    remote
        .headers_mut()
        .insert("host", "wallets.example.com".parse().unwrap());
    let signed = crate::handle(&app, remote).await;
    assert!(header(&signed, "set-cookie")
        .iter()
        .any(|c| c.starts_with("cw_session=") && c.contains("; Secure")));

    // A wrong key: the form again, 401, no session cookie.
    let wrong = form_of(&[("sign_in_token", &token), ("api_key", "cw_wrong")]);
    let refused = crate::handle(
        &app,
        request(
            "POST",
            "/dashboard/sign-in",
            Some(&token_cookie),
            Some(&wrong),
        ),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(!header(&refused, "set-cookie")
        .iter()
        .any(|c| c.starts_with("cw_session=")));
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_without_a_session_send_the_browser_to_sign_in() {
    let (app, _) = app();
    let page = crate::handle(&app, request("GET", "/dashboard/customers?q=x", None, None)).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&page, "location"),
        ["/dashboard/sign-in?next=%2Fdashboard%2Fcustomers%3Fq%3Dx"]
    );
    let form = crate::handle(&app, request("GET", "/dashboard/sign-in", None, None)).await;
    let csp = header(&form, "content-security-policy")[0];
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(header(&form, "x-content-type-options"), ["nosniff"]);
    assert_eq!(header(&form, "referrer-policy"), ["no-referrer"]);
    // A next that leaves the dashboard is not followed.
    let form = crate::handle(
        &app,
        request(
            "GET",
            "/dashboard/sign-in?next=https://evil.example",
            None,
            None,
        ),
    )
    .await;
    assert!(!text(&form).contains("evil.example"));
}

#[tokio::test]
async fn what_people_typed_is_escaped() {
    let (app, _) = app();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let id = customer(&app, &key, "<script>alert(1)</script>").await;
    let browser = signed_in(&app, &key).await;
    for path in [
        format!("/dashboard/customers/{id}"),
        "/dashboard/customers".to_owned(),
    ] {
        let page = crate::handle(&app, request("GET", &path, Some(&browser.cookie), None)).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = text(&page);
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(!html.contains("<script>alert(1)"), "{path}");
    }
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let (app, _) = app();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let id = customer(&app, &key, "Ada").await;
    let browser = signed_in(&app, &key).await;
    let path = format!("/dashboard/customers/{id}/adjustments");
    for token in [None, Some("0".repeat(64))] {
        let mut pairs = vec![
            ("entry_type", "credit"),
            ("currency", "USD"),
            ("amount", "50.00"),
        ];
        if let Some(token) = &token {
            pairs.push(("csrf_token", token));
        }
        let answer = crate::handle(
            &app,
            request("POST", &path, Some(&browser.cookie), Some(&form_of(&pairs))),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{token:?}");
    }
    assert_eq!(balance(&app, &key, &id).await, 0);
}

#[tokio::test]
async fn a_credit_applies_once_however_often_its_form_is_sent_and_records_the_session() {
    let (app, _) = app();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let id = customer(&app, &key, "Ada").await;
    let browser = signed_in(&app, &key).await;
    let path = format!("/dashboard/customers/{id}/adjustments");
    let body = form_of(&[
        ("csrf_token", &browser.csrf),
        ("idempotency_key", "form_00000000000000000000000000000001"),
        ("entry_type", "credit"),
        ("currency", "USD"),
        ("amount", "50.00"),
        ("reason", "Goodwill"),
    ]);
    for _ in 0..2 {
        let answer = crate::handle(
            &app,
            request("POST", &path, Some(&browser.cookie), Some(&body)),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    }
    assert_eq!(balance(&app, &key, &id).await, 5_000);
    let page = crate::handle(
        &app,
        request(
            "GET",
            &format!("/dashboard/customers/{id}"),
            Some(&browser.cookie),
            None,
        ),
    )
    .await;
    let html = text(&page);
    assert!(html.contains("$50.00") && html.contains("Goodwill"));
    assert!(
        html.contains("(dashboard ses_"),
        "created_by names the session"
    );
    assert!(html.contains("role=\"img\""), "the balance chart");
}

#[tokio::test]
async fn a_debit_above_the_available_balance_shows_the_message_and_changes_nothing() {
    let (app, _) = app();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let id = customer(&app, &key, "Ada").await;
    let browser = signed_in(&app, &key).await;
    let path = format!("/dashboard/customers/{id}/adjustments");
    let body = form_of(&[
        ("csrf_token", &browser.csrf),
        ("idempotency_key", "form_00000000000000000000000000000002"),
        ("entry_type", "debit"),
        ("currency", "USD"),
        ("amount", "12.40"),
    ]);
    let answer = crate::handle(
        &app,
        request("POST", &path, Some(&browser.cookie), Some(&body)),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let html = text(&answer);
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("value=\"12.40\""), "what was typed stays");
    assert_eq!(balance(&app, &key, &id).await, 0);

    let bad = form_of(&[
        ("csrf_token", &browser.csrf),
        ("entry_type", "credit"),
        ("currency", "USD"),
        ("amount", "1.234"),
    ]);
    let answer = crate::handle(
        &app,
        request("POST", &path, Some(&browser.cookie), Some(&bad)),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&answer).contains("at most 2 decimals"));
    assert_eq!(balance(&app, &key, &id).await, 0);
}

#[tokio::test]
async fn an_idle_session_sends_the_browser_back_to_sign_in() {
    let (app, clock) = app();
    let (_, key) = app.create_business("Shop").await.unwrap();
    let browser = signed_in(&app, &key).await;
    let page = crate::handle(
        &app,
        request("GET", "/dashboard/customers", Some(&browser.cookie), None),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    clock.advance(shared::access::sessions::SESSION_IDLE_MS + 1);
    let page = crate::handle(
        &app,
        request("GET", "/dashboard/customers", Some(&browser.cookie), None),
    )
    .await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert!(header(&page, "location")[0].starts_with("/dashboard/sign-in"));
}

#[tokio::test]
async fn another_businesss_customer_is_not_found() {
    let (app, _) = app();
    let (_, key_a) = app.create_business("A").await.unwrap();
    let (_, key_b) = app.create_business("B").await.unwrap();
    let id = customer(&app, &key_a, "Ada").await;
    let browser = signed_in(&app, &key_b).await;
    let page = crate::handle(
        &app,
        request(
            "GET",
            &format!("/dashboard/customers/{id}"),
            Some(&browser.cookie),
            None,
        ),
    )
    .await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let body = form_of(&[
        ("csrf_token", &browser.csrf),
        ("entry_type", "credit"),
        ("currency", "USD"),
        ("amount", "5"),
    ]);
    let answer = crate::handle(
        &app,
        request(
            "POST",
            &format!("/dashboard/customers/{id}/adjustments"),
            Some(&browser.cookie),
            Some(&body),
        ),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert_eq!(balance(&app, &key_a, &id).await, 0);
}

#[tokio::test]
async fn a_read_only_key_can_look_but_not_post_an_adjustment() {
    let (app, _) = app();
    let (business, key) = app.create_business("Shop").await.unwrap();
    let id = customer(&app, &key, "Ada").await;
    let tenant = shared::access::model::Tenant {
        business_id: business,
    };
    let (_, read_only) = app
        .create_key(
            &tenant,
            None,
            Some("support"),
            None,
            shared::access::model::Scope::ReadOnly,
        )
        .await
        .unwrap();
    let browser = signed_in(&app, &read_only).await;
    let page = crate::handle(
        &app,
        request(
            "GET",
            &format!("/dashboard/customers/{id}"),
            Some(&browser.cookie),
            None,
        ),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let body = form_of(&[
        ("csrf_token", &browser.csrf),
        ("idempotency_key", "form_00000000000000000000000000000003"),
        ("entry_type", "credit"),
        ("currency", "USD"),
        ("amount", "5"),
    ]);
    let answer = crate::handle(
        &app,
        request(
            "POST",
            &format!("/dashboard/customers/{id}/adjustments"),
            Some(&browser.cookie),
            Some(&body),
        ),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(text(&answer).contains("insufficient_scope"));
    assert_eq!(balance(&app, &key, &id).await, 0);
}

#[tokio::test]
async fn an_invoice_payment_shows_its_split_and_a_reversal_goes_where_the_form_says() {
    let (app, _) = app();
    let (business, key) = app.create_business("Shop").await.unwrap();
    let id = customer(&app, &key, "Ada").await;
    let tenant = shared::access::model::Tenant {
        business_id: business,
    };
    let usd = shared::kernel::Currency::USD;
    let credit = shared::ledger::model::EntryCommand {
        currency: usd,
        amount: shared::kernel::Amount::new(3_000).unwrap(),
        entry_type: shared::ledger::model::EntryType::Credit,
        event_type: shared::ledger::model::EventType::MerchantAdjustment,
        reason: None,
        reference_object_id: None,
        idempotency_key: None,
    };
    app.create_entry(&tenant, &id, credit).await.unwrap();
    let invoice = shared::kernel::InvoiceId::parse("inv_42").unwrap();
    let command = shared::invoices::model::InvoiceCommand {
        invoice_id: invoice.clone(),
        currency: usd,
        amount_due: shared::kernel::Amount::new(5_000).unwrap(),
        charge_remainder: None,
    };
    app.pay_invoice(&tenant, &id, command).await.unwrap();
    let browser = signed_in(&app, &key).await;
    let page = crate::handle(
        &app,
        request(
            "GET",
            &format!("/dashboard/customers/{id}/invoice-payments?invoice_id=inv_42"),
            Some(&browser.cookie),
            None,
        ),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(
        html.contains("Paid from the wallet</dt><dd>$30.00"),
        "{html}"
    );
    assert!(html.contains("Left to pay</dt><dd>$20.00"), "{html}");
    assert!(html.contains("name=\"destination\""));

    let path = format!("/dashboard/customers/{id}/invoice-payments/inv_42/reversals");
    let body = form_of(&[
        ("csrf_token", &browser.csrf),
        ("idempotency_key", "form_00000000000000000000000000000004"),
        ("amount", "10.00"),
        ("destination", "wallet"),
    ]);
    let answer = crate::handle(
        &app,
        request("POST", &path, Some(&browser.cookie), Some(&body)),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    assert_eq!(balance(&app, &key, &id).await, 1_000);
    let bad = form_of(&[
        ("csrf_token", &browser.csrf),
        ("amount", "1.00"),
        ("destination", "moon"),
    ]);
    let answer = crate::handle(
        &app,
        request("POST", &path, Some(&browser.cookie), Some(&bad)),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(balance(&app, &key, &id).await, 1_000);
}

#[tokio::test]
async fn a_list_page_read_for_a_claimed_business_shows_nothing_unless_the_session_proves_it() {
    let (app, _) = app();
    let (_, key_a) = app.create_business("A").await.unwrap();
    let (business_b, key_b) = app.create_business("B").await.unwrap();
    customer(&app, &key_b, "Secret customer of B").await;
    let browser = signed_in(&app, &key_a).await;
    let (_, random) = browser.cookie.split_once('.').unwrap();
    // A's session id with B's id in front: the page starts reading B's customers, then the
    // session refuses the claim.
    let forged = format!("cw_session={business_b}.{random}");
    for path in [
        "/dashboard/customers",
        "/dashboard/webhooks",
        "/dashboard/api-keys",
    ] {
        let page = crate::handle(&app, request("GET", path, Some(&forged), None)).await;
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(!text(&page).contains("Secret customer"), "{path}");
        let own = crate::handle(&app, request("GET", path, Some(&browser.cookie), None)).await;
        assert_eq!(own.status(), StatusCode::OK, "{path}");
        assert!(!text(&own).contains("Secret customer"), "{path}");
    }
}
