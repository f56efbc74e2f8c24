//! The portal's operations on the memory store: links, their lifetime and revocation, mail,
//! settings and rate limits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::adapters::mailer::ConfiguredMailer;
use crate::adapters::memory::fixtures::{TestService, World, T0};
use crate::config::PortalConfig;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Currency, CustomerId, Timestamp};
use crate::payins::limits::TopUpLimits;
use crate::portal::mail::{Mail, Mailer};
use crate::portal::model::PortalSettingsPatch;
use crate::portal::tokens::SigningKey;
use crate::ports::CustomerStore;
use crate::Service;

const BASE: &str = "https://wallet.example.com";

/// Keeps what it is given.
#[derive(Default, Clone)]
struct Outbox(Arc<Mutex<Vec<Mail>>>);

impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> DomainResult<()> {
        self.0.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

impl Outbox {
    fn sent(&self) -> Vec<Mail> {
        self.0.lock().unwrap().clone()
    }
}

fn portal_service(w: &World, key: char) -> TestService {
    let mut config = w.service.config().clone();
    config.portal = PortalConfig {
        signing_key: Some(SigningKey::parse(&key.to_string().repeat(32)).unwrap()),
        public_base_url: Some(BASE.into()),
        mailer: Default::default(),
    };
    Service::new(w.store.clone(), w.clock.clone(), config)
}

fn token_of(link: &str) -> &str {
    link.strip_prefix(&format!("{BASE}/portal/session?token="))
        .expect("a link to the portal's session page")
}

fn invalid(result: DomainResult<impl std::fmt::Debug>, what: &str) {
    assert!(
        matches!(result, Err(DomainError::PortalSessionInvalid)),
        "{what}: {result:?}"
    );
}

#[tokio::test]
async fn a_link_opens_its_customers_portal_until_it_expires() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let back = Some("https://shop.example.com/account".to_owned());
    let link = s
        .create_portal_session(&Outbox::default(), &w.tenant, &c, back.clone(), false)
        .await
        .unwrap();
    assert_eq!(link.expires_at, Timestamp::from_unix_ms(T0 + 86_400_000));
    let claims = s.open_portal(token_of(&link.link)).await.unwrap();
    assert_eq!(
        (&claims.business_id, &claims.customer_id, &claims.return_url),
        (&w.tenant.business_id, &c, &back)
    );
    assert_eq!(claims.expires_at, link.expires_at);
    w.clock.set(T0 + 86_400_000 - 1);
    assert!(s.open_portal(token_of(&link.link)).await.is_ok());
    w.clock.set(T0 + 86_400_000);
    invalid(s.open_portal(token_of(&link.link)).await, "expired");
}

#[tokio::test]
async fn bad_tampered_and_other_keys_tokens_are_one_error() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let link = s
        .create_portal_session(&Outbox::default(), &w.tenant, &c, None, false)
        .await
        .unwrap();
    let token = token_of(&link.link);
    invalid(
        portal_service(&w, 'o').open_portal(token).await,
        "other key",
    );
    let tampered = format!("{}A", &token[..token.len() - 1]);
    let tampered = if tampered == token {
        format!("{}B", &token[..token.len() - 1])
    } else {
        tampered
    };
    invalid(s.open_portal(&tampered).await, "tampered");
    invalid(s.open_portal("not-a-token").await, "junk");
    // And a portal without a key opens nothing.
    assert!(matches!(
        w.service.open_portal(token).await,
        Err(DomainError::NotConfigured(_))
    ));
}

#[tokio::test]
async fn revocation_ends_every_link_issued_before_it_and_no_later_one() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let other = w.customer_named("bo@example.com", "Bo").await.customer_id;
    let create = |customer: CustomerId| {
        let s = &s;
        let tenant = &w.tenant;
        async move {
            s.create_portal_session(&Outbox::default(), tenant, &customer, None, false)
                .await
                .unwrap()
                .link
        }
    };
    let (first, second, others) = (
        create(c.clone()).await,
        create(c.clone()).await,
        create(other).await,
    );
    w.clock.advance(1_000);
    s.revoke_portal_sessions(&w.tenant, &c).await.unwrap();
    invalid(s.open_portal(token_of(&first)).await, "first");
    invalid(s.open_portal(token_of(&second)).await, "second");
    assert!(
        s.open_portal(token_of(&others)).await.is_ok(),
        "another customer's stays"
    );
    w.clock.advance(1);
    let after = create(c.clone()).await;
    assert!(s.open_portal(token_of(&after)).await.is_ok());
}

