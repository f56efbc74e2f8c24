//! The payment gateway over Stripe's PaymentIntents API (`topups::gateway::PaymentGateway`).
//!
//! Built on the HTTP stack the crate already uses for webhooks (hyper 1, hyper-util's client,
//! hyper-rustls on aws-lc-rs with the system's root certificates). Every request takes at most
//! the timeout (10 s: connect, send, and read the whole answer).
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

use std::collections::BTreeMap;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use url::form_urlencoded;

use crate::kernel::Timestamp;
use crate::topups::gateway::{
    owned_by, ChargeLookup, ChargeOutcome, ChargeRequest, DeclineClass, FoundCharge,
    GatewayCustomer, GatewayFailure, PaymentGateway, PaymentMethodOwner, ATTEMPT_CLOCK_SLACK_MS,
    ATTEMPT_METADATA_KEY, OWNER_BUSINESS_METADATA_KEY, OWNER_CUSTOMER_METADATA_KEY,
};

/// A request's limit: connect, send, and read the whole answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Stripe's own base URL.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
/// The `user-agent` of every request.
pub const USER_AGENT_VALUE: &str = "customer-wallets-topups/1";
/// PaymentIntents per listed page (Stripe's maximum).
const PAGE_SIZE: usize = 100;
/// Pages a look-up goes through before it gives up (with an error, never a "not found").
const MAX_PAGES: usize = 50;
/// The most of an answer that is read (a page of 100 PaymentIntents from localstripe, with their
/// charges inline, is about 300 KiB).
const MAX_READ: usize = 8 * 1024 * 1024;

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

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Stripe's PaymentIntents API. Cheap to clone: one connection pool.
#[derive(Clone)]
pub struct StripeGateway {
    /// Without a trailing slash.
    base_url: String,
    /// `Bearer <secret key>`, marked sensitive.
    authorization: HeaderValue,
    timeout: Duration,
    flavor: Flavor,
    client: HttpsClient,
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

/// A PaymentIntent as this adapter reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: String,
    pub customer: Option<String>,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// Stripe's status (`succeeded`, `requires_payment_method`, ...).
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    pub metadata: BTreeMap<String, String>,
    /// What the status means for a charge.
    pub outcome: ChargeOutcome,
}

impl PaymentIntent {
    /// The attempt it was made for (metadata `topup_attempt`).
    pub fn attempt_id(&self) -> Option<&str> {
        self.metadata.get(ATTEMPT_METADATA_KEY).map(String::as_str)
    }

