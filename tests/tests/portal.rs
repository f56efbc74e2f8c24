//! The customer portal on DynamoDB Local: Dodo's `POST /customers/{id}/customer-portal/session`
//! (the link, its lifetime, the mail), revocation, the portal settings, tenancy, and the rate
//! limiter's counters under racing takes.

use integration_tests::{assert_error, json, race, Harness, Reply, Route};
use lambda_http::http::StatusCode;
use shared::kernel::Timestamp;
use shared::DomainError;

/// The harness's `PUBLIC_BASE_URL` (tests/src/lib.rs).
const BASE: &str = "http://127.0.0.1:9000";

async fn customer_with_email(h: &Harness, email: &str) -> String {
    let reply = h
        .request(Route::CreateCustomer)
        .json(json!({"email": email, "name": "Portal Customer"}))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["customer_id"].as_str().unwrap().to_owned()
}

fn unique() -> String {
    shared::kernel::EventId::generate().to_string()
}

fn unique_email(what: &str) -> String {
    format!("{what}-{}@example.com", unique())
}

async fn session(h: &Harness, customer: &str, query: &[(&str, &str)]) -> Reply {
    h.request(Route::CreateCustomerPortalSession)
        .customer(customer)
        .queries(query)
        .send()
        .await
}

fn token_of(reply: &Reply) -> String {
    let link = reply.body["link"].as_str().expect("link");
    link.strip_prefix(&format!("{BASE}/portal/session?token="))
        .unwrap_or_else(|| panic!("a link to the portal's session page: {link}"))
        .to_owned()
}

/// The mails in the harness's mailbox addressed to `to`.
fn mails_to(to: &str) -> Vec<String> {
    let dir = integration_tests::mailbox_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|text| text.starts_with(&format!("To: {to}\n")))
        .collect()
}

#[tokio::test]
async fn a_portal_session_answers_a_link_valid_24_hours_scoped_to_its_customer() {
    let h = Harness::new().await;
    let customer = customer_with_email(&h, &unique_email("link")).await;
    let before = Timestamp::now().unix_ms;
    let reply = session(
        &h,
        &customer,
        &[("return_url", "https://shop.example.com/account")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["link"],
        "Dodo's shape: {}",
        reply.body
    );
    let claims = h.service().open_portal(&token_of(&reply)).await.unwrap();
    assert_eq!(claims.customer_id.as_str(), customer);
    assert_eq!(claims.business_id.as_str(), h.business_id);
    assert_eq!(
        claims.return_url.as_deref(),
        Some("https://shop.example.com/account")
    );
    let after = Timestamp::now().unix_ms;
    let expires = claims.expires_at.unix_ms;
    assert!(
        before + 86_400_000 <= expires && expires <= after + 86_400_000,
        "24 hours from the request: {before} {expires} {after}"
    );
    // The link names no secret in its query but the token, and two links differ.
    let again = session(&h, &customer, &[]).await;
    assert_ne!(token_of(&again), token_of(&reply));
}

#[tokio::test]
async fn the_businesss_session_ttl_sets_the_links_lifetime() {
    let h = Harness::new().await;
    let customer = customer_with_email(&h, &unique_email("ttl")).await;
    let patched = h
        .request(Route::UpdateCustomerPortalSettings)
        .json(json!({"session_ttl_seconds": 600}))
        .send()
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["session_ttl_seconds"], 600);
    let before = Timestamp::now().unix_ms;
    let reply = session(&h, &customer, &[]).await;
    let after = Timestamp::now().unix_ms;
    let claims = h.service().open_portal(&token_of(&reply)).await.unwrap();
    let expires = claims.expires_at.unix_ms;
    assert!(
        before + 600_000 <= expires && expires <= after + 600_000,
        "600 s from the request: {before} {expires} {after}"
    );
}

#[tokio::test]
async fn send_email_writes_one_mail_holding_the_link_to_the_mailbox() {
    let h = Harness::new().await;
    let email = unique_email("mail");
    let customer = customer_with_email(&h, &email).await;
    let quiet = session(&h, &customer, &[("send_email", "false")]).await;
    assert_eq!(quiet.status, StatusCode::OK, "{}", quiet.body);
    assert!(
        mails_to(&email).is_empty(),
        "send_email=false sends nothing"
    );
    let reply = session(&h, &customer, &[("send_email", "true")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mails = mails_to(&email);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains(reply.body["link"].as_str().unwrap()));
}

#[tokio::test]
async fn send_email_for_a_customer_without_an_email_is_422_and_sends_nothing() {
    let h = Harness::new().await;
    let customer = customer_with_email(&h, &unique_email("none")).await;
    h.rewrite_customer(&customer, |c| c.email = String::new())
        .await;
    let reply = session(&h, &customer, &[("send_email", "true")]).await;
    assert_error(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "customer_has_no_email",
    );
    let reply = session(&h, &customer, &[]).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "without send_email it works: {}",
        reply.body
    );
}

#[tokio::test]
async fn bad_query_values_are_422() {
    let h = Harness::new().await;
    let customer = customer_with_email(&h, &unique_email("query")).await;
    for (name, value, code) in [
        ("send_email", "yes", "invalid_query"),
        ("return_url", "javascript:alert(1)", "invalid_return_url"),
        ("return_url", "/relative", "invalid_return_url"),
    ] {
        let reply = session(&h, &customer, &[(name, value)]).await;
        assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
}

#[tokio::test]
async fn another_businesss_customer_is_404_for_sessions_and_revocation() {
    let h = Harness::new().await;
    let customer = customer_with_email(&h, &unique_email("tenant")).await;
    let other = h.other_business().await;
    let reply = session(&other, &customer, &[]).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "customer_not_found");
    let reply = other
        .request(Route::RevokeCustomerPortalSessions)
        .customer(&customer)
        .send()
        .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "customer_not_found");
}

