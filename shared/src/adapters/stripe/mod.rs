//! The payment gateway over Stripe's PaymentIntents API (`topups::gateway::PaymentGateway`).
//!
//! Built on the HTTP stack the crate already uses for webhooks (`adapters::https`: hyper 1,
//! hyper-util's client, hyper-rustls on aws-lc-rs with the system's root certificates). Every
//! request takes at most the timeout (10 s: connect, send, and read the whole answer).
//!
//! A charge is three requests:
//! 1. Reconcile: `GET /v1/payment_intents?customer=..&created[gte]=..&limit=100`, looking for a
//!    PaymentIntent whose metadata `topup_attempt` is the attempt's. If there is one, its state is
//!    the answer and nothing is created (see the contract in `topups::gateway`).
//! 2. Otherwise, whose card it is: `GET /v1/payment_methods/{id}?expand[0]=customer` (the payment
//!    method and, in one answer, its customer's metadata). Unless it is attached to the request's
//!    customer and that customer's metadata names the wallet's business and customer
//!    (`topups::gateway::owned_by`), nothing is charged: `Declined`, `payment_method_not_owned`.
//! 3. Then `POST /v1/payment_intents`, form-encoded: `amount`, `currency` (lower case),
//!    `customer`, `payment_method`, `confirm=true`, `off_session=true`,
//!    `payment_method_types[0]=card`, `description`, `metadata[...]` (with `topup_attempt`),
//!    headers `Authorization: Bearer <secret key>` and `Idempotency-Key`.
//!
//! `payment_method_types[0]=card`: without it an account on a recent API version confirms with
//! automatic payment methods and wants a `return_url` for redirect-based ones; the card is also the
//! only kind whose off-session answer is immediate (a bank debit stays `processing` for days).
//! A saved payment method of another kind is refused by Stripe (400, `Declined`).
//!
//! Answers: `succeeded` is `Succeeded`; a 402 (card error) is `Declined` with its `decline_code`
//! (else `code`); `requires_action` (the bank wants 3-D Secure, impossible off-session),
//! `requires_payment_method`, `canceled` are `Declined`; another 4xx (unknown customer, wrong key,
//! ...) is `Declined` with `invalid_request` (the request will not succeed as it is; Stripe's
//! code, which tells whether an id exists, is only logged). Every `Declined` carries its class's
//! fixed message (`topups::gateway::DeclineClass`): Stripe's words, which can name the platform's
//! account, go to the logs, never to tenants. A 409
//! (the same key in flight), 429, 400 `idempotency_error`, 5xx, timeout, a connection failure, an
//! unreadable 2xx, or a PaymentIntent still `processing` are `Unknown`.
//!
//! [`Flavor::Localstripe`] talks to `localstripe` (the local stand-in), which refuses parameters it
//! does not know: it leaves out `description`, and lists all PaymentIntents (it cannot filter by
//! customer or creation time) and filters them here. It also does not replay idempotency keys, so
//! the reconciliation step is what keeps a repeated charge from charging twice there.
//!
//! The secret key is never logged: it lives only in a sensitive header value, and `Debug`
//! redacts it.
//!
//! The modules, by concern: this one holds the gateway (configuration and the port's
//! implementation); `client` sends one request (deadline, answer size, errors); `intents` the
//! PaymentIntents calls (charge, reconcile, look up); `customers` the customers and their
//! payment methods (ownership, attach, and the test helpers); `wire` Stripe's JSON and what an
//! answer means.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use http::header::HeaderValue;
use hyper_util::client::legacy::connect::dns::GaiResolver;

use super::https;
use crate::topups::gateway::{
    ChargeLookup, ChargeOutcome, ChargeRequest, FoundCharge, GatewayFailure, PaymentGateway,
    PaymentMethodOwner, RefundOutcome, RefundRequest,
};

mod billing;
mod client;
mod customers;
mod intents;
mod setup;
mod wire;

pub use intents::PaymentIntent;

/// A request's limit: connect, send, and read the whole answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Stripe's own base URL.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
/// The `user-agent` of every request.
pub const USER_AGENT_VALUE: &str = "customer-wallets-topups/1";

/// Which server the adapter talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Stripe (live or test mode).
    #[default]
    Stripe,
    /// `localstripe`: leaves out what it refuses (see the module's documentation).
    Localstripe,
}

impl FromStr for Flavor {
    type Err = String;

    /// `stripe` or `localstripe`.
    fn from_str(raw: &str) -> Result<Flavor, String> {
        match raw {
            "stripe" => Ok(Flavor::Stripe),
            "localstripe" => Ok(Flavor::Localstripe),
            other => Err(format!(
                "unknown Stripe flavor `{other}` (use `stripe` or `localstripe`)"
            )),
        }
    }
}

