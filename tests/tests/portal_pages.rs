//! The customer portal's pages (web::portal) on DynamoDB Local and localstripe, with H-pay's
//! card top-ups through the portal's glue (`impl PortalBackend for Service`): the add-funds
//! page's SetupIntent, the card confirmed as Stripe.js does, the form's POST starting the top-up
//! (one PaymentIntent however often it is sent), its page pending, then credited once settled;
//! a charge declined; another customer's top-up 404; the limits refused on the form. The portal
//! session itself (`open_portal`) and the rate limits are H-portal's: here a stand-in answers
//! them (GLUE: with them merged, the session comes from `create_portal_session`).

use integration_tests::cards::{gateway, DECLINING_CARD, GOOD_CARD};
use integration_tests::Harness;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::model::Tenant;
use shared::kernel::{BusinessId, Currency, CustomerId, Timestamp};
use shared::payins::gateway::CardGateway;
use shared::payins::limits::TopUpLimits;
use shared::{DomainError, DomainResult, ValidationError};
use web::portal::backend::{
    CardSetup, LinkView, PortalBackend, PortalClaims, StartTopUp, TopUpView,
};

type App = integration_tests::App;

const TOKEN: &str = "tok_ada";
const OTHER: &str = "tok_bo";

/// The portal session and the rate limits stood in for; the card top-ups the service's own.
struct Portal<'a> {
    app: &'a App,
    sessions: Vec<(&'static str, PortalClaims)>,
}

fn refused(code: &'static str) -> DomainError {
    DomainError::Invalid(ValidationError::new(code, "stand-in"))
}

impl PortalBackend for Portal<'_> {
    async fn open_portal(&self, token: &str) -> DomainResult<PortalClaims> {
        self.sessions
            .iter()
            .find(|(t, _)| *t == token)
            .map(|(_, c)| c.clone())
            .ok_or_else(|| refused("portal_session_invalid"))
    }

    async fn take_attempt(&self, _scope: &str, _limit: u32, _window: u64) -> DomainResult<()> {
        Ok(())
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
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<CardSetup> {
        PortalBackend::prepare_card_top_up(self.app, tenant, customer_id).await
    }

    async fn start_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        start: StartTopUp,
    ) -> DomainResult<TopUpView> {
        PortalBackend::start_card_top_up(self.app, tenant, customer_id, start).await
    }

    async fn get_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<TopUpView> {
        PortalBackend::get_card_top_up(self.app, tenant, customer_id, id).await
    }

    async fn list_card_top_ups(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<Vec<TopUpView>> {
        PortalBackend::list_card_top_ups(self.app, tenant, customer_id).await
    }

    async fn top_up_link_by_token(&self, _token: &str) -> DomainResult<LinkView> {
        Err(refused("top_up_link_not_found"))
    }

    async fn claim_top_up_link(&self, _: &LinkView, _: &str, _: i64) -> DomainResult<()> {
        Err(refused("top_up_link_not_found"))
    }

    async fn release_top_up_link(&self, _: &LinkView, _: &str) -> DomainResult<()> {
        Ok(())
    }
}

fn claims(h: &Harness, customer: &str) -> PortalClaims {
    PortalClaims {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
        customer_id: CustomerId::parse(customer).unwrap(),
        return_url: None,
        expires_at: Timestamp {
            unix_ms: Timestamp::now().unix_ms + 3_600_000,
        },
    }
}