#[tokio::test]
async fn send_email_mails_the_link_once_and_needs_an_email_and_a_mailer() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let outbox = Outbox::default();
    let link = s
        .create_portal_session(&outbox, &w.tenant, &c, None, true)
        .await
        .unwrap();
    let sent = outbox.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "ada@example.com");
    assert!(sent[0].text.contains(&link.link));

    // No mailer configured: 422 mailer_not_configured.
    let refused = s
        .create_portal_session(&ConfiguredMailer::None, &w.tenant, &c, None, true)
        .await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid(v)) if v.code == "mailer_not_configured"),
        "{refused:?}"
    );

    // A customer without an email (made before emails were required): 422, nothing sent.
    let read = w
        .store
        .get_customer_revision(&w.tenant.business_id, &c)
        .await
        .unwrap()
        .unwrap();
    let mut customer = read.customer;
    customer.email = String::new();
    let change = crate::change::model::Change {
        business_id: w.tenant.business_id.clone(),
        writes: vec![crate::change::model::Write::ReplaceCustomer {
            customer,
            revision: read.revision,
        }],
        token: "t-no-email".into(),
    };
    crate::ports::WalletStore::commit(&w.store, &change)
        .await
        .unwrap()
        .unwrap();
    let refused = s
        .create_portal_session(&outbox, &w.tenant, &c, None, true)
        .await;
    assert!(
        matches!(&refused, Err(DomainError::Invalid(v)) if v.code == "customer_has_no_email"),
        "{refused:?}"
    );
    assert_eq!(outbox.sent().len(), 1);
    assert!(s
        .create_portal_session(&outbox, &w.tenant, &c, None, false)
        .await
        .is_ok());
}

#[tokio::test]
async fn another_business_cannot_make_open_or_revoke_a_customers_links() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let other = w.other_business().await;
    let made = s
        .create_portal_session(&Outbox::default(), &other, &c, None, false)
        .await;
    assert!(
        matches!(made, Err(DomainError::CustomerNotFound(_))),
        "{made:?}"
    );
    let revoked = s.revoke_portal_sessions(&other, &c).await;
    assert!(
        matches!(revoked, Err(DomainError::CustomerNotFound(_))),
        "{revoked:?}"
    );
}

#[tokio::test]
async fn the_businesss_lifetime_and_limits_apply_and_patches_are_checked() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let usd = Currency::parse("USD").unwrap();
    let limits = TopUpLimits {
        min_amount: 500,
        max_amount: 5_000,
        max_balance: 20_000,
    };
    let patch = PortalSettingsPatch {
        session_ttl_seconds: Some(600),
        top_up_limits: BTreeMap::from([(usd, Some(limits))]),
    };
    let settings = s.update_portal_settings(&w.tenant, &patch).await.unwrap();
    assert_eq!((settings.session_ttl_seconds, settings.version), (600, 1));
    assert_eq!(
        s.portal_settings(&w.tenant).await.unwrap().limits_for(usd),
        limits
    );
    let link = s
        .create_portal_session(&Outbox::default(), &w.tenant, &c, None, false)
        .await
        .unwrap();
    assert_eq!(link.expires_at, Timestamp::from_unix_ms(T0 + 600_000));

    let bad = PortalSettingsPatch {
        session_ttl_seconds: Some(86_401),
        ..Default::default()
    };
    let refused = s.update_portal_settings(&w.tenant, &bad).await;
    assert!(matches!(&refused, Err(DomainError::Invalid(v)) if v.code == "invalid_session_ttl"));
    // Another business still has the defaults.
    let other = w.other_business().await;
    assert_eq!(
        s.portal_settings(&other).await.unwrap().session_ttl_seconds,
        86_400
    );
}

