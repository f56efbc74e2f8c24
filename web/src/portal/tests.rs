//! The portal's handlers on the in-memory store, without a browser, with issue 21's domain
//! operations answered by a fake ([`Fake`]): the token moved into a cookie and the clean
//! redirect, a bad or expired token, another customer's top-up, escaping, CSRF refusal, the
//! policy, the card form, rate-limit scopes, a link's ended pages and its claim.

use std::collections::HashMap;
use std::sync::Mutex;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::model::Tenant;
use shared::customers::model::NewCustomer;
use shared::kernel::{Amount, Currency, CustomerId, Timestamp};
use shared::ledger::model::{EntryCommand, EntryType, EventType};
use shared::payins::limits::TopUpLimits;
use shared::{DomainError, DomainResult, ValidationError};

use super::backend::*;
use crate::pages::test_support::{app_and_clock, request, text, App, SCRIPT, SCRIPT_ESCAPED};
use crate::table::Page;

const TOKEN: &str = "tok_ada.c2lnbmVk-_";
const OTHER_TOKEN: &str = "tok_bo.c2lnbmVk";
const LINK_TOKEN: &str = "tul_link.mac";

fn invalid(code: &'static str) -> DomainError {
    DomainError::Invalid(ValidationError::new(code, "refused by the fake"))
}

/// Issue 21's operations as the pages see them, kept in memory.
#[derive(Default)]
struct Fake {
    sessions: HashMap<String, PortalClaims>,
    links: Mutex<HashMap<String, LinkView>>,
    top_ups: Mutex<Vec<TopUpView>>,
    started: Mutex<Vec<StartTopUp>>,
    attempts: Mutex<Vec<String>>,
    /// (top-up id, amount) claimed; ids released.
    claimed: Mutex<Vec<(String, i64)>>,
    released: Mutex<Vec<String>>,
    /// Every attempt of a scope containing `.0` after `.1` of them is refused.
    attempt_limit: Option<(&'static str, usize)>,
    /// Whether a started top-up is declined.
    decline: bool,
}

impl PortalBackend for Fake {
    async fn open_portal(&self, token: &str) -> DomainResult<PortalClaims> {
        self.sessions
            .get(token)
            .cloned()
            .ok_or_else(|| invalid("portal_session_invalid"))
    }

    async fn take_attempt(&self, scope: &str, _limit: u32, _window_secs: u64) -> DomainResult<()> {
        let mut attempts = self.attempts.lock().unwrap();
        attempts.push(scope.to_owned());
        let taken = attempts.iter().filter(|s| *s == scope).count();
        match self.attempt_limit {
            Some((kind, limit)) if scope.contains(kind) && taken > limit => {
                Err(invalid("rate_limited"))
            }
            _ => Ok(()),
        }
    }

    async fn top_up_limits(
        &self,
        _tenant: &Tenant,
        currency: Currency,
    ) -> DomainResult<TopUpLimits> {
        Ok(TopUpLimits::default_for(currency))
    }

    async fn prepare_card_top_up(
        &self,
        _tenant: &Tenant,
        _customer_id: &CustomerId,
    ) -> DomainResult<CardSetup> {
        Ok(CardSetup {
            client_secret: "seti_1_secret_abc".into(),
            setup_intent_id: "seti_1".into(),
        })
    }

    async fn start_card_top_up(
        &self,
        _tenant: &Tenant,
        customer_id: &CustomerId,
        start: StartTopUp,
    ) -> DomainResult<TopUpView> {
        let view = TopUpView {
            id: start.id.clone(),
            customer_id: customer_id.clone(),
            currency: start.currency,
            amount: start.amount,
            status: if self.decline {
                TopUpStatus::Failed
            } else {
                TopUpStatus::Pending
            },
            message: self.decline.then(|| "Your card was declined".to_owned()),
            link_id: match &start.source {
                TopUpSource::Link { link_id } => Some(link_id.clone()),
                TopUpSource::Portal => None,
            },
            created_at: Timestamp { unix_ms: 1 },
        };
        self.started.lock().unwrap().push(start);
        self.top_ups.lock().unwrap().push(view.clone());
        Ok(view)
    }

    async fn get_card_top_up(
        &self,
        _tenant: &Tenant,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<TopUpView> {
        self.top_ups
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.id == id && t.customer_id == *customer_id)
            .cloned()
            .ok_or_else(|| invalid("card_top_up_not_found"))
    }

