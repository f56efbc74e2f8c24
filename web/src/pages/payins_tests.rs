//! The dashboard's top-ups page and its portal-link forms.

use lambda_http::http::StatusCode;
use shared::access::model::Tenant;
use shared::adapters::memory::{FixedClock, MemoryStore};
use shared::kernel::CustomerId;
use shared::Service;

use crate::pages::test_support::{form_key, get, location, post, signed_in, text, App};

fn app_with_portal(mailbox: &std::path::Path) -> App {
    let mut config =
        shared::config::Config::build("t".into(), None, "USD,EUR", None).expect("config");
    config.portal = shared::config::PortalConfig {
        signing_key: Some(shared::portal::tokens::SigningKey::parse(&"s".repeat(32)).unwrap()),
        public_base_url: Some("https://wallets.example".to_owned()),
        mailer: shared::config::MailerConfig::Mailbox(mailbox.to_owned()),
    };
    Service::new(
        MemoryStore::new(),
        FixedClock::at(1_764_000_000_000),
        config,
    )
}

async fn customer(app: &App, tenant: &Tenant, email: &str) -> CustomerId {
    let new = shared::customers::model::NewCustomer {
        email: email.into(),
        name: "Ada <b>".into(),
        phone_number: None,
        metadata: Default::default(),
        preferred_locale: None,
    };
    app.create_customer(tenant, new).await.unwrap().customer_id
}

fn token_of(html: &str) -> String {
    let at = html
        .find("/portal/session?token=")
        .expect("a portal link on the page");
    html[at + "/portal/session?token=".len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_portal_link_shows_once_is_mailed_when_asked_and_ending_the_links_closes_it() {
    let mailbox = std::env::temp_dir().join(format!("payins-tests-{}", std::process::id()));
    let app = app_with_portal(&mailbox);
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser.tenant, "ada@example.com").await;
    let path = format!("/dashboard/customers/{id}/portal-sessions");
    let key = form_key(7);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("return_url", "https://shop.example/account"),
        ("send_email", "true"),
    ];
    let first = post(&app, &browser, &path, &form).await;
    assert_eq!(first.status(), StatusCode::OK, "{}", text(&first));
    let html = text(&first);
    let token = token_of(&html);
    let claims = app
        .open_portal(&token)
        .await
        .expect("the link opens the portal");
    assert_eq!(claims.customer_id, id);
    assert_eq!(
        claims.return_url.as_deref(),
        Some("https://shop.example/account")
    );
    let mails: Vec<_> = std::fs::read_dir(&mailbox).unwrap().collect();
    assert_eq!(mails.len(), 1, "one mail in the mailbox");
    // The same form again: no second link, no second mail, no link on the answer.
    let again = post(&app, &browser, &path, &form).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&again),
        format!("/dashboard/customers/{id}/top-ups?done=created")
    );
    assert!(!text(&again).contains("token="));
    assert_eq!(std::fs::read_dir(&mailbox).unwrap().count(), 1);
    // The page lists no top-up yet and escapes the customer's name.
    let page = get(
        &app,
        &browser,
        &format!("/dashboard/customers/{id}/top-ups"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(html.contains("No card top-ups yet.") && html.contains("Ada &lt;b&gt;"));
    // Ending the links: the token no longer opens anything.
    let ended = post(
        &app,
        &browser,
        &format!("{path}/revoke"),
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", form_key(8).as_str()),
        ],
    )
    .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(
        app.open_portal(&token).await.is_err(),
        "an ended link opens nothing"
    );
    std::fs::remove_dir_all(&mailbox).ok();
}

#[tokio::test]
async fn another_business_s_customer_and_a_forged_form_open_no_portal() {
    let mailbox = std::env::temp_dir().join(format!("payins-tests-b-{}", std::process::id()));
    let app = app_with_portal(&mailbox);
    let ours = signed_in(&app).await;
    let theirs = signed_in(&app).await;
    let their_customer = customer(&app, &theirs.tenant, "bo@example.com").await;
    let path = format!("/dashboard/customers/{their_customer}/portal-sessions");
    let key = form_key(9);
    let form = [
        ("csrf_token", ours.csrf.as_str()),
        ("idempotency_key", key.as_str()),
    ];
    let answer = post(&app, &ours, &path, &form).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert!(!text(&answer).contains("token="));
    let page = get(
        &app,
        &ours,
        &format!("/dashboard/customers/{their_customer}/top-ups"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    // Their own session without the CSRF token: refused before anything is made.
    let forged = post(
        &app,
        &theirs,
        &path,
        &[("idempotency_key", form_key(10).as_str())],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(!text(&forged).contains("token="));
}

#[tokio::test]
async fn a_top_up_link_is_made_once_per_form_listed_with_its_url_and_cancelled() {
    let mailbox = std::env::temp_dir().join(format!("payins-tests-c-{}", std::process::id()));
    let app = app_with_portal(&mailbox);
    let browser = signed_in(&app).await;
    let id = customer(&app, &browser.tenant, "cy@example.com").await;
    let path = format!("/dashboard/customers/{id}/top-up-links");
    let key = form_key(11);
    let form = [
        ("csrf_token", browser.csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("currency", "USD"),
        ("amount", "25.00"),
        ("reason", "<i>refill</i>"),
        ("expires_in_days", "3"),
    ];
    for _ in 0..2 {
        let made = post(&app, &browser, &path, &form).await;
        assert_eq!(made.status(), StatusCode::SEE_OTHER, "{}", text(&made));
    }
    let page_path = format!("/dashboard/customers/{id}/top-ups");
    let html = text(&get(&app, &browser, &page_path).await);
    assert_eq!(
        html.matches("https://wallets.example/pay/").count(),
        1,
        "one link: {html}"
    );
    assert!(html.contains("$25.00") && html.contains(">active<"));
    let links = app
        .list_top_up_links(
            &browser.tenant,
            &id,
            shared::payins::links::TopUpLinkQuery {
                page: shared::kernel::paging::PageRequest {
                    number: 0,
                    size: 10,
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].amount, Some(2500));
    assert!(links[0].single_use);
    // A bad amount shows the form again and makes nothing.
    let bad = post(
        &app,
        &browser,
        &path,
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", form_key(12).as_str()),
            ("currency", "USD"),
            ("amount", "ten"),
        ],
    )
    .await;
    assert_eq!(
        bad.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        text(&bad)
    );
    let cancel = format!("{path}/{}/cancel", links[0].id);
    let cancelled = post(
        &app,
        &browser,
        &cancel,
        &[
            ("csrf_token", browser.csrf.as_str()),
            ("idempotency_key", form_key(13).as_str()),
        ],
    )
    .await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let html = text(&get(&app, &browser, &page_path).await);
    assert!(
        html.contains(">cancelled<") && !html.contains(">active<"),
        "{html}"
    );
}
