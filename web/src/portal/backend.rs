//! What the portal's pages ask of the domain, as one port: issue 21's operations of the portal
//! session (`open_portal`, `portal_settings`, `take_attempt`), of card top-ups
//! (`prepare_card_top_up`, `start_card_top_up`, `get_card_top_up`, `list_card_top_ups`) and of
//! top-up links (`top_up_link_by_token`, `claim_top_up_link`, `release_top_up_link`), with the
//! names `docs/I21` fixes. The pages read only these views; [`Service`] answers them in
//! `glue.rs` (each method one call of the domain operation of the same name), and the handler
//! tests answer them with a fake, so the web layer (cookies, CSRF, escaping, 404s, headers) is
//! tested on its own.

use std::future::Future;

use shared::access::model::Tenant;
use shared::kernel::{BusinessId, Currency, CustomerId, Timestamp};
use shared::payins::limits::TopUpLimits;
use shared::DomainResult;

/// Whom a portal token opens the portal for (`open_portal`'s answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalClaims {
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    /// The portal's back button (the session's `return_url`).
    pub return_url: Option<String>,
    pub expires_at: Timestamp,
}

impl PortalClaims {
    pub fn tenant(&self) -> Tenant {
        Tenant {
            business_id: self.business_id.clone(),
        }
    }
}

/// A SetupIntent made for the card form (`prepare_card_top_up`'s answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSetup {
    /// For Stripe.js `confirmCardSetup`: it goes into the page, never into a log.
    pub client_secret: String,
    pub setup_intent_id: String,
}

/// Where a top-up was started, and what the form asks (H-pay's own types).
pub use shared::payins::model::{StartCardTopUp as StartTopUp, TopUpSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopUpStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A card top-up as the customer may see it (no gateway ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpView {
    pub id: String,
    pub customer_id: CustomerId,
    pub currency: Currency,
    pub amount: i64,
    pub status: TopUpStatus,
    /// The decline's fixed message, when it failed.
    pub message: Option<String>,
    /// The link it paid, if it came from a link's page.
    pub link_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Active,
    Paid,
    Cancelled,
    Expired,
}

/// A top-up link as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub id: String,
    pub business_id: BusinessId,
    /// The business's name, when the domain can say it.
    pub business_name: Option<String>,
    pub customer_id: CustomerId,
    pub currency: Currency,
    /// A fixed amount, or a range the customer picks from.
    pub amount: Option<i64>,
    pub min_amount: Option<i64>,
    pub max_amount: Option<i64>,
    pub reason: Option<String>,
    pub status: LinkStatus,
    pub expires_at: Timestamp,
}

impl LinkView {
    pub fn tenant(&self) -> Tenant {
        Tenant {
            business_id: self.business_id.clone(),
        }
    }
}

/// The domain operations of issue 21 that the portal's pages call.
pub trait PortalBackend: Sync {
    /// `Service::open_portal`: the one error `portal_session_invalid` for a bad, expired,
    /// revoked or tampered token.
    fn open_portal(&self, token: &str) -> impl Future<Output = DomainResult<PortalClaims>> + Send;

    /// `Service::take_attempt`: `rate_limited` once `scope` had `limit` attempts in the window.
    fn take_attempt(
        &self,
        scope: &str,
        limit: u32,
        window_secs: u64,
    ) -> impl Future<Output = DomainResult<()>> + Send;

    /// `Service::portal_settings(tenant).limits_for(currency)`.
    fn top_up_limits(
        &self,
        tenant: &Tenant,
        currency: Currency,
    ) -> impl Future<Output = DomainResult<TopUpLimits>> + Send;

    fn prepare_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<CardSetup>> + Send;

    fn start_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        start: StartTopUp,
    ) -> impl Future<Output = DomainResult<TopUpView>> + Send;

    /// A top-up of this customer, else a not-found error.
    fn get_card_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        id: &str,
    ) -> impl Future<Output = DomainResult<TopUpView>> + Send;

    /// The customer's newest top-ups.
    fn list_card_top_ups(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> impl Future<Output = DomainResult<Vec<TopUpView>>> + Send;

    /// The link a `/pay/{token}` token names; errors `top_up_link_used`, `_expired`,
    /// `_cancelled` for a link that can no longer be paid, not found for a bad token.
    fn top_up_link_by_token(
        &self,
        token: &str,
    ) -> impl Future<Output = DomainResult<LinkView>> + Send;

    /// Claims the link for one top-up before charging (a second tab is refused).
    fn claim_top_up_link(
        &self,
        link: &LinkView,
        top_up_id: &str,
        amount: i64,
    ) -> impl Future<Output = DomainResult<()>> + Send;

    /// Gives the claim back when the top-up was declined.
    fn release_top_up_link(
        &self,
        link: &LinkView,
        top_up_id: &str,
    ) -> impl Future<Output = DomainResult<()>> + Send;
}

/// A new top-up id, made when the form is rendered: `ctu_` and 26 lower-case ULID characters.
pub fn new_top_up_id(now: Timestamp) -> String {
    shared::payins::model::CardTopUp::new_id(now.unix_ms)
}

/// Whether `raw` has the shape of a top-up id (any other is not looked up: 404).
pub fn is_top_up_id(raw: &str) -> bool {
    shared::payins::model::CardTopUp::check_id(raw).is_ok()
}
