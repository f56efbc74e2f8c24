//! The customer portal's pages (web::portal) on DynamoDB Local and localstripe, through the real
//! handler (`web::handle`) and the service's own operations: a portal link from
//! `create_portal_session`, opened (the token into the cookie, 303 to `/portal`); the add-funds
//! page's SetupIntent, the card confirmed as Stripe.js does, the form's POST starting the top-up
//! (one PaymentIntent however often it is sent), its page pending, then the new balance once
//! settled; a charge declined; another customer's top-up 404; an amount past the limits refused
//! on the form; a revoked session; the per-customer rate limit.

use integration_tests::cards::{gateway, DECLINING_CARD, GOOD_CARD};
use integration_tests::Harness;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::model::Tenant;
use shared::adapters::faulty::{Faults, FaultyStore};
use shared::adapters::mailer::ConfiguredMailer;
use shared::kernel::{BusinessId, Currency, CustomerId, SystemClock};
use shared::payins::gateway::CardGateway;
use shared::payins::limits::TopUpLimits;
use shared::{DomainError, Service};

type App = integration_tests::App;

/// The harness's store and configuration, with a portal signing key.
fn portal_app(h: &Harness) -> App {
    let mut config = h.service().config().clone();
    config.portal.signing_key =
        Some(shared::portal::tokens::SigningKey::parse(&"k".repeat(40)).unwrap());
    config.portal.public_base_url = Some("http://127.0.0.1:9000".into());
    let store = FaultyStore::new(h.service().store().inner().clone(), 0, Faults::NONE);
    Service::new(store, SystemClock, config)
}

fn tenant(h: &Harness) -> Tenant {
    Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    }
}

