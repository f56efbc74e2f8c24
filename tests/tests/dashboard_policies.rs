//! Least privilege for the dashboard, as `routes.rs` proves it for the API. Each page family is
//! its own Lambda function (`web::Family`, `dashboard-<family>` in `template.yaml`), so each
//! family gets its own service (its own key cache and hints) over a shared in-memory store,
//! wrapped in a store that records the port methods called. A browser signed in with the
//! business's key visits every page of `web::PAGES` through `web::handle`, with data that makes
//! the handlers reach their store calls (a customer with credits, pending holds, an invoice
//! payment, wallet settings with an auto top-up, a webhook endpoint with a delivery, more API
//! keys), forms with the session's CSRF token and their own idempotency key, and forms that are
//! refused (a form's claim is then released). Every visit runs calm, with its commit's answer
//! lost once, with its first commit refused as a conflict, with every commit's answer lost (the
//! form fails after its work landed), and sent twice with the same idempotency key. The methods
//! a family called, through `adapters::dynamo::permissions` (what each asks of DynamoDB), must be
//! what its function's policy allows: every call allowed, and nothing more: no action or index
//! that no call needs, no in-place update of a partition or attribute that no call updates.

use std::cell::Cell;
use std::collections::BTreeSet;

use integration_tests::policies::{
    binary, condition_values, grants, index_arn, refusal, resources, template, Grant, TABLE,
};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::access::model::{Scope, Tenant};
use shared::access::sessions::SESSION_TOUCH_EVERY_MS;
use shared::adapters::dynamo::permissions::{store_access, StoreAccess, QUERY, UPDATE_ITEM};
use shared::adapters::memory::{FixedClock, MemoryStore};
use shared::adapters::recording::RecordingStore;
use shared::customers::model::NewCustomer;
use shared::holds::model::HoldCommand;
use shared::invoices::model::InvoiceCommand;
use shared::kernel::{
    Amount, Currency, CustomerId, EndpointId, EventId, InvoiceId, KeyId, TopUpLinkId,
};
use shared::ledger::model::{EntryCommand, EntryType, EventType};
use shared::ports::WebhookStore;
use shared::topups::operations::SettingsPatch;
use shared::topups::rules::{auto_top_up, AutoTopUpFields};
use shared::webhooks::model::{Delivery, DeliveryStatus};
use shared::webhooks::rules::{new_endpoint, EndpointFields};
use shared::{Config, Service};
use web::{Family, Page};
use yaml_rust2::Yaml;

type Setup = Service<MemoryStore, FixedClock>;
type Instance = Service<RecordingStore<MemoryStore>, FixedClock>;

/// The sign-in form's double-submit token, in its cookie and its field alike.
const SIGN_IN_TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// What one family's visits need, made fresh (through an unrecorded service) for each mode: a
/// business of its own (a business may have 20 webhook endpoints).
struct Fixture {
    n: u32,
    /// The business's first key, as typed into the sign-in form.
    key: String,
    customer: CustomerId,
    /// A pending hold to capture, another to release.
    holds: [String; 2],
    invoice: InvoiceId,
    webhook: EndpointId,
    delivery: EventId,
    /// A key to rotate, another to revoke.
    keys: [KeyId; 2],
    /// The portal family's: a portal token of the customer, a SetupIntent confirmed with a good
    /// card at localstripe (as Stripe.js leaves it), the token of another customer who has no
    /// gateway customer yet, and the path of a single-use top-up link of the customer.
    portal: Option<(String, String, String, String)>,
}

/// A browser signed in: its session cookie and the session's CSRF token.
struct Browser {
    session_id: String,
    csrf: String,
    /// The portal's cookie (the portal family's visits).
    portal: Option<String>,
}