#[tokio::test]
async fn revocation_ends_every_link_issued_before_it() {
    let h = Harness::new().await;
    let customer = customer_with_email(&h, &unique_email("revoke")).await;
    let other = customer_with_email(&h, &unique_email("revoke-other")).await;
    let first = token_of(&session(&h, &customer, &[]).await);
    let second = token_of(&session(&h, &customer, &[]).await);
    let others = token_of(&session(&h, &other, &[]).await);
    assert!(h.service().open_portal(&first).await.is_ok());
    let reply = h
        .request(Route::RevokeCustomerPortalSessions)
        .customer(&customer)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["customer_id"], customer.as_str());
    for token in [&first, &second] {
        let opened = h.service().open_portal(token).await;
        assert!(
            matches!(opened, Err(DomainError::PortalSessionInvalid)),
            "{opened:?}"
        );
    }
    assert!(
        h.service().open_portal(&others).await.is_ok(),
        "another customer's link stays"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let after = token_of(&session(&h, &customer, &[]).await);
    assert!(
        h.service().open_portal(&after).await.is_ok(),
        "a new link works"
    );
}

#[tokio::test]
async fn settings_show_defaults_and_refuse_values_outside_their_bounds() {
    let h = Harness::new().await;
    let reply = h.request(Route::GetCustomerPortalSettings).send().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["session_ttl_seconds"], 86_400);
    assert_eq!(
        reply.body["top_up_limits"]["USD"],
        json!({"min_amount": 100, "max_amount": 100_000, "max_balance": 1_000_000})
    );
    for (body, code) in [
        (json!({"session_ttl_seconds": 59}), "invalid_session_ttl"),
        (
            json!({"session_ttl_seconds": 86_401}),
            "invalid_session_ttl",
        ),
        (json!({"session_ttl_seconds": "60"}), "invalid_body"),
        (
            json!({"top_up_limits": {"USD": {"min_amount": 0, "max_amount": 10, "max_balance": 10}}}),
            "invalid_top_up_limits",
        ),
        (
            json!({"top_up_limits": {"USD": {"min_amount": 10, "max_amount": 5, "max_balance": 10}}}),
            "invalid_top_up_limits",
        ),
        (
            json!({"top_up_limits": {"USD": {"min_amount": 10, "max_amount": 50}}}),
            "invalid_body",
        ),
        (
            json!({"top_up_limits": {"usd": {"min_amount": 1, "max_amount": 5, "max_balance": 10}}}),
            "invalid_currency",
        ),
    ] {
        let reply = h
            .request(Route::UpdateCustomerPortalSettings)
            .json(body.clone())
            .send()
            .await;
        assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let limits = json!({"min_amount": 500, "max_amount": 5_000, "max_balance": 20_000});
    let reply = h
        .request(Route::UpdateCustomerPortalSettings)
        .json(json!({"top_up_limits": {"USD": limits}}))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let read = h.request(Route::GetCustomerPortalSettings).send().await;
    assert_eq!(read.body["top_up_limits"]["USD"], limits);
    assert_eq!(read.body["session_ttl_seconds"], 86_400, "untouched");
    let cleared = h
        .request(Route::UpdateCustomerPortalSettings)
        .json(json!({"top_up_limits": {"USD": null}}))
        .send()
        .await;
    assert_eq!(cleared.body["top_up_limits"]["USD"]["min_amount"], 100);
    // Another business's settings are its own.
    let other = h.other_business().await;
    let theirs = other.request(Route::GetCustomerPortalSettings).send().await;
    assert_eq!(theirs.body["top_up_limits"]["USD"]["min_amount"], 100);
}

#[tokio::test]
async fn racing_attempts_on_one_scope_let_exactly_the_limit_through() {
    let h = Harness::new().await;
    let scope = format!("race:{}", unique());
    let (takes, limit) = (24, 7);
    let replies = race(takes, |_| {
        let app = h.calm_service();
        let scope = scope.clone();
        async move {
            let taken = app.take_attempt(&scope, limit, 3_600).await;
            let status = match taken {
                Ok(()) => StatusCode::OK,
                Err(DomainError::RateLimited { .. }) => StatusCode::TOO_MANY_REQUESTS,
                Err(other) => panic!("{other:?}"),
            };
            Reply {
                status,
                body: json!(null),
            }
        }
    })
    .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, limit as usize, "exactly the limit succeeds");
    assert_eq!(replies.len() - ok, takes - limit as usize);
}

#[tokio::test]
async fn the_eleventh_mail_in_an_hour_is_429_with_retry_after_and_sends_nothing() {
    // The limit counts per clock hour: start well inside one, so all 11 fall in the same.
    let into_hour_s = Timestamp::now().unix_ms / 1_000 % 3_600;
    if into_hour_s > 3_590 {
        tokio::time::sleep(std::time::Duration::from_secs(3_601 - into_hour_s)).await;
    }
    let h = Harness::new().await;
    let email = unique_email("flood");
    let customer = customer_with_email(&h, &email).await;
    for _ in 0..10 {
        let reply = session(&h, &customer, &[("send_email", "true")]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let response = h
        .request(Route::CreateCustomerPortalSession)
        .customer(&customer)
        .query("send_email", "true")
        .send_raw()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3_600).contains(&retry_after), "{retry_after}");
    assert_eq!(mails_to(&email).len(), 10);
    // A link without a mail is still given.
    let reply = session(&h, &customer, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