/// Stripe's PaymentIntents API. Cheap to clone: one connection pool.
#[derive(Clone)]
pub struct StripeGateway {
    /// Without a trailing slash.
    base_url: String,
    /// `Bearer <secret key>`, marked sensitive.
    authorization: HeaderValue,
    timeout: Duration,
    flavor: Flavor,
    client: https::HttpsClient,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway")
            .field("base_url", &self.base_url)
            .field("secret_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("flavor", &self.flavor)
            .finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A gateway for `base_url` (`https://api.stripe.com`, or a local stand-in's `http://...`),
    /// with the 10 s timeout and the [`Flavor::Stripe`] requests. Loads the system's root
    /// certificates once.
    pub fn new(base_url: &str, secret_key: &str) -> Result<StripeGateway, String> {
        let base = url::Url::parse(base_url)
            .map_err(|e| format!("invalid Stripe base URL `{base_url}`: {e}"))?;
        if !matches!(base.scheme(), "http" | "https")
            || base.host_str().is_none()
            || base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(format!(
                "invalid Stripe base URL `{base_url}`: expected http(s)://host[:port][/path]"
            ));
        }
        if secret_key.is_empty() {
            return Err("the Stripe secret key is empty".to_string());
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {secret_key}")).map_err(|_| {
                "the Stripe secret key has characters a header cannot carry".to_string()
            })?;
        authorization.set_sensitive(true);

        let client = https::client(GaiResolver::new(), "requests to Stripe", Some(4));
        Ok(StripeGateway {
            base_url: base.as_str().trim_end_matches('/').to_string(),
            authorization,
            timeout: DEFAULT_TIMEOUT,
            flavor: Flavor::Stripe,
            client,
        })
    }

    /// The same gateway with another per-request timeout (tests use a short one).
    pub fn with_timeout(mut self, timeout: Duration) -> StripeGateway {
        self.timeout = timeout;
        self
    }

    /// The same gateway speaking to another kind of server.
    pub fn with_flavor(mut self, flavor: Flavor) -> StripeGateway {
        self.flavor = flavor;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }
}

impl PaymentGateway for StripeGateway {
    fn charge(&self, request: &ChargeRequest) -> impl Future<Output = ChargeOutcome> + Send {
        StripeGateway::charge(self, request)
    }

    fn find(
        &self,
        lookup: &ChargeLookup,
    ) -> impl Future<Output = Result<Option<FoundCharge>, String>> + Send {
        StripeGateway::find(self, lookup)
    }

    fn payment_method_owner(
        &self,
        payment_method_id: &str,
    ) -> impl Future<Output = Result<Option<PaymentMethodOwner>, GatewayFailure>> + Send {
        StripeGateway::payment_method_owner(self, payment_method_id)
    }

    fn create_customer(
        &self,
        business_id: &str,
        customer_id: &str,
    ) -> impl Future<Output = Result<String, GatewayFailure>> + Send {
        StripeGateway::create_customer(self, business_id, customer_id)
    }

    fn attach_payment_method(
        &self,
        payment_method_id: &str,
        gateway_customer_id: &str,
    ) -> impl Future<Output = Result<(), GatewayFailure>> + Send {
        StripeGateway::attach_payment_method(self, payment_method_id, gateway_customer_id)
    }

    fn saved_cards(
        &self,
        gateway_customer_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, GatewayFailure>> + Send {
        StripeGateway::saved_cards(self, gateway_customer_id)
    }

    fn refund(&self, request: &RefundRequest) -> impl Future<Output = RefundOutcome> + Send {
        StripeGateway::refund(self, request)
    }
}

/// The gateway the configuration names, if any.
pub fn from_config(config: &crate::Config) -> Result<Option<StripeGateway>, String> {
    let Some(gateway) = &config.gateway else {
        return Ok(None);
    };
    let flavor: Flavor = gateway.flavor.parse()?;
    Ok(Some(
        StripeGateway::new(&gateway.base_url, &gateway.secret_key)?.with_flavor(flavor),
    ))
}

#[cfg(test)]
mod fake_stripe;

#[cfg(test)]
mod tests {
    use super::*;
    use fake_stripe::KEY;

    #[test]
    fn the_secret_key_is_never_shown() {
        let gateway = StripeGateway::new(STRIPE_API_BASE, KEY).unwrap();
        let shown = format!("{gateway:?} {gateway:#?}");
        assert!(!shown.contains("0123456789"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(gateway.authorization.is_sensitive());
        assert_eq!(gateway.base_url(), "https://api.stripe.com");
    }

    #[test]
    fn configuration_is_checked() {
        assert!(StripeGateway::new("api.stripe.com", KEY).is_err());
        assert!(StripeGateway::new("ftp://api.stripe.com", KEY).is_err());
        assert!(StripeGateway::new("https://u:p@api.stripe.com", KEY).is_err());
        assert!(StripeGateway::new("https://api.stripe.com", "").is_err());
        assert!(StripeGateway::new("https://api.stripe.com", "sk_test\nx").is_err());
        assert_eq!(
            StripeGateway::new("http://127.0.0.1:8420/stripe/", KEY)
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8420/stripe"
        );
        assert_eq!("stripe".parse(), Ok(Flavor::Stripe));
        assert_eq!("localstripe".parse(), Ok(Flavor::Localstripe));
        assert!("Stripe".parse::<Flavor>().is_err());
    }
}