/// One request: the page, its path (with a query), its form fields (a POST) or none (a GET),
/// and whether the page should refuse it (4xx) when nothing goes wrong.
struct Visit {
    page: Page,
    path: String,
    form: Option<Vec<(&'static str, String)>>,
    refused: bool,
    /// Another customer's portal token than the browser's.
    token: Option<String>,
}

fn get(page: Page, path: impl Into<String>) -> Visit {
    Visit {
        page,
        path: path.into(),
        form: None,
        refused: false,
        token: None,
    }
}

/// A form as the page makes it: its fields and its own idempotency key.
fn post(page: Page, path: impl Into<String>, fields: &[(&'static str, &str)]) -> Visit {
    let key = format!("form_{}", shared::access::rules::random_hex(16));
    let mut form: Vec<(&'static str, String)> =
        fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
    form.push(("idempotency_key", key));
    Visit {
        page,
        path: path.into(),
        form: Some(form),
        refused: false,
        token: None,
    }
}

impl Visit {
    fn refused(mut self) -> Visit {
        self.refused = true;
        self
    }

    /// The visit with another portal token in the cookie.
    fn by_customer(mut self, token: &str) -> Visit {
        self.token = Some(token.to_owned());
        self
    }
}

/// The visits that reach every store call of `family`'s pages on `f`.
fn visits(family: Family, f: &Fixture) -> Vec<Visit> {
    use Page::*;
    let c = format!("/dashboard/customers/{}", f.customer);
    let w = format!("/dashboard/webhooks/{}", f.webhook);
    let missing_customer = format!("/dashboard/customers/{}", CustomerId::generate());
    let missing_webhook = format!("/dashboard/webhooks/{}", EndpointId::generate());
    match family {
        Family::Session => vec![
            get(SignInForm, "/dashboard/sign-in?next=/dashboard/customers"),
            post(
                SignIn,
                "/dashboard/sign-in",
                &[
                    ("sign_in_token", SIGN_IN_TOKEN),
                    ("api_key", &f.key),
                    ("next", "/dashboard/customers"),
                ],
            ),
            post(
                SignIn,
                "/dashboard/sign-in",
                &[("sign_in_token", SIGN_IN_TOKEN), ("api_key", "cw_unknown")],
            )
            .refused(),
            post(SignOut, "/dashboard/sign-out", &[]),
        ],
        Family::Assets => web::assets::ALL
            .iter()
            .map(|asset| get(Asset, asset.path()))
            .collect(),
        Family::Customers => vec![
            get(Home, "/dashboard"),
            get(Customers, "/dashboard/customers"),
            get(
                Customers,
                format!("/dashboard/customers?q=c{}%40example.com", f.n),
            ),
            get(Customers, "/dashboard/customers?q=Ada&page=1"),
            post(
                CreateCustomer,
                "/dashboard/customers",
                &[
                    ("email", &format!("new{}@example.com", f.n)),
                    ("name", "Bo"),
                ],
            ),
            get(Customer, c.clone()),
            get(Customer, format!("{c}?currency=USD&ledger_page=1")),
            get(Customer, missing_customer.clone()).refused(),
            post(
                UpdateProfile,
                format!("{c}/profile"),
                &[("name", "Bea"), ("metadata", "plan=pro\nteam=ops")],
            ),
            post(
                Adjust,
                format!("{c}/adjustments"),
                &[
                    ("currency", "USD"),
                    ("amount", "5.00"),
                    ("entry_type", "credit"),
                    ("event_type", "merchant_adjustment"),
                    ("reason", "goodwill"),
                ],
            ),
            post(
                Adjust,
                format!("{c}/adjustments"),
                &[
                    ("currency", "USD"),
                    ("amount", "5000.00"),
                    ("entry_type", "debit"),
                ],
            )
            .refused(),
            post(
                Adjust,
                format!("{missing_customer}/adjustments"),
                &[
                    ("currency", "USD"),
                    ("amount", "1.00"),
                    ("entry_type", "credit"),
                ],
            )
            .refused(),
            post(
                CaptureHold,
                format!("{c}/holds/{}/capture", f.holds[0]),
                &[("amount", "0.50")],
            ),
            post(
                ReleaseHold,
                format!("{c}/holds/{}/release", f.holds[1]),
                &[],
            ),
            get(
                InvoicePayment,
                format!("{c}/invoice-payments?invoice_id={}", f.invoice),
            ),
            post(
                ReverseInvoicePayment,
                format!("{c}/invoice-payments/{}/reversals", f.invoice),
                &[("amount", "0.40"), ("reason", "refund")],
            ),
            get(TopUps, format!("{c}/top-ups")),
            post(
                CreatePortalSession,
                format!("{c}/portal-sessions"),
                &[
                    ("return_url", "https://example.com/account"),
                    ("send_email", "true"),
                ],
            ),
            post(
                RevokePortalSessions,
                format!("{c}/portal-sessions/revoke"),
                &[],
            ),
            post(
                CreateTopUpLink,
                format!("{c}/top-up-links"),
                &[
                    ("currency", "USD"),
                    ("amount", "25.00"),
                    ("expires_in_days", "7"),
                ],
            ),
            post(
                CreateTopUpLink,
                format!("{c}/top-up-links"),
                &[("currency", "USD"), ("amount", "-1")],
            )
            .refused(),
            post(
                CancelTopUpLink,
                format!("{c}/top-up-links/{}/cancel", TopUpLinkId::generate()),
                &[],
            )
            .refused(),
            get(CloseForm, format!("{c}/close?currency=INR")),
            post(
                Close,
                format!("{c}/close"),
                &[("currency", "INR"), ("reason", "customer left")],
            ),
        ],
        Family::Settings => vec![
            get(Settings, format!("{c}/settings?currency=USD")),
            get(Settings, format!("{c}/settings")),
            post(
                UpdateSettings,
                format!("{c}/settings"),
                &[("currency", "USD"), ("resume", "true")],
            ),
            post(
                UpdateSettings,
                format!("{c}/settings"),
                &[
                    ("currency", "USD"),
                    ("low_balance_threshold", "5.00"),
                    ("auto_top_up", "on"),
                    ("top_up_threshold", "10.00"),
                    ("top_up_by", "target"),
                    ("top_up_value", "50.00"),
                    ("max_per_day", "3"),
                    ("payment_method_id", "pm_card_visa"),
                    ("gateway_customer_id", "cus_gateway"),
                ],
            ),
            // No gateway here to find the card's customer: refused inside the form's work.
            post(
                UpdateSettings,
                format!("{c}/settings"),
                &[
                    ("currency", "USD"),
                    ("auto_top_up", "on"),
                    ("top_up_threshold", "10.00"),
                    ("top_up_value", "20.00"),
                    ("max_per_day", "3"),
                    ("payment_method_id", "pm_card_visa"),
                ],
            )
            .refused(),
            post(
                UpdateSettings,
                format!("{c}/settings"),
                &[
                    ("currency", "USD"),
                    ("low_balance_threshold", "2.50"),
                    ("auto_top_up", "none"),
                ],
            ),
        ],
        Family::Webhooks => vec![
            get(Webhooks, "/dashboard/webhooks"),
            post(
                CreateWebhook,
                "/dashboard/webhooks",
                &[
                    ("url", "http://127.0.0.1:9/other"),
                    ("description", "ops"),
                    ("filter_types", "wallet.balance_low"),
                    ("rate_limit", "5"),
                ],
            ),
            post(CreateWebhook, "/dashboard/webhooks", &[("url", "ftp://x")]).refused(),
            get(Webhook, w.clone()),
            get(Webhook, format!("{w}?status=pending")),
            post(
                UpdateWebhook,
                w.clone(),
                &[
                    ("url", "http://127.0.0.1:9/hook"),
                    ("description", "changed"),
                    ("rate_limit", "10"),
                ],
            ),
            post(UpdateWebhook, w.clone(), &[("toggle", "disable")]),
            post(UpdateWebhook, w.clone(), &[("toggle", "enable")]),
            post(
                UpdateWebhook,
                missing_webhook.clone(),
                &[("toggle", "disable")],
            )
            .refused(),
            post(RevealSecret, format!("{w}/secret"), &[]),
            get(Delivery, format!("{w}/deliveries/{}", f.delivery)),
            post(Resend, format!("{w}/deliveries/{}/resend", f.delivery), &[]),
            post(
                Resend,
                format!("{w}/deliveries/{}/resend", EventId::generate()),
                &[],
            )
            .refused(),
            post(DeleteWebhook, format!("{w}/delete"), &[]),
            post(DeleteWebhook, format!("{missing_webhook}/delete"), &[]).refused(),
        ],
        Family::Reports => vec![
            get(Liability, "/dashboard/reports/liability"),
            get(
                Liability,
                "/dashboard/reports/liability?currency=INR&from=2026-01-01&to=2026-01-31",
            ),
            get(Liability, "/dashboard/reports/liability?from=nonsense").refused(),
            get(Statement, format!("{c}/statement")),
            get(
                Statement,
                format!("{c}/statement?currency=INR&from=2020-01-01&to=2030-12-31"),
            ),
            get(Statement, format!("{missing_customer}/statement")).refused(),
        ],
        Family::Portal => {
            let (token, setup_intent, fresh, pay) = f.portal.clone().expect("the portal's fixture");
            let pay_with = |id: &str| {
                let mut visit = post(
                    PayLinkSubmit,
                    pay.clone(),
                    &[("top_up_id", id), ("setup_intent_id", &setup_intent)],
                );
                visit
                    .form
                    .as_mut()
                    .unwrap()
                    .retain(|(k, _)| *k != "idempotency_key");
                visit
            };
            let paid_by = shared::payins::model::CardTopUp::new_id(3);
            let top_up =
                shared::payins::model::CardTopUp::new_id(1_764_000_000_000 + u64::from(f.n));
            let start = |id: &str, amount: &str| {
                let mut visit = post(
                    StartTopUp,
                    "/portal/wallets/USD/top-ups",
                    &[
                        ("top_up_id", id),
                        ("setup_intent_id", &setup_intent),
                        ("amount", amount),
                    ],
                );
                // The top-up id is the form's idempotency key.
                visit
                    .form
                    .as_mut()
                    .unwrap()
                    .retain(|(k, _)| *k != "idempotency_key");
                visit
            };
            vec![
                get(PortalSession, format!("/portal/session?token={token}")),
                get(PortalSession, "/portal/session?token=nope").refused(),
                get(PortalHome, "/portal"),
                get(AddFunds, "/portal/wallets/USD/add-funds"),
                // A customer without a gateway customer yet: one is made and saved on them.
                get(AddFunds, "/portal/wallets/USD/add-funds").by_customer(&fresh),
                get(AddFunds, "/portal/wallets/XTS/add-funds").refused(),
                start(&top_up, "25.00"),
                // Past the limits: the form again (a new SetupIntent), 422.
                start(&shared::payins::model::CardTopUp::new_id(1), "99999999.00").refused(),
                get(TopUp, format!("/portal/top-ups/{top_up}")),
                get(
                    TopUp,
                    format!(
                        "/portal/top-ups/{}",
                        shared::payins::model::CardTopUp::new_id(2)
                    ),
                )
                .refused(),
                get(PayLink, pay.clone()),
                get(PayLink, format!("{pay}x")).refused(),
                pay_with(&paid_by),
                // A second tab: the link is claimed.
                pay_with(&shared::payins::model::CardTopUp::new_id(4)).refused(),
                get(PayLink, format!("{pay}?top_up={paid_by}")),
            ]
        }
        Family::Keys => vec![
            get(Keys, "/dashboard/api-keys"),
            post(
                CreateKey,
                "/dashboard/api-keys",
                &[
                    ("name", "reports"),
                    ("scope", "read_only"),
                    ("expires_in_days", "30"),
                ],
            ),
            post(
                RotateKey,
                format!("/dashboard/api-keys/{}/rotate", f.keys[0]),
                &[("grace", "1"), ("grace_unit", "hours")],
            ),
            post(
                RevokeKey,
                format!("/dashboard/api-keys/{}/revoke", f.keys[1]),
                &[],
            ),
            post(
                RevokeKey,
                format!("/dashboard/api-keys/{}/revoke", KeyId::generate()),
                &[],
            )
            .refused(),
        ],
    }
}

/// The ways a family's visits run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Calm,
    /// The commit lands and its answer is lost once; the resend is refused: `landed()`.
    AnswerLost,
    /// The first commit is refused as a conflict: the race path.
    Conflict,
    /// Every commit's answer is lost, resends too: the form fails after its work landed (503).
    AnswersLost,
    /// Each request sent twice, as a double click: the same idempotency key.
    SentTwice,
}

/// One in-memory table with its clock, and the unrecorded service that makes the fixtures.
struct World {
    memory: MemoryStore,
    clock: FixedClock,
    config: Config,
    setup: Setup,
    made: Cell<u32>,
}

impl World {
    /// `forget_tokens`: every resend is checked as a new change, as DynamoDB does once a token is
    /// forgotten (a lost answer then makes `landed()` look for the change). Without it, a resend
    /// is a no-op whose answer can be lost again.
    fn new(forget_tokens: bool, family: Family) -> World {
        let mut config = Config::build("unused".to_owned(), None, "USD,INR", None).expect("config");
        config.webhook_targets.allow_private = true;
        config.portal = shared::config::PortalConfig {
            signing_key: Some(
                shared::portal::tokens::SigningKey::parse(&"k".repeat(32)).expect("key"),
            ),
            public_base_url: Some("https://wallets.example".to_owned()),
            mailer: shared::config::MailerConfig::Mailbox(
                std::env::temp_dir().join("dashboard-policies-mailbox"),
            ),
        };
        if family == Family::Portal {
            // The portal's card top-ups, at localstripe.
            config.gateway = Some(shared::config::GatewayConfig {
                base_url: std::env::var("STRIPE_BASE_URL")
                    .expect("the portal's pages need localstripe (STRIPE_BASE_URL)"),
                secret_key: "sk_test_local".into(),
                flavor: "localstripe".into(),
            });
        }
        let memory = MemoryStore::new();
        if forget_tokens {
            memory.forget_tokens();
        }
        let clock = FixedClock::at(1_764_000_000_000);
        let setup = Service::new(memory.clone(), clock.clone(), config.clone());
        World {
            memory,
            clock,
            config,
            setup,
            made: Cell::new(0),
        }
    }

    /// A function instance of its own, as each family's Lambda function has.
    fn instance(&self) -> Instance {
        Service::new(
            RecordingStore::new(self.memory.clone()),
            self.clock.clone(),
            self.config.clone(),
        )
    }

    fn inject(&self, mode: Option<Mode>) {
        match mode {
            Some(Mode::AnswerLost) => self.memory.lose_next_answers(1),
            Some(Mode::AnswersLost) => self.memory.lose_next_answers(1_000),
            Some(Mode::Conflict) => self.memory.fail_next_commits(1),
            Some(Mode::Calm | Mode::SentTwice) => {}
            None => {
                self.memory.lose_next_answers(0);
                self.memory.fail_next_commits(0);
            }
        }
    }

    async fn fixture(&self) -> Fixture {
        let app = &self.setup;
        let n = self.made.get() + 1;
        self.made.set(n);
        let (business_id, key) = app.create_business(&format!("Shop {n}")).await.unwrap();
        let tenant = Tenant { business_id };
        let new = NewCustomer {
            email: format!("c{n}@example.com"),
            name: "Ada".into(),
            phone_number: None,
            metadata: Default::default(),
            preferred_locale: None,
        };
        let customer = app.create_customer(&tenant, new).await.unwrap().customer_id;
        let (usd, inr) = (Currency::USD, Currency::parse("INR").unwrap());
        for (amount, currency) in [(10_000, usd), (5_000, inr)] {
            let credit = EntryCommand {
                currency,
                amount: Amount::new(amount).unwrap(),
                entry_type: EntryType::Credit,
                event_type: EventType::MerchantAdjustment,
                reason: None,
                reference_object_id: None,
                idempotency_key: None,
            };
            app.create_entry(&tenant, &customer, credit).await.unwrap();
        }
        let mut holds = Vec::new();
        for _ in 0..2 {
            let hold = HoldCommand {
                currency: usd,
                amount: Amount::new(100).unwrap(),
                reason: None,
                reference_object_id: None,
                idempotency_key: None,
                expires_at: None,
            };
            holds.push(app.create_hold(&tenant, &customer, hold).await.unwrap().id);
        }
        let invoice = InvoiceId::parse(&format!("inv_paid_{n}")).unwrap();
        let payment = InvoiceCommand {
            invoice_id: invoice.clone(),
            currency: usd,
            amount_due: Amount::new(100).unwrap(),
            charge_remainder: None,
        };
        app.pay_invoice(&tenant, &customer, payment).await.unwrap();
        let auto = auto_top_up(AutoTopUpFields {
            enabled: Some(false),
            threshold: Some(1_000),
            amount: Some(2_000),
            target_balance: None,
            gateway_customer_id: Some("cus_gateway".into()),
            payment_method_id: Some("pm_card_visa".into()),
            max_per_day: Some(2),
            max_amount_per_day: None,
        })
        .unwrap();
        let settings = SettingsPatch {
            low_balance_threshold: Some(Some(500)),
            auto_top_up: Some(Some(auto)),
        };
        app.update_settings(&tenant, &customer, usd, &settings)
            .await
            .unwrap();
        let fields = EndpointFields {
            url: "http://127.0.0.1:9/hook".into(),
            description: Some("billing".into()),
            ..EndpointFields::default()
        };
        let endpoint = new_endpoint(fields, self.config.webhook_targets).unwrap();
        let webhook = app.create_endpoint(&tenant, endpoint).await.unwrap().id;
        let now = app.now();
        let delivery = Delivery {
            id: EventId::derived(now.unix_ms, &format!("event {n}")),
            endpoint_id: webhook.clone(),
            business_id: tenant.business_id.clone(),
            event_type: shared::webhooks::model::EventType::ALL[0],
            payload: "{}".to_owned(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: Some(now),
            lease_until: None,
            created_at: now,
            updated_at: now,
        };
        assert!(app.store().insert_delivery(&delivery).await.unwrap());
        let mut keys = Vec::new();
        for name in ["to rotate", "to revoke"] {
            let (made, _) = app
                .create_key(&tenant, None, Some(name), None, Scope::Full)
                .await
                .unwrap();
            keys.push(made.id);
        }
        let portal = match self.config.gateway {
            Some(_) => Some(self.portal_fixture(&tenant, &customer, n).await),
            None => None,
        };
        Fixture {
            portal,
            n,
            key,
            customer,
            holds: [holds[0].to_string(), holds[1].to_string()],
            invoice,
            webhook,
            delivery: delivery.id,
            keys: [keys[0].clone(), keys[1].clone()],
        }
    }

    /// Signs in with the fixture's key (the session family's work), then lets a minute pass: the
    /// first page that a family's function answers records the key's and the session's use.
    async fn sign_in(&self, f: &Fixture) -> Browser {
        let (session_id, session) = self.setup.sign_in(Some(&f.key)).await.unwrap();
        let every = SESSION_TOUCH_EVERY_MS.max(shared::access::rules::LAST_USED_EVERY_MS);
        self.clock.advance(every);
        Browser {
            session_id,
            csrf: session.csrf_token,
            portal: f.portal.as_ref().map(|(token, _, _, _)| token.clone()),
        }
    }

    /// The customer's portal token and a card set up for them; another customer's token.
    async fn portal_fixture(
        &self,
        tenant: &Tenant,
        customer: &CustomerId,
        n: u32,
    ) -> (String, String, String, String) {
        let app = &self.setup;
        let token_of = |customer: CustomerId| async move {
            let mailer = shared::adapters::mailer::ConfiguredMailer::None;
            let link = app
                .create_portal_session(&mailer, tenant, &customer, None, false)
                .await
                .unwrap()
                .link;
            link.split_once("token=").unwrap().1.to_owned()
        };
        let gateway = app.stripe().unwrap().unwrap();
        let setup = app
            .prepare_card_top_up(gateway, tenant, customer)
            .await
            .unwrap();
        gateway
            .confirm_test_setup_intent(&setup.setup_intent_id, "4242424242424242")
            .await
            .unwrap();
        let new = NewCustomer {
            email: format!("fresh{n}@example.com"),
            name: "Cy".into(),
            phone_number: None,
            metadata: Default::default(),
            preferred_locale: None,
        };
        let fresh = app.create_customer(tenant, new).await.unwrap().customer_id;
        let command = shared::payins::links::TopUpLinkCommand {
            currency: Currency::USD,
            amount: shared::payins::links::LinkAmount::Fixed(2_500),
            reason: None,
            expires_in_s: 3_600,
            single_use: true,
            idempotency_key: None,
        };
        let link = app
            .create_top_up_link(tenant, customer, command)
            .await
            .unwrap();
        let base = "https://wallets.example";
        let url = app.top_up_link_url(&link, None).unwrap();
        (
            token_of(customer.clone()).await,
            setup.setup_intent_id,
            token_of(fresh).await,
            url.strip_prefix(base).unwrap().to_owned(),
        )
    }
}

fn request(browser: &Browser, visit: &Visit) -> Request {
    let portal = visit.token.as_ref().or(browser.portal.as_ref());
    let csrf = match portal {
        Some(token) if visit.path.starts_with("/portal") => web::portal::csrf_token(token),
        // A link page's double-submit token, in its cookie and its field alike.
        _ if visit.path.starts_with("/pay") => SIGN_IN_TOKEN.to_owned(),
        _ => browser.csrf.clone(),
    };
    let (method, body) = match &visit.form {
        Some(fields) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("csrf_token", &csrf);
            for (name, value) in fields {
                form.append_pair(name, value);
            }
            ("POST", Body::from(form.finish()))
        }
        None => ("GET", Body::Empty),
    };
    lambda_http::http::Request::builder()
        .method(method)
        .uri(&visit.path)
        .header("host", "localhost:3000")
        .header(
            "cookie",
            format!(
                "cw_session={}; cw_sign_in={SIGN_IN_TOKEN}; cw_pay={SIGN_IN_TOKEN}{}",
                browser.session_id,
                portal.map_or(String::new(), |t| format!("; cw_portal={t}"))
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap()
}

/// Whether the page answered as it should when nothing goes wrong: a page or a redirect (not
/// to sign in, but for signing out) for a visit it takes, a 4xx page for one it refuses.
fn as_expected(visit: &Visit, response: &Response<Body>) -> bool {
    let status = response.status();
    if visit.refused {
        return status.is_client_error();
    }
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("");
    let signed_out = location.starts_with("/dashboard/sign-in");
    (status == StatusCode::OK || status == StatusCode::SEE_OTHER)
        && signed_out == (visit.page == Page::SignOut)
}

/// The store methods that `family`'s function called, over every mode, and the pages visited.
async fn store_calls(family: Family) -> (BTreeSet<&'static str>, BTreeSet<String>) {
    let runs = [
        (
            World::new(true, family),
            &[
                Mode::Calm,
                Mode::AnswerLost,
                Mode::Conflict,
                Mode::SentTwice,
            ][..],
        ),
        (World::new(false, family), &[Mode::AnswersLost][..]),
    ];
    let (mut called, mut visited) = (BTreeSet::new(), BTreeSet::new());
    for (world, modes) in &runs {
        let instance = world.instance();
        for mode in *modes {
            let fixture = world.fixture().await;
            let browser = world.sign_in(&fixture).await;
            for visit in visits(family, &fixture) {
                let path = visit.path.split('?').next().unwrap_or("");
                let method = if visit.form.is_some() { "POST" } else { "GET" };
                let found = Page::of(method, path).map(|(page, _)| page);
                assert_eq!(found, Some(visit.page), "{method} {}", visit.path);
                assert_eq!(visit.page.family(), family, "{:?}", visit.page);
                visited.insert(format!("{:?}", visit.page));
                world.inject(Some(*mode));
                let response = web::handle(&instance, request(&browser, &visit)).await;
                if *mode == Mode::SentTwice {
                    web::handle(&instance, request(&browser, &visit)).await;
                }
                world.inject(None);
                if *mode == Mode::Calm {
                    assert!(
                        as_expected(&visit, &response),
                        "{family:?}: {method} {}: {} {:?} {}",
                        visit.path,
                        response.status(),
                        response.headers().get("location"),
                        String::from_utf8_lossy(response.body().as_ref())
                            .chars()
                            .take(2_000)
                            .collect::<String>()
                    );
                }
            }
        }
        called.extend(instance.store().take());
    }
    (called, visited)
}

/// The (action, resource) pairs that `access` needs: its actions on the table, a query on each
/// index it reads.
fn needs(access: &StoreAccess) -> Vec<(&'static str, String)> {
    let on_table = access.actions.iter().map(|a| (*a, TABLE.to_owned()));
    let on_indexes = access.indexes.iter().map(|i| (QUERY, index_arn(i)));
    on_table.chain(on_indexes).collect()
}

/// How the DynamoDB statements of a policy (`grants`) differ from what `methods` ask: a call it
/// does not allow (narrower), or anything it allows that no call asks (broader): an action on a
/// resource, or an `UpdateItem` of a partition or attribute that no method updates there. IAM
/// allows any attribute of `dynamodb:Attributes` on any partition of `dynamodb:LeadingKeys` of
/// one statement, so each partition's attributes are compared on their own.
fn differences(id: &str, grants: &[Grant], methods: &BTreeSet<&'static str>) -> Vec<String> {
    let grants: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.actions.iter().any(|a| a.starts_with("dynamodb:")))
        .collect();
    let accesses: Vec<&StoreAccess> = methods
        .iter()
        .map(|m| {
            store_access(m).unwrap_or_else(|| {
                panic!("{m}: no line in shared/src/adapters/dynamo/permissions.rs")
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for access in &accesses {
        for (action, resource) in needs(access) {
            if !grants
                .iter()
                .any(|g| refusal(g, action, &resource, access).is_none())
            {
                wrong.push(format!(
                    "{id}: {} needs {action} on {resource}: not allowed",
                    access.method
                ));
            }
        }
    }
    let needed: BTreeSet<(String, String)> = accesses
        .iter()
        .flat_map(|a| needs(a))
        .filter(|(action, _)| *action != UPDATE_ITEM)
        .map(|(action, resource)| (action.to_owned(), resource))
        .collect();
    let granted: BTreeSet<(String, String)> = grants
        .iter()
        .filter(|g| !g.actions.contains(UPDATE_ITEM))
        .flat_map(|g| {
            g.actions
                .iter()
                .flat_map(|a| g.resources.iter().map(move |r| (a.clone(), r.clone())))
        })
        .collect();
    for (action, resource) in granted.difference(&needed) {
        wrong.push(format!(
            "{id}: allows {action} on {resource}, which none of its calls needs"
        ));
    }
    for grant in grants.iter().filter(|g| g.actions.contains(UPDATE_ITEM)) {
        if grant.resources != BTreeSet::from([TABLE.to_owned()]) {
            wrong.push(format!("{id}: UpdateItem on {:?}", grant.resources));
        }
        let leading = condition_values(
            &grant.condition,
            "ForAllValues:StringLike",
            "dynamodb:LeadingKeys",
        );
        let named = condition_values(
            &grant.condition,
            "ForAllValues:StringEquals",
            "dynamodb:Attributes",
        );
        let (Some(patterns), Some(named)) = (leading, named) else {
            wrong.push(format!("{id}: UpdateItem of any partition or attribute"));
            continue;
        };
        for pattern in patterns {
            let updated: BTreeSet<String> = accesses
                .iter()
                .filter_map(|a| a.update)
                .filter(|reach| format!("{}*", reach.partition_key_prefix) == pattern)
                .flat_map(|reach| reach.attributes.iter().map(|a| a.to_string()))
                .collect();
            let extra: Vec<&String> = named.difference(&updated).collect();
            if !extra.is_empty() {
                wrong.push(format!(
                    "{id}: may update {extra:?} in partitions {pattern}, its calls update {updated:?} there"
                ));
            }
        }
    }
    wrong
}

/// The template's function of `family`: (logical id, resource).
fn function_of(template: &Yaml, family: Family) -> (String, Yaml) {
    resources(template, "AWS::Serverless::Function")
        .into_iter()
        .find(|(id, f)| binary(f, id) == family.function())
        .unwrap_or_else(|| panic!("{} is in template.yaml", family.function()))
}

#[tokio::test]
async fn every_dashboard_familys_policy_allows_exactly_the_store_calls_of_its_pages() {
    let template = template();
    let mut wrong = Vec::new();
    let mut visited = BTreeSet::new();
    for family in Family::ALL {
        let (methods, pages) = store_calls(family).await;
        visited.extend(pages);
        let (id, function) = function_of(&template, family);
        if family == Family::Assets {
            assert!(methods.is_empty(), "{id} calls the store: {methods:?}");
            assert!(function["Properties"]["Policies"].is_badvalue(), "{id}");
            continue;
        }
        if family == Family::Portal {
            // No dashboard session: the portal's token.
            assert!(!methods.contains("touch_session"), "{id}: {methods:?}");
        } else {
            assert!(methods.contains("touch_session"), "{id}: {methods:?}");
        }
        wrong.extend(differences(
            &id,
            &grants(&template, &id, &function),
            &methods,
        ));
    }
    let every: BTreeSet<String> = web::PAGES.iter().map(|p| format!("{:?}", p.page)).collect();
    assert_eq!(visited, every, "every page is visited");
    assert!(
        wrong.is_empty(),
        "policies and store calls differ:\n{}",
        wrong.join("\n")
    );
}

/// The policies of function `F` of a template made of `resources`.
fn grants_of_f(resources: &str) -> Vec<Grant> {
    let template = yaml_rust2::YamlLoader::load_from_str(&format!("Resources:\n{resources}"))
        .unwrap()
        .remove(0);
    let function = template["Resources"]["F"].clone();
    grants(&template, "F", &function)
}

/// The comparison itself: a statement broader than the calls (an action, an index, an
/// attribute updated in a partition where no call updates it) and one narrower are both found,
/// and an exact one passes.
#[test]
fn the_comparison_finds_a_policy_broader_or_narrower_than_the_calls() {
    let broad = grants_of_f(
        r#"
  Touch:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:UpdateItem]
            Resource: [WalletsTable.Arn]
            Condition:
              ForAllValues:StringLike:
                dynamodb:LeadingKeys: ["SES#*", "FORM#*"]
              ForAllValues:StringEquals:
                dynamodb:Attributes: [pk, sk, seen, ttl, result]
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Touch
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:DeleteItem]
              Resource: [WalletsTable.Arn, "${WalletsTable.Arn}/index/by_email"]
"#,
    );
    let methods = BTreeSet::from(["session_by_hash", "touch_session", "put_session"]);
    let found = differences("F", &broad, &methods).join("\n");
    for expected in [
        "put_session needs dynamodb:PutItem on WalletsTable.Arn",
        "allows dynamodb:DeleteItem on WalletsTable.Arn",
        "allows dynamodb:GetItem on ${WalletsTable.Arn}/index/by_email",
        r#"may update ["result"] in partitions SES#*"#,
        r#"may update ["pk", "result", "seen", "sk", "ttl"] in partitions FORM#*"#,
    ] {
        assert!(found.contains(expected), "{expected}: not in\n{found}");
    }
    let exact = grants_of_f(
        r#"
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:UpdateItem]
              Resource: [WalletsTable.Arn]
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["SES#*"]
                ForAllValues:StringEquals:
                  dynamodb:Attributes: [pk, sk, seen, ttl]
            - Effect: Allow
              Action: [dynamodb:UpdateItem]
              Resource: [WalletsTable.Arn]
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["FORM#*"]
                ForAllValues:StringEquals:
                  dynamodb:Attributes: [pk, sk, result]
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:DeleteItem]
              Resource: [WalletsTable.Arn]
"#,
    );
    let methods = BTreeSet::from([
        "session_by_hash",
        "end_session",
        "touch_session",
        "finish_form",
    ]);
    assert_eq!(differences("F", &exact, &methods), Vec::<String>::new());
}