#[tokio::test]
async fn concurrent_settings_patches_keep_each_others_fields() {
    let w = World::new().await;
    let (a, b) = (
        Arc::new(portal_service(&w, 'k')),
        Arc::new(portal_service(&w, 'k')),
    );
    let usd = Currency::parse("USD").unwrap();
    let inr = Currency::parse("INR").unwrap();
    let patch = |currency| PortalSettingsPatch {
        session_ttl_seconds: None,
        top_up_limits: BTreeMap::from([(currency, Some(TopUpLimits::default_for(currency)))]),
    };
    let (tenant_a, tenant_b) = (w.tenant.clone(), w.tenant.clone());
    let (pa, pb) = (patch(usd), patch(inr));
    let ta = tokio::spawn(async move { a.update_portal_settings(&tenant_a, &pa).await });
    let tb = tokio::spawn(async move { b.update_portal_settings(&tenant_b, &pb).await });
    ta.await.unwrap().unwrap();
    tb.await.unwrap().unwrap();
    let settings = w.service.portal_settings(&w.tenant).await.unwrap();
    assert_eq!(settings.version, 2);
    assert_eq!(settings.top_up_limits.len(), 2);
}

#[tokio::test]
async fn attempts_past_the_limit_are_rate_limited_until_the_window_ends() {
    let w = World::new().await;
    let s = &w.service;
    // T0 is a whole minute: the window runs T0 .. T0 + 60 s.
    for _ in 0..3 {
        s.take_attempt("portal:c1", 3, 60).await.unwrap();
    }
    let limited = s.take_attempt("portal:c1", 3, 60).await;
    assert!(
        matches!(limited, Err(DomainError::RateLimited { retry_after_s: 60 })),
        "{limited:?}"
    );
    s.take_attempt("portal:c2", 3, 60)
        .await
        .expect("another scope");
    w.clock.advance(59_000);
    assert!(matches!(
        s.take_attempt("portal:c1", 3, 60).await,
        Err(DomainError::RateLimited { retry_after_s: 1 })
    ));
    w.clock.advance(1_000);
    s.take_attempt("portal:c1", 3, 60)
        .await
        .expect("a new window");
    assert!(s.take_attempt("bad scope", 3, 60).await.is_err());
}

#[tokio::test]
async fn a_customer_gets_at_most_ten_portal_mails_an_hour() {
    let w = World::new().await;
    let s = portal_service(&w, 'k');
    let c = w.customer().await;
    let outbox = Outbox::default();
    for _ in 0..super::operations::PORTAL_MAILS_PER_HOUR {
        s.create_portal_session(&outbox, &w.tenant, &c, None, true)
            .await
            .unwrap();
    }
    let limited = s
        .create_portal_session(&outbox, &w.tenant, &c, None, true)
        .await;
    assert!(
        matches!(limited, Err(DomainError::RateLimited { .. })),
        "{limited:?}"
    );
    assert_eq!(outbox.sent().len(), 10);
}

#[tokio::test]
async fn without_a_public_base_url_the_link_starts_with_the_requests_origin() {
    let w = World::new().await;
    let mut s = portal_service(&w, 'k');
    let mut config = s.config().clone();
    config.portal.public_base_url = None;
    s = Service::new(w.store.clone(), w.clock.clone(), config);
    let c = w.customer().await;
    let outside = s
        .create_portal_session(&Outbox::default(), &w.tenant, &c, None, false)
        .await;
    assert!(
        matches!(outside, Err(DomainError::NotConfigured(_))),
        "{outside:?}"
    );
    let origin = "https://abc123.execute-api.eu-west-1.amazonaws.com".to_owned();
    let link = crate::portal::origin::serving(
        origin,
        s.create_portal_session(&Outbox::default(), &w.tenant, &c, None, false),
    )
    .await
    .unwrap();
    assert!(
        link.link.starts_with(
            "https://abc123.execute-api.eu-west-1.amazonaws.com/portal/session?token="
        ),
        "{link:?}"
    );
}