async fn send(
    portal: &Portal<'_>,
    method: &str,
    path: &str,
    token: &str,
    form: Option<&[(&str, &str)]>,
) -> Response<Body> {
    let body = form.map_or(Body::Empty, |fields| {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            f.append_pair(k, v);
        }
        Body::from(f.finish())
    });
    let request: Request = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9000")
        .header("cookie", format!("cw_portal={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let (page, params) = web::Page::of(method, path.split('?').next().unwrap()).unwrap();
    web::portal::answer(portal.app, portal, page, &params, &request).await
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// The value of attribute or hidden field `name="..." value="` / `name="`.
fn attribute(page: &str, prefix: &str) -> String {
    let at = page
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {page}"))
        + prefix.len();
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

/// The add-funds form, its card confirmed at localstripe as Stripe.js does: the fields to send.
async fn card_form(portal: &Portal<'_>, token: &str, card: &str) -> Vec<(&'static str, String)> {
    let page = send(portal, "GET", "/portal/wallets/USD/add-funds", token, None).await;
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

async fn post(
    portal: &Portal<'_>,
    token: &str,
    fields: &[(&'static str, String)],
) -> Response<Body> {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    send(
        portal,
        "POST",
        "/portal/wallets/USD/top-ups",
        token,
        Some(&fields),
    )
    .await
}

#[tokio::test]
async fn a_card_top_up_through_the_pages_charges_once_and_shows_the_credit_once_settled() {
    let h = Harness::new().await;
    let (ada, bo) = (h.customer().await, h.customer().await);
    let portal = Portal {
        app: h.service(),
        sessions: vec![(TOKEN, claims(&h, &ada)), (OTHER, claims(&h, &bo))],
    };
    let fields = card_form(&portal, TOKEN, GOOD_CARD).await;
    let id = fields[1].1.clone();
    // Sent, then sent again (a double click): one top-up, one PaymentIntent.
    for _ in 0..2 {
        let started = post(&portal, TOKEN, &fields).await;
        assert_eq!(
            started.status(),
            StatusCode::SEE_OTHER,
            "{}",
            text(&started)
        );
        let location = started.headers()["location"].to_str().unwrap();
        assert_eq!(location, format!("/portal/top-ups/{id}"));
    }
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let top_up = h
        .service()
        .get_card_top_up(&tenant, &CustomerId::parse(&ada).unwrap(), &id)
        .await
        .unwrap();
    let charged = gateway()
        .payment_intents_of(&top_up.gateway_customer_id, None)
        .await
        .unwrap();
    assert_eq!(charged.len(), 1, "one PaymentIntent");
    // Pending until settled: nothing credited yet.
    let page = text(
        &send(
            &portal,
            "GET",
            &format!("/portal/top-ups/{id}"),
            TOKEN,
            None,
        )
        .await,
    );
    assert!(page.contains("Processing your payment"), "{page}");
    assert!(page.contains("data-refresh-after"));
    let home = text(&send(&portal, "GET", "/portal", TOKEN, None).await);
    assert!(home.contains("processing"), "{home}");
    // Settled (as the webhook or the sweep does): the new balance shows.
    let payment = gateway()
        .payment_intent(top_up.payment_intent_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    h.service()
        .settle_card_top_up(&tenant.business_id, &top_up.customer_id, &id, &payment)
        .await
        .unwrap();
    let page = text(
        &send(
            &portal,
            "GET",
            &format!("/portal/top-ups/{id}"),
            TOKEN,
            None,
        )
        .await,
    );
    assert!(page.contains("Added to your wallet"), "{page}");
    assert!(
        page.contains("<strong id=\"new-balance\">$25.00</strong>"),
        "{page}"
    );
    let home = text(&send(&portal, "GET", "/portal", TOKEN, None).await);
    assert!(home.contains("Top-up") && home.contains("$25.00"), "{home}");
    // Bo cannot see it.
    let other = send(
        &portal,
        "GET",
        &format!("/portal/top-ups/{id}"),
        OTHER,
        None,
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_declined_charge_shows_the_decline_and_an_amount_past_the_limits_is_refused_on_the_form()
{
    let h = Harness::new().await;
    let ada = h.customer().await;
    let portal = Portal {
        app: h.service(),
        sessions: vec![(TOKEN, claims(&h, &ada))],
    };
    let fields = card_form(&portal, TOKEN, DECLINING_CARD).await;
    let started = post(&portal, TOKEN, &fields).await;
    assert_eq!(
        started.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&started)
    );
    let page = text(
        &send(
            &portal,
            "GET",
            &format!("/portal/top-ups/{}", fields[1].1),
            TOKEN,
            None,
        )
        .await,
    );
    assert!(page.contains("The payment was declined"), "{page}");

    let mut fields = card_form(&portal, TOKEN, GOOD_CARD).await;
    let max = TopUpLimits::default_for(Currency::USD).max_amount;
    let above = format!("{}.01", max / 100);
    fields[3].1 = above.clone();
    let refused = post(&portal, TOKEN, &fields).await;
    assert_eq!(
        refused.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        text(&refused)
    );
    let page = text(&refused);
    assert!(page.contains("id=\"refused\""), "{page}");
    assert!(page.contains(&format!("value=\"{above}\"")), "{page}");
    let tenant = Tenant {
        business_id: BusinessId::parse(&h.business_id).unwrap(),
    };
    let missing = h
        .service()
        .get_card_top_up(&tenant, &CustomerId::parse(&ada).unwrap(), &fields[1].1)
        .await;
    assert!(
        matches!(missing, Err(DomainError::CardTopUpNotFound(_))),
        "{missing:?}"
    );
}