/// A portal link for `customer`, opened: answers the cookie the browser keeps.
async fn open(app: &App, h: &Harness, customer: &str) -> String {
    let mailer = ConfiguredMailer::None;
    let id = CustomerId::parse(customer).unwrap();
    let link = app
        .create_portal_session(
            &mailer,
            &tenant(h),
            &id,
            Some("https://shop.example/".into()),
            false,
        )
        .await
        .unwrap()
        .link;
    let path = link.strip_prefix("http://127.0.0.1:9000").unwrap();
    let opened = send(app, "GET", path, None, None).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER, "{}", text(&opened));
    assert_eq!(opened.headers()["location"], "/portal");
    let cookie = opened.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn send(
    app: &App,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> Response<Body> {
    let body = form.map_or(Body::Empty, |fields| {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            f.append_pair(k, v);
        }
        Body::from(f.finish())
    });
    let mut request = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9000")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let request: Request = request.body(body).unwrap();
    web::handle(app, request).await
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// What follows `prefix` in `page`, up to the next `"`.
fn attribute(page: &str, prefix: &str) -> String {
    let at = page
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {page}"))
        + prefix.len();
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

/// The add-funds form, its card confirmed at localstripe as Stripe.js does: the fields to send.
async fn card_form(app: &App, cookie: &str, card: &str) -> Vec<(&'static str, String)> {
    let page = send(
        app,
        "GET",
        "/portal/wallets/USD/add-funds",
        Some(cookie),
        None,
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK, "{}", text(&page));
    let page = text(&page);
    let secret = attribute(&page, "data-client-secret=\"");
    let setup_intent = secret.split("_secret_").next().unwrap().to_owned();
    gateway()
        .confirm_test_setup_intent(&setup_intent, card)
        .await
        .unwrap();
    vec![
        (
            "csrf_token",
            attribute(&page, "name=\"csrf_token\" value=\""),
        ),
        ("top_up_id", attribute(&page, "name=\"top_up_id\" value=\"")),
        ("setup_intent_id", setup_intent),
        ("amount", "25.00".to_owned()),
    ]
}

async fn post(app: &App, cookie: &str, fields: &[(&'static str, String)]) -> Response<Body> {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = "/portal/wallets/USD/top-ups";
    send(app, "POST", path, Some(cookie), Some(&fields)).await
}

async fn page(app: &App, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = send(app, "GET", path, Some(cookie), None).await;
    (response.status(), text(&response))
}

#[tokio::test]
async fn a_card_top_up_through_the_pages_charges_once_and_shows_the_credit_once_settled() {
    let h = Harness::new().await;
    let app = portal_app(&h);
    let (ada, bo) = (h.customer().await, h.customer().await);
    let (ada_cookie, bo_cookie) = (open(&app, &h, &ada).await, open(&app, &h, &bo).await);
    let fields = card_form(&app, &ada_cookie, GOOD_CARD).await;
    let id = fields[1].1.clone();
    // Sent, then sent again (a double click): one top-up, one PaymentIntent.
    for _ in 0..2 {
        let started = post(&app, &ada_cookie, &fields).await;
        assert_eq!(
            started.status(),
            StatusCode::SEE_OTHER,
            "{}",
            text(&started)
        );
        assert_eq!(
            started.headers()["location"],
            format!("/portal/top-ups/{id}").as_str()
        );
    }
    let ada_id = CustomerId::parse(&ada).unwrap();
    let top_up = app
        .get_card_top_up(&tenant(&h), &ada_id, &id)
        .await
        .unwrap();
    let charged = gateway()
        .payment_intents_of(&top_up.gateway_customer_id, None)
        .await
        .unwrap();
    assert_eq!(charged.len(), 1, "one PaymentIntent");
    // Pending until settled: nothing credited yet.
    let (_, shown) = page(&app, &ada_cookie, &format!("/portal/top-ups/{id}")).await;
    assert!(shown.contains("Processing your payment"), "{shown}");
    let (_, home) = page(&app, &ada_cookie, "/portal").await;
    assert!(
        home.contains("processing") && !home.contains("Top-up"),
        "{home}"
    );
    // Settled (as the webhook or the sweep does): the new balance shows.
    let payment = gateway()
        .payment_intent(top_up.payment_intent_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    app.settle_card_top_up(&top_up.business_id, &top_up.customer_id, &id, &payment)
        .await
        .unwrap();
    let (_, shown) = page(&app, &ada_cookie, &format!("/portal/top-ups/{id}")).await;
    assert!(shown.contains("Added to your wallet"), "{shown}");
    assert!(
        shown.contains("<strong id=\"new-balance\">$25.00</strong>"),
        "{shown}"
    );
    let (_, home) = page(&app, &ada_cookie, "/portal").await;
    assert!(home.contains("Top-up") && home.contains("$25.00"), "{home}");
    // Bo cannot see it.
    let (status, _) = page(&app, &bo_cookie, &format!("/portal/top-ups/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Revoked: every page of the session answers the expired page.
    app.revoke_portal_sessions(&tenant(&h), &ada_id)
        .await
        .unwrap();
    let (status, shown) = page(&app, &ada_cookie, "/portal").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(shown.contains("This link has expired"), "{shown}");
}

#[tokio::test]
async fn a_declined_charge_shows_the_decline_and_an_amount_past_the_limits_is_refused_on_the_form()
{
    let h = Harness::new().await;
    let app = portal_app(&h);
    let ada = h.customer().await;
    let cookie = open(&app, &h, &ada).await;
    let fields = card_form(&app, &cookie, DECLINING_CARD).await;
    let started = post(&app, &cookie, &fields).await;
    assert_eq!(
        started.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&started)
    );
    let (_, shown) = page(&app, &cookie, &format!("/portal/top-ups/{}", fields[1].1)).await;
    assert!(shown.contains("The payment was declined"), "{shown}");

    let mut fields = card_form(&app, &cookie, GOOD_CARD).await;
    let max = TopUpLimits::default_for(Currency::USD).max_amount;
    let above = format!("{}.01", max / 100);
    fields[3].1 = above.clone();
    let refused = post(&app, &cookie, &fields).await;
    assert_eq!(
        refused.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        text(&refused)
    );
    let shown = text(&refused);
    assert!(shown.contains("id=\"refused\""), "{shown}");
    assert!(shown.contains(&format!("value=\"{above}\"")), "{shown}");
    let ada_id = CustomerId::parse(&ada).unwrap();
    let missing = app
        .get_card_top_up(&tenant(&h), &ada_id, &fields[1].1)
        .await;
    assert!(
        matches!(missing, Err(DomainError::CardTopUpNotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn top_ups_past_the_customers_hourly_attempts_are_refused_with_429_and_charge_nothing() {
    let h = Harness::new().await;
    let app = portal_app(&h);
    let ada = h.customer().await;
    let cookie = open(&app, &h, &ada).await;
    let limit = web::portal::TOP_UPS_PER_CUSTOMER_HOUR as usize;
    let mut refused = None;
    for n in 0..=limit {
        // A SetupIntent that does not exist: refused by the service after the attempt is
        // taken, nothing charged (the form comes back; past the limit, with 429).
        let fields = [
            (
                "csrf_token",
                web::portal::csrf_token(cookie.split_once('=').unwrap().1),
            ),
            (
                "top_up_id",
                shared::payins::model::CardTopUp::new_id(n as u64 + 1),
            ),
            ("setup_intent_id", "seti_unknown".to_owned()),
            ("amount", "25.00".to_owned()),
        ];
        let answer = post(&app, &cookie, &fields).await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(n);
            break;
        }
        assert!(answer.status().is_client_error(), "{}", answer.status());
    }
    assert_eq!(refused, Some(limit), "the attempt past {limit} is refused");
}

/// A link of `amount` for `customer`, and the path of its page.
async fn link(app: &App, h: &Harness, customer: &str, amount: i64) -> String {
    let command = shared::payins::links::TopUpLinkCommand {
        currency: Currency::USD,
        amount: shared::payins::links::LinkAmount::Fixed(amount),
        reason: Some("March <invoice>".into()),
        expires_in_s: 3_600,
        single_use: true,
        idempotency_key: None,
    };
    let id = CustomerId::parse(customer).unwrap();
    let link = app
        .create_top_up_link(&tenant(h), &id, command)
        .await
        .unwrap();
    let url = app
        .top_up_link_url(&link, Some("http://127.0.0.1:9000"))
        .unwrap();
    url.strip_prefix("http://127.0.0.1:9000")
        .unwrap()
        .to_owned()
}

/// The link page's form, its card confirmed: (its cookie, the fields).
async fn pay_form(app: &App, path: &str) -> (String, Vec<(&'static str, String)>) {
    let page = send(app, "GET", path, None, None).await;
    assert_eq!(page.status(), StatusCode::OK, "{}", text(&page));
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let page = text(&page);
    assert!(page.contains("March &lt;invoice&gt;"), "{page}");
    assert!(
        page.contains("<dd id=\"link-business\">Test business</dd>"),
        "{page}"
    );
    assert!(
        page.contains("<strong id=\"link-amount\">$25.00</strong>"),
        "{page}"
    );
    let secret = attribute(&page, "data-client-secret=\"");
    let setup_intent = secret.split("_secret_").next().unwrap().to_owned();
    gateway()
        .confirm_test_setup_intent(&setup_intent, GOOD_CARD)
        .await
        .unwrap();
    let fields = vec![
        (
            "csrf_token",
            attribute(&page, "name=\"csrf_token\" value=\""),
        ),
        ("top_up_id", attribute(&page, "name=\"top_up_id\" value=\"")),
        ("setup_intent_id", setup_intent),
    ];
    (cookie, fields)
}

async fn pay(
    app: &App,
    path: &str,
    cookie: &str,
    fields: &[(&'static str, String)],
) -> Response<Body> {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    send(app, "POST", path, Some(cookie), Some(&fields)).await
}

#[tokio::test]
async fn a_single_use_link_paid_in_two_tabs_charges_once_and_then_shows_its_used_page() {
    let h = Harness::new().await;
    let app = portal_app(&h);
    let ada = h.customer().await;
    let path = link(&app, &h, &ada, 2_500).await;
    // Two tabs open the page and confirm a card each.
    let (first_cookie, first) = pay_form(&app, &path).await;
    let (second_cookie, second) = pay_form(&app, &path).await;
    let paid = pay(&app, &path, &first_cookie, &first).await;
    assert_eq!(paid.status(), StatusCode::SEE_OTHER, "{}", text(&paid));
    let id = first[1].1.clone();
    assert_eq!(
        paid.headers()["location"],
        format!("{path}?top_up={id}").as_str()
    );
    // The second tab finds the link claimed: refused, nothing charged for it.
    let refused = pay(&app, &path, &second_cookie, &second).await;
    assert!(refused.status().is_client_error(), "{}", text(&refused));
    let ada_id = CustomerId::parse(&ada).unwrap();
    let missing = app
        .get_card_top_up(&tenant(&h), &ada_id, &second[1].1)
        .await;
    assert!(
        matches!(missing, Err(DomainError::CardTopUpNotFound(_))),
        "{missing:?}"
    );
    let top_up = app
        .get_card_top_up(&tenant(&h), &ada_id, &id)
        .await
        .unwrap();
    let charged = gateway()
        .payment_intents_of(&top_up.gateway_customer_id, None)
        .await
        .unwrap();
    assert_eq!(charged.len(), 1, "one PaymentIntent");
    // Settled: the payment's page says so, and the link's page is its used page.
    let payment = gateway()
        .payment_intent(top_up.payment_intent_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    app.settle_card_top_up(&top_up.business_id, &top_up.customer_id, &id, &payment)
        .await
        .unwrap();
    let shown = send(&app, "GET", &format!("{path}?top_up={id}"), None, None).await;
    assert!(
        text(&shown).contains("Added to your wallet"),
        "{}",
        text(&shown)
    );
    let used = send(&app, "GET", &path, None, None).await;
    assert_eq!(used.status(), StatusCode::GONE);
    assert!(text(&used).contains("already been used"), "{}", text(&used));
    // Another token (tampered) is no link.
    let tampered = format!("{path}x");
    let none = send(&app, "GET", &tampered, None, None).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
}