    fn found(self) -> FoundCharge {
        FoundCharge {
            payment_intent_id: self.id,
            amount: self.amount,
            currency: self.currency,
            outcome: self.outcome,
        }
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

        let mut http = HttpConnector::new();
        // The https connector wraps this one, so it must accept https URIs.
        http.enforce_http(false);
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(super::https::tls_config("requests to Stripe"))
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(https);
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

    /// Reconciles, then charges if the attempt has no PaymentIntent yet. Never fails.
    pub async fn charge(&self, request: &ChargeRequest) -> ChargeOutcome {
        if request.attempt_id.is_empty() || request.idempotency_key.is_empty() {
            tracing::error!("a charge needs an attempt id and an idempotency key: not charged");
            return DeclineClass::InvalidRequest.declined(None, None);
        }
        match self.find(&request.lookup()).await {
            Err(error) => ChargeOutcome::Unknown {
                error: format!("reconciling before the charge: {error}"),
            },
            Ok(Some(found)) => {
                let currency = request.currency.code().to_ascii_lowercase();
                if found.amount != request.amount.minor() || found.currency != currency {
                    ChargeOutcome::Unknown {
                        error: format!(
                            "attempt {} already has {} for {} {}, not {} {}",
                            request.attempt_id,
                            found.payment_intent_id,
                            found.amount,
                            found.currency,
                            request.amount.minor(),
                            currency
                        ),
                    }
                } else {
                    tracing::info!(
                        attempt_id = %request.attempt_id,
                        payment_intent_id = %found.payment_intent_id,
                        "charge already made for this attempt: answering its outcome"
                    );
                    found.outcome
                }
            }
            Ok(None) => match self.check_owner(request).await {
                Ok(()) => self.create(request).await,
                Err(outcome) => outcome,
            },
        }
    }

    /// Right before a charge: the payment method must still be attached to the request's
    /// gateway customer, whose metadata names the wallet's business and customer. A refusal is
    /// `Declined` (`payment_method_not_owned`); a gateway that cannot say is `Unknown` (nothing
    /// was charged; the attempt is resumed later).
    async fn check_owner(&self, request: &ChargeRequest) -> Result<(), ChargeOutcome> {
        let owner = match self.payment_method_owner(&request.payment_method_id).await {
            Ok(owner) => owner,
            Err(GatewayFailure::Unavailable(error)) => {
                return Err(ChargeOutcome::Unknown {
                    error: format!("checking the payment method's owner: {error}"),
                })
            }
            Err(GatewayFailure::Refused(error)) => {
                tracing::warn!(attempt_id = %request.attempt_id, %error, "payment method refused by the gateway: not charged");
                return Err(DeclineClass::NotOwned.declined(None, None));
            }
        };
        owned_by(
            owner.as_ref(),
            &request.gateway_customer_id,
            &request.business_id,
            &request.customer_id,
        )
        .map_err(|why| {
            tracing::warn!(
                attempt_id = %request.attempt_id,
                business_id = %request.business_id,
                customer_id = %request.customer_id,
                %why,
                "payment method not owned by the wallet's business and customer: not charged"
            );
            DeclineClass::NotOwned.declined(None, None)
        })
    }

    /// `GET /v1/payment_methods/{id}?expand[0]=customer`: the customer it is attached to, with
    /// that customer's metadata, in one request. `None` if there is no such payment method.
    pub async fn payment_method_owner(
        &self,
        payment_method_id: &str,
    ) -> Result<Option<PaymentMethodOwner>, GatewayFailure> {
        if !is_gateway_id(payment_method_id) {
            return Ok(None);
        }
        let path = format!("/v1/payment_methods/{payment_method_id}?expand[0]=customer");
        let (status, body) = self
            .call(Method::GET, &path, None, None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        match status {
            200 => {
                let method: PaymentMethodJson = serde_json::from_slice(&body).map_err(|e| {
                    GatewayFailure::Unavailable(format!("unreadable payment method: {e}"))
                })?;
                let customer = match method.customer {
                    None => None,
                    // Not expanded: a gateway that ignored `expand`; its metadata is unknown.
                    Some(CustomerField::Id(id)) => Some(GatewayCustomer {
                        id,
                        metadata: BTreeMap::new(),
                        deleted: false,
                    }),
                    Some(CustomerField::Expanded(c)) => Some(GatewayCustomer {
                        id: c.id,
                        metadata: c.metadata,
                        deleted: c.deleted,
                    }),
                };
                Ok(Some(PaymentMethodOwner {
                    payment_method_id: method.id,
                    customer,
                }))
            }
            404 => Ok(None),
            _ => Err(failure(
                &format!("GET /v1/payment_methods/{payment_method_id}"),
                status,
                &body,
            )),
        }
    }

    /// `POST /v1/customers` with metadata naming the wallet's business and customer.
    pub async fn create_customer(
        &self,
        business_id: &str,
        customer_id: &str,
    ) -> Result<String, GatewayFailure> {
        // Built apart: the serializer is not `Send`, so it must not live across the await.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair(
                &format!("metadata[{OWNER_BUSINESS_METADATA_KEY}]"),
                business_id,
            )
            .append_pair(
                &format!("metadata[{OWNER_CUSTOMER_METADATA_KEY}]"),
                customer_id,
            )
            .finish();
        self.post_for_id("/v1/customers", form).await
    }

    /// `POST /v1/payment_methods/{id}/attach`.
    pub async fn attach_payment_method(
        &self,
        payment_method_id: &str,
        gateway_customer_id: &str,
    ) -> Result<(), GatewayFailure> {
        if !is_gateway_id(payment_method_id) {
            return Err(GatewayFailure::Refused(format!(
                "invalid payment method id `{payment_method_id}`"
            )));
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("customer", gateway_customer_id)
            .finish();
        self.post_for_id(
            &format!("/v1/payment_methods/{payment_method_id}/attach"),
            form,
        )
        .await
        .map(|_| ())
    }

    /// The PaymentIntent made for an attempt: by id when known, else among the customer's.
    pub async fn find(&self, lookup: &ChargeLookup) -> Result<Option<FoundCharge>, String> {
        if let Some(id) = &lookup.payment_intent_id {
            let Some(intent) = self.retrieve(id).await? else {
                return Ok(None);
            };
            if intent.attempt_id() != Some(lookup.attempt_id.as_str()) {
                return Err(format!(
                    "{id} was not made for attempt {} (its attempt: {})",
                    lookup.attempt_id,
                    intent.attempt_id().unwrap_or("none")
                ));
            }
            return Ok(Some(intent.found()));
        }
        let matching = self
            .payment_intents_where(&lookup.gateway_customer_id, lookup.created_after, |pi| {
                pi.attempt_id() == Some(lookup.attempt_id.as_str())
            })
            .await?;
        // More than one only if something charged the attempt twice already: a success is the
        // one that counts; otherwise the latest.
        let chosen = matching
            .iter()
            .position(|pi| matches!(pi.outcome, ChargeOutcome::Succeeded { .. }))
            .or_else(|| {
                matching
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, pi)| pi.created)
                    .map(|(i, _)| i)
            });
        Ok(chosen.map(|i| matching[i].clone().found()))
    }