    async fn list_card_top_ups(
        &self,
        _tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<Vec<TopUpView>> {
        let all = self.top_ups.lock().unwrap();
        Ok(all
            .iter()
            .filter(|t| t.customer_id == *customer_id)
            .cloned()
            .collect())
    }

    async fn top_up_link_by_token(&self, token: &str) -> DomainResult<LinkView> {
        let links = self.links.lock().unwrap();
        links
            .get(token)
            .cloned()
            .ok_or_else(|| invalid("top_up_link_not_found"))
    }

    async fn claim_top_up_link(
        &self,
        _link: &LinkView,
        top_up_id: &str,
        amount: i64,
    ) -> DomainResult<()> {
        let mut claimed = self.claimed.lock().unwrap();
        let released = self.released.lock().unwrap();
        if claimed
            .iter()
            .any(|(id, _)| id != top_up_id && !released.contains(id))
        {
            return Err(invalid("top_up_link_used"));
        }
        claimed.push((top_up_id.to_owned(), amount));
        Ok(())
    }

    async fn release_top_up_link(&self, _link: &LinkView, top_up_id: &str) -> DomainResult<()> {
        self.released.lock().unwrap().push(top_up_id.to_owned());
        Ok(())
    }
}

/// A business with two customers (Ada, whose portal `TOKEN` opens, and Bo, `OTHER_TOKEN`),
/// Ada's USD wallet credited 12.34 with `reason`.
async fn world(ada_name: &str, reason: &str) -> (App, Fake, Tenant, CustomerId, CustomerId) {
    let (app, _) = app_and_clock();
    let (business_id, _) = app.create_business("Shop").await.unwrap();
    let tenant = Tenant { business_id };
    let mut ids = Vec::new();
    for name in [ada_name, "Bo"] {
        let new = NewCustomer {
            email: "c@example.com".into(),
            name: name.into(),
            phone_number: None,
            metadata: Default::default(),
            preferred_locale: None,
        };
        ids.push(app.create_customer(&tenant, new).await.unwrap().customer_id);
    }
    let credit = EntryCommand {
        currency: Currency::USD,
        amount: Amount::new(1_234).unwrap(),
        entry_type: EntryType::Credit,
        event_type: EventType::MerchantAdjustment,
        reason: Some(reason.into()),
        reference_object_id: Some("ref_internal_9".into()),
        idempotency_key: None,
    };
    app.create_entry(&tenant, &ids[0], credit).await.unwrap();
    let expires_at = Timestamp {
        unix_ms: app.now().unix_ms + 3_600_000,
    };
    let mut fake = Fake::default();
    for (token, id) in [(TOKEN, &ids[0]), (OTHER_TOKEN, &ids[1])] {
        let claims = PortalClaims {
            business_id: tenant.business_id.clone(),
            customer_id: id.clone(),
            return_url: Some("https://shop.example/account".into()),
            expires_at,
        };
        fake.sessions.insert(token.into(), claims);
    }
    (app, fake, tenant, ids[0].clone(), ids[1].clone())
}

fn link(tenant: &Tenant, customer: &CustomerId, expires_at: Timestamp) -> LinkView {
    LinkView {
        id: "tul_01".into(),
        business_id: tenant.business_id.clone(),
        business_name: Some("Shop".into()),
        customer_id: customer.clone(),
        currency: Currency::USD,
        amount: Some(2_500),
        min_amount: None,
        max_amount: None,
        reason: Some("Top-up for March".into()),
        status: LinkStatus::Active,
        expires_at,
    }
}

async fn send(app: &App, fake: &Fake, request: Request) -> Response<Body> {
    let (page, params) = Page::of(request.method().as_str(), request.uri().path()).expect("a page");
    assert_eq!(page.family(), crate::Family::Portal);
    super::answer(app, fake, page, &params, &request).await
}

async fn get(app: &App, fake: &Fake, path: &str, cookie: Option<&str>) -> Response<Body> {
    send(app, fake, request("GET", path, cookie, None)).await
}

async fn post(
    app: &App,
    fake: &Fake,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> Response<Body> {
    let form = crate::forms::query_string(fields);
    send(app, fake, request("POST", path, cookie, Some(&form))).await
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> Vec<&'a str> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

fn ada() -> String {
    format!("cw_portal={TOKEN}")
}

/// The value of hidden field `name` in a page.
fn field(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn opening_a_link_moves_the_token_into_an_httponly_cookie_and_redirects_to_a_clean_url() {
    let (app, fake, ..) = world("Ada", "Welcome").await;
    let opened = get(&app, &fake, &format!("/portal/session?token={TOKEN}"), None).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&opened, "location"),
        ["/portal"],
        "no token in the URL"
    );
    let cookie = header(&opened, "set-cookie");
    assert_eq!(cookie.len(), 1);
    let cookie = cookie[0];
    assert!(
        cookie.starts_with(&format!("cw_portal={TOKEN};")),
        "{cookie}"
    );
    for part in ["HttpOnly", "SameSite=Lax", "Path=/;", "Max-Age=3600"] {
        assert!(cookie.contains(part), "{part}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    assert_eq!(header(&opened, "referrer-policy"), ["no-referrer"]);

    // Off loopback the cookie is Secure.
    let mut remote = request("GET", &format!("/portal/session?token={TOKEN}"), None, None);
    remote
        .headers_mut()
        .insert("host", "wallets.example.com".parse().unwrap());
    let opened = send(&app, &fake, remote).await;
    assert!(header(&opened, "set-cookie")[0].contains("; Secure"));

    // The clean URL, with the cookie: the customer's own wallets; the token is in no link.
    let home = get(&app, &fake, "/portal", Some(&ada())).await;
    assert_eq!(home.status(), StatusCode::OK);
    let page = text(&home);
    assert!(
        page.contains("Hello, Ada") && page.contains("$12.34"),
        "{page}"
    );
    assert!(page.contains("Welcome"), "the ledger's reason");
    assert!(!page.contains("ref_internal_9"), "no internal reference");
    assert!(!page.contains(TOKEN), "the token is nowhere in the page");
    assert!(page.contains("href=\"/portal/wallets/USD/add-funds\""));
    assert!(
        page.contains("href=\"https://shop.example/account\""),
        "the back button"
    );
}

#[tokio::test]
async fn a_bad_or_expired_token_shows_the_expired_page_and_opens_nothing() {
    let (app, fake, ..) = world("Ada", "Welcome").await;
    for path in [
        "/portal/session?token=tok_expired".to_owned(),
        "/portal/session".to_owned(),
        "/portal/session?token=%3Cscript%3E".to_owned(),
    ] {
        let page = get(&app, &fake, &path, None).await;
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(text(&page).contains("This link has expired"), "{path}");
        // Any portal cookie is cleared, none set.
        assert_eq!(
            header(&page, "set-cookie"),
            ["cw_portal=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]
        );
    }
    for cookie in [None, Some("cw_portal=tok_expired"), Some("cw_session=x")] {
        let page = get(&app, &fake, "/portal", cookie).await;
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED, "{cookie:?}");
        assert!(
            header(&page, "location").is_empty(),
            "never the dashboard's sign-in"
        );
    }
}

#[tokio::test]
async fn another_customers_top_up_or_a_wallet_they_lack_is_not_found() {
    let (app, fake, _, ada_id, _) = world("Ada", "Welcome").await;
    // Bo starts a top-up.
    let bo = format!("cw_portal={OTHER_TOKEN}");
    let form = text(&get(&app, &fake, "/portal/wallets/USD/add-funds", Some(&bo)).await);
    let bos = field(&form, "top_up_id");
    let started = post(
        &app,
        &fake,
        "/portal/wallets/USD/top-ups",
        Some(&bo),
        &[
            ("csrf_token", &field(&form, "csrf_token")),
            ("top_up_id", &bos),
            ("setup_intent_id", "seti_1"),
            ("amount", "25.00"),
        ],
    )
    .await;
    assert_eq!(
        header(&started, "location"),
        [format!("/portal/top-ups/{bos}")]
    );
    assert_eq!(
        get(&app, &fake, &format!("/portal/top-ups/{bos}"), Some(&bo))
            .await
            .status(),
        StatusCode::OK
    );
    // Ada cannot see it, nor a made-up id, nor a wallet she does not have.
    let not_ada = super::backend::new_top_up_id(app.now());
    for path in [
        format!("/portal/top-ups/{bos}"),
        format!("/portal/top-ups/{not_ada}"),
        "/portal/top-ups/ctu_%3Cscript%3E".to_owned(),
        "/portal/wallets/INR/add-funds".to_owned(),
        "/portal/wallets/usd%3C/add-funds".to_owned(),
    ] {
        let page = get(&app, &fake, &path, Some(&ada())).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!text(&page).contains("25.00"), "{path}");
    }
    assert!(!text(&get(&app, &fake, "/portal", Some(&ada())).await).contains(&bos));
    assert_ne!(fake.top_ups.lock().unwrap()[0].customer_id, ada_id);
}

#[tokio::test]
async fn what_the_business_typed_is_escaped() {
    let (app, fake, tenant, ada_id, _) = world(SCRIPT, SCRIPT).await;
    let mut pay = link(
        &tenant,
        &ada_id,
        Timestamp {
            unix_ms: app.now().unix_ms + 60_000,
        },
    );
    pay.reason = Some(SCRIPT.into());
    pay.business_name = Some(SCRIPT.into());
    fake.links.lock().unwrap().insert(LINK_TOKEN.into(), pay);
    for (path, cookie) in [
        ("/portal".to_owned(), Some(ada())),
        (format!("/pay/{LINK_TOKEN}"), None),
    ] {
        let page = get(&app, &fake, &path, cookie.as_deref()).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let body = text(&page);
        assert!(!body.contains(SCRIPT), "{path}");
        assert!(body.contains(SCRIPT_ESCAPED), "{path}");
    }
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_starts_nothing() {
    let (app, fake, tenant, ada_id, _) = world("Ada", "Welcome").await;
    let form = text(&get(&app, &fake, "/portal/wallets/USD/add-funds", Some(&ada())).await);
    let id = field(&form, "top_up_id");
    let csrf = field(&form, "csrf_token");
    assert_eq!(csrf, super::csrf_token(TOKEN));
    let fields = |csrf: &'static str| {
        vec![
            ("csrf_token", csrf),
            ("setup_intent_id", "seti_1"),
            ("amount", "25.00"),
        ]
    };
    // No token, another session's token, the right token without the session's cookie.
    let bos = super::csrf_token(OTHER_TOKEN);
    for (csrf, cookie) in [
        ("", Some(ada())),
        (bos.as_str(), Some(ada())),
        (csrf.as_str(), None),
    ] {
        let mut sent = fields("");
        sent[0].1 = csrf;
        sent.push(("top_up_id", &id));
        let refused = post(
            &app,
            &fake,
            "/portal/wallets/USD/top-ups",
            cookie.as_deref(),
            &sent,
        )
        .await;
        let expected = if cookie.is_some() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(refused.status(), expected, "{csrf}");
    }
    assert!(fake.started.lock().unwrap().is_empty());
    let attempts = fake.attempts.lock().unwrap().clone();
    assert!(
        !attempts.iter().any(|s| s.contains(":top-up:")),
        "refused before any attempt: {attempts:?}"
    );

    // The link's form: without its double-submit cookie, refused before the claim.
    let pay = link(
        &tenant,
        &ada_id,
        Timestamp {
            unix_ms: app.now().unix_ms + 60_000,
        },
    );
    fake.links.lock().unwrap().insert(LINK_TOKEN.into(), pay);
    let page = get(&app, &fake, &format!("/pay/{LINK_TOKEN}"), None).await;
    let pay_token = field(&text(&page), "csrf_token");
    let cookie = header(&page, "set-cookie")[0].to_owned();
    assert!(
        cookie.starts_with(&format!("cw_pay={pay_token};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pay_id = field(&text(&page), "top_up_id");
    let sent = [
        ("csrf_token", pay_token.as_str()),
        ("top_up_id", pay_id.as_str()),
        ("setup_intent_id", "seti_1"),
    ];
    let path = format!("/pay/{LINK_TOKEN}");
    for cookie in [None, Some("cw_pay=other")] {
        let refused = post(&app, &fake, &path, cookie, &sent).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    assert!(fake.claimed.lock().unwrap().is_empty());
    assert!(fake.started.lock().unwrap().is_empty());

    // With it: claimed, then started once, for the link.
    let with = format!("cw_pay={pay_token}");
    let paid = post(&app, &fake, &path, Some(&with), &sent).await;
    assert_eq!(
        header(&paid, "location"),
        [format!("{path}?top_up={pay_id}")]
    );
    assert_eq!(*fake.claimed.lock().unwrap(), [(pay_id.clone(), 2_500)]);
    let started = fake.started.lock().unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].source,
        TopUpSource::Link {
            link_id: "tul_01".into()
        }
    );
    assert_eq!(started[0].amount, 2_500);
}

#[tokio::test]
async fn portal_pages_carry_the_dashboards_policy_plus_only_stripe() {
    let (app, fake, ..) = world("Ada", "Welcome").await;
    for (path, cookie) in [
        ("/portal/wallets/USD/add-funds", Some(ada())),
        ("/portal", Some(ada())),
        ("/portal", None),
        ("/portal/top-ups/ctu_nope", Some(ada())),
    ] {
        let page = get(&app, &fake, path, cookie.as_deref()).await;
        let csp = header(&page, "content-security-policy");
        assert_eq!(csp.len(), 1, "{path}");
        // The process's Stripe.js (`STRIPE_JS_URL`; Stripe's own unless set): the exact
        // policies of both are checked in `stripe.rs`.
        let stripe = &*super::stripe::STRIPE_JS;
        assert_eq!(csp[0], stripe.content_security_policy(), "{path}");
        assert!(
            csp[0].starts_with(&format!(
                "default-src 'self'; script-src 'self' {};",
                stripe.origin()
            )),
            "{path}"
        );
        assert_eq!(header(&page, "x-frame-options"), ["DENY"]);
        assert_eq!(header(&page, "cache-control"), ["no-store"]);
    }
    // The dashboard's pages keep theirs: no Stripe.
    let sign_in = crate::handle(&app, request("GET", "/dashboard/sign-in", None, None)).await;
    assert_eq!(
        header(&sign_in, "content-security-policy"),
        [crate::respond::CONTENT_SECURITY_POLICY]
    );
}

#[tokio::test]
async fn the_add_funds_page_has_the_card_form_its_key_its_token_and_no_inline_script() {
    let (app, fake, ..) = world("Ada", "Welcome").await;
    let page = text(&get(&app, &fake, "/portal/wallets/USD/add-funds", Some(&ada())).await);
    assert!(page.contains("id=\"card-form\""));
    assert!(page.contains("data-client-secret=\"seti_1_secret_abc\""));
    assert!(page.contains("id=\"card-element\""));
    assert!(page.contains("name=\"save_card\""));
    let stripe = &*super::stripe::STRIPE_JS;
    assert!(page.contains(&format!("<script src=\"{}\" defer></script>", stripe.url)));
    assert!(page.contains(&format!(
        "<script src=\"{}\" defer></script>",
        crate::assets::PORTAL_JS.path()
    )));
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=").count()
    );
    assert!(is_top_up_id(&field(&page, "top_up_id")));
    // Each rendering is a new idempotency key.
    let again = text(&get(&app, &fake, "/portal/wallets/USD/add-funds", Some(&ada())).await);
    assert_ne!(field(&page, "top_up_id"), field(&again, "top_up_id"));
    // The amount has a label (min and max of the limits).
    assert!(
        page.contains("Amount ($5.00 to") || page.contains("Amount ("),
        "{page}"
    );
}

#[tokio::test]
async fn attempts_are_counted_per_customer_and_per_link_and_refused_past_the_limit() {
    let (app, mut fake, tenant, ada_id, _) = world("Ada", "Welcome").await;
    fake.attempt_limit = Some((":top-up:", 1));
    let pay = link(
        &tenant,
        &ada_id,
        Timestamp {
            unix_ms: app.now().unix_ms + 60_000,
        },
    );
    fake.links.lock().unwrap().insert(LINK_TOKEN.into(), pay);
    let form = text(&get(&app, &fake, "/portal/wallets/USD/add-funds", Some(&ada())).await);
    let mut sent = [
        ("csrf_token", field(&form, "csrf_token")),
        ("top_up_id", field(&form, "top_up_id")),
        ("setup_intent_id", "seti_1".to_owned()),
        ("amount", "25.00".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = post(
        &app,
        &fake,
        "/portal/wallets/USD/top-ups",
        Some(&ada()),
        &fields,
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    sent[1].1 = new_top_up_id(app.now());
    let fields: Vec<(&str, &str)> = sent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = post(
        &app,
        &fake,
        "/portal/wallets/USD/top-ups",
        Some(&ada()),
        &fields,
    )
    .await;
    assert!(second.status().is_client_error(), "{}", second.status());
    // The form again, with why and the amount typed, and a new top-up id.
    let again = text(&second);
    assert!(again.contains("refused by the fake"), "{again}");
    assert!(again.contains("value=\"25.00\""), "{again}");
    assert_ne!(field(&again, "top_up_id"), sent[1].1);
    assert_eq!(fake.started.lock().unwrap().len(), 1);
    let customer_scope = format!("portal:top-up:{}:{ada_id}", tenant.business_id);
    let pay_page = get(&app, &fake, &format!("/pay/{LINK_TOKEN}"), None).await;
    let pay_text = text(&pay_page);
    let pay_token = field(&pay_text, "csrf_token");
    let cookie = format!("cw_pay={pay_token}");
    let pay_id = field(&pay_text, "top_up_id");
    let paid = post(
        &app,
        &fake,
        &format!("/pay/{LINK_TOKEN}"),
        Some(&cookie),
        &[
            ("csrf_token", &pay_token),
            ("top_up_id", &pay_id),
            ("setup_intent_id", "seti_1"),
        ],
    )
    .await;
    // The link's own count is fresh; the customer's is spent.
    assert!(paid.status().is_client_error());
    let attempts = fake.attempts.lock().unwrap();
    assert!(
        attempts.contains(&"portal:top-up:link:tul_01".to_owned()),
        "{attempts:?}"
    );
    assert!(attempts.contains(&customer_scope), "{attempts:?}");
    assert!(
        fake.claimed.lock().unwrap().is_empty(),
        "refused before the claim"
    );
}

#[tokio::test]
async fn a_used_expired_or_cancelled_link_shows_its_page_and_charges_nothing() {
    let (app, fake, tenant, ada_id, _) = world("Ada", "Welcome").await;
    let now = app.now().unix_ms;
    let cases = [
        (LinkStatus::Paid, now + 60_000, "already been used"),
        (LinkStatus::Cancelled, now + 60_000, "cancelled"),
        (LinkStatus::Expired, now + 60_000, "expired"),
        (LinkStatus::Active, now - 1, "expired"),
    ];
    for (status, expires, says) in cases {
        let mut pay = link(&tenant, &ada_id, Timestamp { unix_ms: expires });
        pay.status = status;
        fake.links.lock().unwrap().insert(LINK_TOKEN.into(), pay);
        let page = get(&app, &fake, &format!("/pay/{LINK_TOKEN}"), None).await;
        assert_eq!(page.status(), StatusCode::GONE, "{status:?}");
        assert!(text(&page).contains(says), "{status:?}");
        assert!(!text(&page).contains("card-form"));
    }
    let missing = get(&app, &fake, "/pay/tul_nothing.mac", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(fake.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_declined_link_payment_gives_the_claim_back_and_shows_the_decline() {
    let (app, mut fake, tenant, ada_id, _) = world("Ada", "Welcome").await;
    fake.decline = true;
    let pay = link(
        &tenant,
        &ada_id,
        Timestamp {
            unix_ms: app.now().unix_ms + 60_000,
        },
    );
    fake.links.lock().unwrap().insert(LINK_TOKEN.into(), pay);
    let path = format!("/pay/{LINK_TOKEN}");
    let page = text(&get(&app, &fake, &path, None).await);
    let (token, id) = (field(&page, "csrf_token"), field(&page, "top_up_id"));
    let cookie = format!("cw_pay={token}");
    let sent = [
        ("csrf_token", token.as_str()),
        ("top_up_id", id.as_str()),
        ("setup_intent_id", "seti_1"),
    ];
    let paid = post(&app, &fake, &path, Some(&cookie), &sent).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    assert_eq!(*fake.released.lock().unwrap(), std::slice::from_ref(&id));
    let shown = get(&app, &fake, &format!("{path}?top_up={id}"), None).await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert!(
        text(&shown).contains("Your card was declined"),
        "{}",
        text(&shown)
    );
    // A top-up of the same customer that did not pay this link: not the link's to show.
    let start = StartTopUp {
        id: new_top_up_id(app.now()),
        currency: Currency::USD,
        amount: 100,
        setup_intent_id: "seti_1".into(),
        source: TopUpSource::Portal,
        save_card: false,
        limits: TopUpLimits::default_for(Currency::USD),
    };
    let other = fake
        .start_card_top_up(&tenant, &ada_id, start)
        .await
        .unwrap();
    let hidden = get(&app, &fake, &format!("{path}?top_up={}", other.id), None).await;
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
}