    /// `GET /v1/payment_intents/{id}`: `None` if there is no such PaymentIntent.
    pub async fn retrieve(&self, payment_intent_id: &str) -> Result<Option<PaymentIntent>, String> {
        if payment_intent_id.is_empty()
            || !payment_intent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!("invalid PaymentIntent id `{payment_intent_id}`"));
        }
        let path = format!("/v1/payment_intents/{payment_intent_id}");
        let (status, body) = self.call(Method::GET, &path, None, None).await?;
        match status {
            200 => parse_intent(&body).map(Some),
            404 => Ok(None),
            _ => Err(format!("GET {path}: {}", error_summary(status, &body))),
        }
    }

    /// Every PaymentIntent of a customer created at or after `created_after` (less the clock
    /// slack), oldest first. Tests count them to prove that a need was charged once.
    pub async fn payment_intents_of(
        &self,
        gateway_customer_id: &str,
        created_after: Option<Timestamp>,
    ) -> Result<Vec<PaymentIntent>, String> {
        let mut all = self
            .payment_intents_where(gateway_customer_id, created_after, |_| true)
            .await?;
        all.sort_by_key(|pi| pi.created);
        Ok(all)
    }

    /// A customer's PaymentIntents that pass `keep`, listed page by page.
    async fn payment_intents_where(
        &self,
        gateway_customer_id: &str,
        created_after: Option<Timestamp>,
        keep: impl Fn(&PaymentIntent) -> bool,
    ) -> Result<Vec<PaymentIntent>, String> {
        let since_s = created_after
            .map(|t| i64::try_from(t.unix_ms.saturating_sub(ATTEMPT_CLOCK_SLACK_MS) / 1000))
            .transpose()
            .map_err(|_| "creation bound out of range".to_string())?;
        let mut kept = Vec::new();
        let mut starting_after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let path = self.list_path(gateway_customer_id, since_s, starting_after.as_deref());
            let (status, body) = self.call(Method::GET, &path, None, None).await?;
            if status != 200 {
                return Err(format!(
                    "listing PaymentIntents: {}",
                    error_summary(status, &body)
                ));
            }
            let page: ListJson = serde_json::from_slice(&body)
                .map_err(|e| format!("listing PaymentIntents: unreadable answer: {e}"))?;
            starting_after = page.data.last().map(|pi| pi.id.clone());
            for raw in page.data {
                let intent = raw.into_intent();
                if intent.customer.as_deref() == Some(gateway_customer_id)
                    && since_s.is_none_or(|since| intent.created >= since)
                    && keep(&intent)
                {
                    kept.push(intent);
                }
            }
            if !page.has_more || starting_after.is_none() {
                return Ok(kept);
            }
        }
        Err(format!(
            "more than {} PaymentIntents to look through for customer {gateway_customer_id}",
            MAX_PAGES * PAGE_SIZE
        ))
    }

    /// A page of PaymentIntents: the customer's created since `since_s` (Stripe), or all of them
    /// (localstripe, which takes no filter).
    fn list_path(
        &self,
        customer: &str,
        since_s: Option<i64>,
        starting_after: Option<&str>,
    ) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &PAGE_SIZE.to_string());
        if self.flavor == Flavor::Stripe {
            query.append_pair("customer", customer);
            if let Some(since) = since_s {
                query.append_pair("created[gte]", &since.to_string());
            }
        }
        if let Some(after) = starting_after {
            query.append_pair("starting_after", after);
        }
        format!("/v1/payment_intents?{}", query.finish())
    }

    /// `POST /v1/payment_intents`, confirmed off-session.
    async fn create(&self, request: &ChargeRequest) -> ChargeOutcome {
        let form = self.charge_form(request);
        let answer = self
            .call(
                Method::POST,
                "/v1/payment_intents",
                Some(form),
                Some(&request.idempotency_key),
            )
            .await;
        let outcome = match answer {
            Err(error) => ChargeOutcome::Unknown { error },
            Ok((status, body)) => outcome_of_answer(status, &body),
        };
        match &outcome {
            ChargeOutcome::Succeeded { payment_intent_id } => tracing::info!(
                attempt_id = %request.attempt_id, %payment_intent_id, "charge succeeded"
            ),
            ChargeOutcome::Declined {
                payment_intent_id,
                decline_code,
                ..
            } => tracing::info!(
                attempt_id = %request.attempt_id, ?payment_intent_id, %decline_code,
                "charge declined"
            ),
            ChargeOutcome::Unknown { error } => tracing::warn!(
                attempt_id = %request.attempt_id, %error, "charge outcome unknown"
            ),
        }
        outcome
    }

    /// The create request's form body.
    fn charge_form(&self, request: &ChargeRequest) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("amount", &request.amount.minor().to_string())
            .append_pair("currency", &request.currency.code().to_ascii_lowercase())
            .append_pair("customer", &request.gateway_customer_id)
            .append_pair("payment_method", &request.payment_method_id)
            .append_pair("confirm", "true")
            .append_pair("off_session", "true")
            .append_pair("payment_method_types[0]", "card");
        if self.flavor == Flavor::Stripe && !request.description.is_empty() {
            form.append_pair("description", &request.description);
        }
        let mut metadata = request.metadata.clone();
        metadata.insert(ATTEMPT_METADATA_KEY.to_string(), request.attempt_id.clone());
        for (key, value) in &metadata {
            form.append_pair(&format!("metadata[{key}]"), value);
        }
        form.finish()
    }

    /// Sends one request; its status and body, or why there is none (timeout, connection).
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Bytes), String> {
        let what = format!(
            "{method} {}",
            path_and_query.split('?').next().unwrap_or("")
        );
        let uri: Uri = format!("{}{path_and_query}", self.base_url)
            .parse()
            .map_err(|_| format!("{what}: invalid URL"))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, self.authorization.clone());
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key)
                .map_err(|_| format!("{what}: the idempotency key is not a valid header value"))?;
            builder = builder.header("idempotency-key", value);
        }
        let body = match form {
            Some(form) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder
            .body(body)
            .map_err(|e| format!("{what}: invalid request: {e}"))?;

        let deadline = tokio::time::Instant::now() + self.timeout;
        let response = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Err(_) => return Err(format!("{what}: {}", self.timeout_message())),
            Ok(Err(e)) => return Err(format!("{what}: {}", describe(&e))),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    return Err(format!(
                        "{what}: {} reading the answer (HTTP {status})",
                        self.timeout_message()
                    ))
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(format!(
                        "{what}: reading the answer (HTTP {status}): {}",
                        describe(&e)
                    ))
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        read.extend_from_slice(&data);
                        if read.len() > MAX_READ {
                            return Err(format!(
                                "{what}: answer larger than {MAX_READ} bytes (HTTP {status})"
                            ));
                        }
                    }
                }
            }
        }
        tracing::debug!(request = %what, status, bytes = read.len(), "stripe answered");
        Ok((status, Bytes::from(read)))
    }

    fn timeout_message(&self) -> String {
        let t = self.timeout;
        if t.subsec_nanos() == 0 {
            format!("timeout after {} s", t.as_secs())
        } else {
            format!("timeout after {} ms", t.as_millis())
        }
    }

    /// For tests and local runs against `localstripe` (which takes raw test card numbers):
    /// creates a card payment method with this number, attached to no customer (as Stripe.js
    /// makes one). A card that Stripe declines on attach (`4000000000000002`) fails when it is
    /// attached; `4000000000000341` attaches and then declines every charge.
    pub async fn create_test_card(&self, card_number: &str) -> Result<String, String> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("type", "card")
            .append_pair("card[number]", card_number)
            .append_pair("card[exp_month]", "12")
            .append_pair("card[exp_year]", "2034")
            .append_pair("card[cvc]", "123");
        self.post_for_id("/v1/payment_methods", form.finish())
            .await
            .map_err(|e| e.to_string())
    }

    /// For tests and local runs: a test card ([`create_test_card`](Self::create_test_card))
    /// saved to a new gateway customer owned by a wallet's business and customer (its metadata
    /// names them, as [`create_customer`](Self::create_customer) makes it), and set as its
    /// default. Returns `(gateway customer id, payment method id)`.
    pub async fn create_test_customer(
        &self,
        card_number: &str,
        business_id: &str,
        customer_id: &str,
    ) -> Result<(String, String), String> {
        let payment_method = self.create_test_card(card_number).await?;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("payment_method", &payment_method)
            .append_pair("invoice_settings[default_payment_method]", &payment_method)
            .append_pair(
                &format!("metadata[{OWNER_BUSINESS_METADATA_KEY}]"),
                business_id,
            )
            .append_pair(
                &format!("metadata[{OWNER_CUSTOMER_METADATA_KEY}]"),
                customer_id,
            );
        let customer = self
            .post_for_id("/v1/customers", form.finish())
            .await
            .map_err(|e| e.to_string())?;
        Ok((customer, payment_method))
    }

    /// For tests: sets one metadata entry of a gateway customer (`POST /v1/customers/{id}`).
    pub async fn set_customer_metadata(
        &self,
        gateway_customer_id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), String> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair(&format!("metadata[{key}]"), value);
        self.post_for_id(
            &format!("/v1/customers/{gateway_customer_id}"),
            form.finish(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// For tests: detaches a payment method from its customer.
    pub async fn detach_payment_method(&self, payment_method_id: &str) -> Result<(), String> {
        self.post_for_id(
            &format!("/v1/payment_methods/{payment_method_id}/detach"),
            String::new(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn post_for_id(&self, path: &str, form: String) -> Result<String, GatewayFailure> {
        let (status, body) = self
            .call(Method::POST, path, Some(form), None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        if status != 200 {
            return Err(failure(&format!("POST {path}"), status, &body));
        }
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        serde_json::from_slice::<Created>(&body)
            .map(|c| c.id)
            .map_err(|e| {
                GatewayFailure::Unavailable(format!("POST {path}: unreadable answer: {e}"))
            })
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
}

/// A payment method as Stripe (or localstripe) sends it, its customer expanded.
#[derive(Debug, Deserialize)]
struct PaymentMethodJson {
    id: String,
    #[serde(default)]
    customer: Option<CustomerField>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CustomerField {
    Id(String),
    Expanded(CustomerJson),
}

#[derive(Debug, Deserialize)]
struct CustomerJson {
    id: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    deleted: bool,
}

/// An id that can go into a path as it is.
fn is_gateway_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A failed answer: `Unavailable` when trying again can help (429, 5xx, anything odd), else
/// `Refused` (the gateway's words, for the logs).
fn failure(what: &str, status: u16, body: &[u8]) -> GatewayFailure {
    let summary = format!("{what}: {}", error_summary(status, body));
    match status {
        400..=499 if status != 409 && status != 429 => GatewayFailure::Refused(summary),
        _ => GatewayFailure::Unavailable(summary),
    }
}

/// A decline code from the gateway's fixed list (`insufficient_funds`, `lost_card`, ...), or
/// `None` for anything else (it is shown to tenants; free text never is).
fn listed_code(raw: Option<String>) -> Option<String> {
    raw.filter(|code| {
        !code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

/// A PaymentIntent as Stripe (or localstripe) sends it; only what is read here.
#[derive(Debug, Deserialize)]
struct IntentJson {
    id: String,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    last_payment_error: Option<ErrorJson>,
    #[serde(default)]
    cancellation_reason: Option<String>,
}

impl IntentJson {
    fn into_intent(self) -> PaymentIntent {
        let outcome = intent_outcome(&self);
        PaymentIntent {
            id: self.id,
            customer: self.customer,
            amount: self.amount,
            currency: self.currency,
            status: self.status,
            created: self.created,
            metadata: self.metadata,
            outcome,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListJson {
    data: Vec<IntentJson>,
    #[serde(default)]
    has_more: bool,
}

/// Stripe's `error` object.
#[derive(Debug, Default, Deserialize)]
struct ErrorJson {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    payment_intent: Option<IntentRef>,
}

#[derive(Debug, Deserialize)]
struct IntentRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ErrorJson,
}

fn parse_intent(body: &[u8]) -> Result<PaymentIntent, String> {
    serde_json::from_slice::<IntentJson>(body)
        .map(IntentJson::into_intent)
        .map_err(|e| format!("unreadable PaymentIntent: {e}"))
}

fn parse_error(body: &[u8]) -> ErrorJson {
    serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .unwrap_or_default()
}

/// What a PaymentIntent's state means for the charge.
fn intent_outcome(pi: &IntentJson) -> ChargeOutcome {
    let id = Some(pi.id.clone());
    match pi.status.as_str() {
        "succeeded" => ChargeOutcome::Succeeded {
            payment_intent_id: pi.id.clone(),
        },
        "requires_payment_method" => {
            let error = pi.last_payment_error.as_ref();
            let code = error.and_then(|e| e.decline_code.clone().or_else(|| e.code.clone()));
            let code = listed_code(code).unwrap_or_else(|| "requires_payment_method".to_string());
            if code == "authentication_required" {
                DeclineClass::AuthenticationRequired.declined(id, Some(code))
            } else {
                DeclineClass::Card.declined(id, Some(code))
            }
        }
        "requires_action" => DeclineClass::AuthenticationRequired.declined(id, None),
        "canceled" => {
            DeclineClass::Canceled.declined(id, listed_code(pi.cancellation_reason.clone()))
        }
        "requires_confirmation" => {
            DeclineClass::Canceled.declined(id, Some("requires_confirmation".to_string()))
        }
        other => ChargeOutcome::Unknown {
            error: format!("{} is {other}", pi.id),
        },
    }
}

/// What the answer to a create means.
fn outcome_of_answer(status: u16, body: &[u8]) -> ChargeOutcome {
    match status {
        200..=299 => match serde_json::from_slice::<IntentJson>(body) {
            Ok(intent) => {
                // The decline's own words, for the logs only (not on every listed PaymentIntent:
                // only on the answer to this charge).
                if let Some(message) = intent
                    .last_payment_error
                    .as_ref()
                    .and_then(|e| e.message.as_deref())
                {
                    tracing::info!(payment_intent_id = %intent.id, gateway_message = %message, "the gateway's words on the decline");
                }
                intent.into_intent().outcome
            }
            Err(error) => ChargeOutcome::Unknown {
                error: format!("HTTP {status}: unreadable PaymentIntent: {error}"),
            },
        },
        402 => {
            let error = parse_error(body);
            tracing::info!(status, gateway_error = %error_summary(status, body), "the gateway declined the charge");
            let code = listed_code(error.decline_code.or(error.code));
            let class = if code.as_deref() == Some("authentication_required") {
                DeclineClass::AuthenticationRequired
            } else {
                DeclineClass::Card
            };
            class.declined(error.payment_intent.map(|pi| pi.id), code)
        }
        400..=499 => {
            let error = parse_error(body);
            let in_flight_or_busy =
                matches!(status, 409 | 429) || error.kind.as_deref() == Some("idempotency_error");
            if in_flight_or_busy {
                ChargeOutcome::Unknown {
                    error: error_summary(status, body),
                }
            } else {
                // Its code and words can name the platform's account or tell whether an id
                // exists: the logs get them, the tenant the class.
                tracing::warn!(status, gateway_error = %error_summary(status, body), "the gateway refused the charge request");
                DeclineClass::InvalidRequest.declined(error.payment_intent.map(|pi| pi.id), None)
            }
        }
        _ => ChargeOutcome::Unknown {
            error: error_summary(status, body),
        },
    }
}

/// `HTTP 500: <Stripe's message>` (or the start of the body).
fn error_summary(status: u16, body: &[u8]) -> String {
    let error = parse_error(body);
    let detail = match (error.code, error.message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message,
        (Some(code), None) => code,
        (None, None) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            text.trim().to_string()
        }
    };
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    }
}

/// A short description of a failed request.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    super::https::describe::<std::convert::Infallible>(error)
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
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::kernel::{Amount, Currency};

    const KEY: &str = "sk_test_0123456789secret";

    /// What the fake server got.
    #[derive(Debug, Clone)]
    struct Received {
        method: String,
        target: String,
        headers: http::HeaderMap,
        body: String,
    }

    impl Received {
        fn form(&self) -> BTreeMap<String, String> {
            form_urlencoded::parse(self.body.as_bytes())
                .into_owned()
                .collect()
        }

        fn query(&self) -> BTreeMap<String, String> {
            let query = self.target.split_once('?').map_or("", |(_, q)| q);
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        }
    }

    /// A fake Stripe on 127.0.0.1: answers each request with the next scripted answer (status,
    /// JSON body, delay before it), and records the requests.
    struct FakeStripe {
        port: u16,
        received: Arc<Mutex<Vec<Received>>>,
    }

    impl FakeStripe {
        async fn start(answers: Vec<(u16, String, Duration)>) -> FakeStripe {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let received = Arc::new(Mutex::new(Vec::new()));
            let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
            let r = received.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (r, answers) = (r.clone(), answers.clone());
                    tokio::spawn(async move { serve(stream, &r, &answers).await });
                }
            });
            FakeStripe { port, received }
        }

        fn gateway(&self) -> StripeGateway {
            StripeGateway::new(&format!("http://127.0.0.1:{}/", self.port), KEY).unwrap()
        }

        fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }

    async fn serve(
        mut stream: TcpStream,
        received: &Mutex<Vec<Received>>,
        answers: &Mutex<VecDeque<(u16, String, Duration)>>,
    ) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or("").split(' ');
        let method = request_line.next().unwrap_or("").to_string();
        let target = request_line.next().unwrap_or("").to_string();
        let mut headers = http::HeaderMap::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if let Some((name, value)) = line.split_once(':') {
                headers.append(
                    http::header::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                    HeaderValue::from_str(value.trim()).unwrap(),
                );
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        received.lock().unwrap().push(Received {
            method,
            target,
            headers,
            body,
        });
        let (status, json, delay) = answers.lock().unwrap().pop_front().unwrap_or((
            500,
            r#"{"error":{"type":"api_error","message":"no scripted answer"}}"#.to_string(),
            Duration::ZERO,
        ));
        tokio::time::sleep(delay).await;
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
            json.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn now(answer: (u16, &str)) -> (u16, String, Duration) {
        (answer.0, answer.1.to_string(), Duration::ZERO)
    }

    const EMPTY_LIST: (u16, &str) = (200, r#"{"object":"list","data":[],"has_more":false}"#);

    fn intent(id: &str, status: &str, attempt: &str) -> String {
        serde_json::json!({
            "id": id, "object": "payment_intent", "amount": 2500, "currency": "usd",
            "customer": "cus_A", "status": status, "created": 1_900_000_000,
            "metadata": {"topup_attempt": attempt, "wallet": "USD"},
            "latest_charge": "ch_1",
        })
        .to_string()
    }

    /// `GET /v1/payment_methods/pm_A?expand[0]=customer`'s answer: attached to `customer`,
    /// whose metadata names `business` and `wallet_customer`.
    fn payment_method(customer: &str, business: &str, wallet_customer: &str) -> (u16, String) {
        let json = serde_json::json!({
            "id": "pm_A", "object": "payment_method", "type": "card",
            "customer": {"id": customer, "object": "customer",
                         "metadata": {"wallet_business_id": business, "wallet_customer_id": wallet_customer}},
        });
        (200, json.to_string())
    }

    fn owned() -> (u16, String, Duration) {
        let (status, json) = payment_method("cus_A", "bus_1", "cus_wallet");
        (status, json, Duration::ZERO)
    }

    fn request() -> ChargeRequest {
        ChargeRequest {
            amount: Amount::new(2500).unwrap(),
            currency: Currency::USD,
            gateway_customer_id: "cus_A".to_string(),
            payment_method_id: "pm_A".to_string(),
            business_id: "bus_1".to_string(),
            customer_id: "cus_wallet".to_string(),
            attempt_id: "att_1".to_string(),
            attempt_started_at: Timestamp::from_unix_ms(1_900_000_000_000),
            idempotency_key: "topup-att_1".to_string(),
            description: "Wallet auto top-up".to_string(),
            metadata: BTreeMap::from([
                ("wallet".to_string(), "USD".to_string()),
                ("topup_attempt".to_string(), "overridden".to_string()),
            ]),
        }
    }

    #[tokio::test]
    async fn a_charge_reconciles_then_posts_the_form_with_key_and_idempotency_key() {
        let fake = FakeStripe::start(vec![
            now(EMPTY_LIST),
            owned(),
            now((200, &intent("pi_1", "succeeded", "att_1"))),
        ])
        .await;
        let outcome = fake.gateway().charge(&request()).await;
        assert_eq!(
            outcome,
            ChargeOutcome::Succeeded {
                payment_intent_id: "pi_1".to_string()
            }
        );
        let received = fake.received();
        assert_eq!(received.len(), 3);
        assert_eq!(received[1].method, "GET");
        assert_eq!(
            received[1].target,
            "/v1/payment_methods/pm_A?expand[0]=customer"
        );

        let list = &received[0];
        assert_eq!(list.method, "GET");
        assert!(
            list.target.starts_with("/v1/payment_intents?"),
            "{}",
            list.target
        );
        let query = list.query();
        assert_eq!(query["customer"], "cus_A");
        assert_eq!(query["limit"], "100");
        // The attempt's start less an hour, in seconds.
        assert_eq!(query["created[gte]"], "1899996400");
        assert_eq!(
            list.headers["authorization"],
            format!("Bearer {KEY}").as_str()
        );

        let create = &received[2];
        assert_eq!(create.method, "POST");
        assert_eq!(create.target, "/v1/payment_intents");
        assert_eq!(
            create.headers["authorization"],
            format!("Bearer {KEY}").as_str()
        );
        assert_eq!(create.headers["idempotency-key"], "topup-att_1");
        assert_eq!(
            create.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        let form = create.form();
        let expected: BTreeMap<String, String> = [
            ("amount", "2500"),
            ("currency", "usd"),
            ("customer", "cus_A"),
            ("payment_method", "pm_A"),
            ("confirm", "true"),
            ("off_session", "true"),
            ("payment_method_types[0]", "card"),
            ("description", "Wallet auto top-up"),
            ("metadata[topup_attempt]", "att_1"),
            ("metadata[wallet]", "USD"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(form, expected);
    }

    #[tokio::test]
    async fn the_localstripe_flavor_leaves_out_what_localstripe_refuses() {
        let other_customer = serde_json::json!({
            "object": "list", "has_more": false,
            "data": [{"id": "pi_x", "customer": "cus_B", "amount": 2500, "currency": "usd",
                      "status": "succeeded", "created": 1_900_000_000,
                      "metadata": {"topup_attempt": "att_1"}}],
        })
        .to_string();
        let fake = FakeStripe::start(vec![
            now((200, &other_customer)),
            owned(),
            now((200, &intent("pi_1", "succeeded", "att_1"))),
        ])
        .await;
        let gateway = fake.gateway().with_flavor(Flavor::Localstripe);
        let outcome = gateway.charge(&request()).await;
        // The other customer's PaymentIntent of the same attempt id is not this one.
        assert_eq!(outcome.payment_intent_id(), Some("pi_1"));
        let received = fake.received();
        let query = received[0].query();
        assert!(!query.contains_key("customer"));
        assert!(!query.contains_key("created[gte]"));
        let form = received[2].form();
        assert!(!form.contains_key("description"));
        assert_eq!(form["metadata[topup_attempt]"], "att_1");
    }

    #[tokio::test]
    async fn an_attempt_already_charged_is_answered_without_a_second_charge() {
        let page = format!(
            r#"{{"object":"list","has_more":false,"data":[{},{}]}}"#,
            intent("pi_other", "succeeded", "att_0"),
            intent("pi_1", "succeeded", "att_1")
        );
        let fake = FakeStripe::start(vec![now((200, &page))]).await;
        let outcome = fake.gateway().charge(&request()).await;
        assert_eq!(outcome.payment_intent_id(), Some("pi_1"));
        assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }));
        assert_eq!(fake.received().len(), 1, "no POST");
    }

    #[tokio::test]
    async fn a_found_charge_of_another_amount_is_unknown_not_a_success() {
        let mut found = request();
        found.amount = Amount::new(999).unwrap();
        let page = format!(
            r#"{{"object":"list","has_more":false,"data":[{}]}}"#,
            intent("pi_1", "succeeded", "att_1")
        );
        let fake = FakeStripe::start(vec![now((200, &page))]).await;
        let outcome = fake.gateway().charge(&found).await;
        let ChargeOutcome::Unknown { error } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(error.contains("already has pi_1 for 2500 usd"), "{error}");
        assert_eq!(fake.received().len(), 1, "no POST");
    }

    #[tokio::test]
    async fn the_look_up_follows_pages() {
        let first = format!(
            r#"{{"object":"list","has_more":true,"data":[{}]}}"#,
            intent("pi_a", "succeeded", "att_0")
        );
        let second = format!(
            r#"{{"object":"list","has_more":false,"data":[{}]}}"#,
            intent("pi_b", "requires_payment_method", "att_1")
        );
        let fake = FakeStripe::start(vec![now((200, &first)), now((200, &second))]).await;
        let found = fake
            .gateway()
            .find(&request().lookup())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.payment_intent_id, "pi_b");
        assert_eq!(found.amount, 2500);
        assert_eq!(found.currency, "usd");
        assert!(matches!(
            found.outcome,
            ChargeOutcome::Declined { ref decline_code, .. } if decline_code == "requires_payment_method"
        ));
        assert_eq!(fake.received()[1].query()["starting_after"], "pi_a");
    }

    #[tokio::test]
    async fn find_by_id_retrieves_it_and_checks_its_attempt() {
        let fake = FakeStripe::start(vec![
            now((200, &intent("pi_1", "succeeded", "att_1"))),
            now((
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}"#,
            )),
            now((200, &intent("pi_3", "succeeded", "att_9"))),
        ])
        .await;
        let gateway = fake.gateway();
        let mut lookup = request().lookup();
        lookup.payment_intent_id = Some("pi_1".to_string());
        let found = gateway.find(&lookup).await.unwrap().unwrap();
        assert_eq!(found.payment_intent_id, "pi_1");
        lookup.payment_intent_id = Some("pi_2".to_string());
        assert_eq!(gateway.find(&lookup).await.unwrap(), None);
        lookup.payment_intent_id = Some("pi_3".to_string());
        let error = gateway.find(&lookup).await.unwrap_err();
        assert!(error.contains("not made for attempt att_1"), "{error}");
        assert_eq!(fake.received()[0].target, "/v1/payment_intents/pi_1");
        lookup.payment_intent_id = Some("../customers".to_string());
        assert!(gateway.find(&lookup).await.is_err());
        assert_eq!(fake.received().len(), 3);
    }

    #[test]
    fn answers_map_to_outcomes() {
        let declined = |status, body: &str| match outcome_of_answer(status, body.as_bytes()) {
            ChargeOutcome::Declined {
                payment_intent_id,
                decline_code,
                message,
            } => (payment_intent_id, decline_code, message),
            other => panic!("{status} {body}: {other:?}"),
        };
        let unknown = |status, body: &str| {
            assert!(
                matches!(
                    outcome_of_answer(status, body.as_bytes()),
                    ChargeOutcome::Unknown { .. }
                ),
                "{status} {body}"
            )
        };

        // Stripe's card error: the decline code and the PaymentIntent left behind.
        let stripe_decline = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_9","status":"requires_payment_method"}}}"#;
        assert_eq!(
            declined(402, stripe_decline),
            (
                Some("pi_9".to_string()),
                "insufficient_funds".to_string(),
                "the card was declined".to_string()
            ),
            "Stripe's code, never its words"
        );
        // localstripe's: only a code.
        let local_decline = r#"{"error":{"type":"invalid_request_error","code":"card_declined","charge":"ch_1","message":"Your card was declined."}}"#;
        assert_eq!(declined(402, local_decline).1, "card_declined");
        assert_eq!(declined(402, "not json").1, "card_declined");
        assert_eq!(
            declined(
                402,
                r#"{"error":{"type":"card_error","code":"authentication_required","message":"m"}}"#
            )
            .1,
            "authentication_required"
        );
        // A request that will not succeed as it is: one class, whatever Stripe said (its code
        // tells whether an id exists, its words can name the platform's account).
        for (status, body) in [
            (
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer: 'cus_x'"}}"#,
            ),
            (
                401,
                r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_live_****1234"}}"#,
            ),
            (
                400,
                r#"{"error":{"type":"invalid_request_error","code":"parameter_invalid","message":"The account acct_1Platform cannot ..."}}"#,
            ),
        ] {
            assert_eq!(
                declined(status, body),
                (
                    None,
                    "invalid_request".to_string(),
                    "the payment gateway refused the charge request".to_string()
                )
            );
        }
        // A code that is not a plain code is not shown either.
        assert_eq!(
            declined(
                402,
                r#"{"error":{"type":"card_error","code":"Card of acct_1X declined"}}"#
            ),
            (
                None,
                "card_declined".to_string(),
                "the card was declined".to_string()
            )
        );
        // 2xx states.
        assert_eq!(
            outcome_of_answer(200, intent("pi_1", "succeeded", "a").as_bytes()),
            ChargeOutcome::Succeeded {
                payment_intent_id: "pi_1".to_string()
            }
        );
        assert_eq!(
            declined(200, &intent("pi_1", "requires_action", "a")),
            (
                Some("pi_1".to_string()),
                "authentication_required".to_string(),
                "the bank asks for the customer's authentication, impossible off-session"
                    .to_string()
            )
        );
        assert_eq!(
            declined(200, &intent("pi_1", "canceled", "a")).1,
            "canceled"
        );
        let after_decline = serde_json::json!({
            "id": "pi_2", "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "lost_card", "message": "lost"},
        })
        .to_string();
        assert_eq!(
            declined(200, &after_decline),
            (
                Some("pi_2".to_string()),
                "lost_card".to_string(),
                "the card was declined".to_string()
            )
        );
        // Unknown: the charge may have happened.
        unknown(200, &intent("pi_1", "processing", "a"));
        unknown(200, "<html>proxy</html>");
        unknown(500, r#"{"error":{"type":"api_error","message":"boom"}}"#);
        unknown(503, "");
        unknown(
            409,
            r#"{"error":{"type":"idempotency_error","message":"There is currently another in-progress request using this Idempotent Key"}}"#,
        );
        unknown(
            400,
            r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#,
        );
        unknown(
            429,
            r#"{"error":{"type":"invalid_request_error","code":"rate_limit"}}"#,
        );
        unknown(302, "");
    }

    #[tokio::test]
    async fn a_payment_method_not_owned_by_the_wallet_s_business_and_customer_is_never_charged() {
        let cases = [
            // Another business's customer.
            payment_method("cus_A", "bus_2", "cus_wallet"),
            // Another customer of the same business.
            payment_method("cus_A", "bus_1", "cus_other"),
            // Attached to another gateway customer than the one named.
            payment_method("cus_B", "bus_1", "cus_wallet"),
            // Detached.
            (200, r#"{"id":"pm_A","customer":null}"#.to_string()),
            // A customer without the metadata.
            (200, r#"{"id":"pm_A","customer":{"id":"cus_A","metadata":{}}}"#.to_string()),
            // Deleted.
            (200, r#"{"id":"pm_A","customer":{"id":"cus_A","deleted":true,"metadata":{"wallet_business_id":"bus_1","wallet_customer_id":"cus_wallet"}}}"#.to_string()),
            // Unknown.
            (404, r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such PaymentMethod: 'pm_A'"}}"#.to_string()),
        ];
        for (status, body) in cases {
            let fake = FakeStripe::start(vec![now(EMPTY_LIST), now((status, &body))]).await;
            let outcome = fake.gateway().charge(&request()).await;
            assert_eq!(
                outcome,
                ChargeOutcome::Declined {
                    payment_intent_id: None,
                    decline_code: "payment_method_not_owned".to_string(),
                    message: DeclineClass::NotOwned.message().to_string(),
                },
                "{body}"
            );
            assert_eq!(fake.received().len(), 2, "no POST: {body}");
        }
        // A gateway that cannot say: unknown, nothing charged.
        let fake = FakeStripe::start(vec![now(EMPTY_LIST), now((503, "down"))]).await;
        let outcome = fake.gateway().charge(&request()).await;
        assert!(
            matches!(outcome, ChargeOutcome::Unknown { .. }),
            "{outcome:?}"
        );
        assert_eq!(fake.received().len(), 2, "no POST");
    }

    #[tokio::test]
    async fn a_server_error_on_the_charge_is_unknown() {
        let fake = FakeStripe::start(vec![
            now(EMPTY_LIST),
            owned(),
            now((
                500,
                r#"{"error":{"type":"api_error","message":"Something went wrong"}}"#,
            )),
        ])
        .await;
        let outcome = fake.gateway().charge(&request()).await;
        assert_eq!(
            outcome,
            ChargeOutcome::Unknown {
                error: "HTTP 500: Something went wrong".to_string()
            }
        );
    }

    #[tokio::test]
    async fn a_failed_reconciliation_is_unknown_and_charges_nothing() {
        let fake = FakeStripe::start(vec![now((503, "upstream down"))]).await;
        let outcome = fake.gateway().charge(&request()).await;
        let ChargeOutcome::Unknown { error } = outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            error.starts_with("reconciling before the charge: "),
            "{error}"
        );
        assert!(error.contains("HTTP 503: upstream down"), "{error}");
        assert_eq!(fake.received().len(), 1, "no POST");
    }

    #[tokio::test]
    async fn a_slow_gateway_hits_the_timeout_and_is_unknown() {
        let fake = FakeStripe::start(vec![
            now(EMPTY_LIST),
            owned(),
            (
                200,
                intent("pi_1", "succeeded", "att_1"),
                Duration::from_secs(3),
            ),
        ])
        .await;
        let gateway = fake.gateway().with_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let outcome = gateway.charge(&request()).await;
        assert_eq!(
            outcome,
            ChargeOutcome::Unknown {
                error: "POST /v1/payment_intents: timeout after 300 ms".to_string()
            }
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            StripeGateway::new("http://127.0.0.1:1", KEY)
                .unwrap()
                .timeout_message(),
            "timeout after 10 s"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_unknown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let gateway = StripeGateway::new(&format!("http://127.0.0.1:{port}"), KEY).unwrap();
        assert_eq!(
            gateway.charge(&request()).await,
            ChargeOutcome::Unknown {
                error: "reconciling before the charge: GET /v1/payment_intents: connection refused"
                    .to_string()
            }
        );
        assert_eq!(
            gateway.create(&request()).await,
            ChargeOutcome::Unknown {
                error: "POST /v1/payment_intents: connection refused".to_string()
            }
        );
    }

    #[tokio::test]
    async fn a_request_without_attempt_or_key_is_refused_before_any_call() {
        let mut no_key = request();
        no_key.idempotency_key.clear();
        let gateway = StripeGateway::new("http://127.0.0.1:1", KEY).unwrap();
        assert!(matches!(
            gateway.charge(&no_key).await,
            ChargeOutcome::Declined { ref decline_code, .. } if decline_code == "invalid_request"
        ));
    }

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
