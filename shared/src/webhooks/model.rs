//! Webhooks: the events a committed change causes, the endpoints a business registers, and the
//! deliveries (with their attempts) of each event to each endpoint.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::holds::model::Hold;
use crate::kernel::{BusinessId, Currency, CustomerId, EndpointId, EventId, Timestamp};
use crate::ledger::model::{LedgerEntry, Wallet};

pub use super::address::TargetPolicy;

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        /// The catalog of events (docs/webhooks.md, openapi.yaml `webhooks`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType { $($variant,)* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            pub fn parse(raw: &str) -> Option<EventType> {
                match raw { $($name => Some(EventType::$variant),)* _ => None }
            }
        }
    };
}

event_types! {
    WalletCreated => "wallet.created",
    ToppedUp => "wallet.topped_up",
    PaymentMade => "wallet.payment_made",
    WalletClosed => "wallet.closed",
    HoldCreated => "wallet.hold.created",
    HoldCaptured => "wallet.hold.captured",
    HoldReleased => "wallet.hold.released",
    HoldExpired => "wallet.hold.expired",
    BalanceLow => "wallet.balance_low",
    BalanceRecovered => "wallet.balance_recovered",
    AutoTopUpSucceeded => "wallet.auto_top_up_succeeded",
    AutoTopUpFailed => "wallet.auto_top_up_failed",
    InvoicePaid => "wallet.invoice.paid",
    InvoicePartiallyPaid => "wallet.invoice.partially_paid",
    InvoiceFailed => "wallet.invoice.failed",
    TopUpLinkPaid => "wallet.top_up_link.paid",
    TopUpLinkExpired => "wallet.top_up_link.expired",
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EventType, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        EventType::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type `{raw}`")))
    }
}

/// What caused an event, carried in its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The wallet itself (created, closed).
    Wallet,
    Entry(LedgerEntry),
    Hold(Hold),
    /// An auto top-up that ended (succeeded or failed).
    TopUp(crate::topups::model::TopUpResult),
    /// An invoice payment that settled (paid, partially paid, failed).
    Invoice(Box<crate::invoices::model::InvoicePayment>),
    /// A top-up link that was paid or expired.
    TopUpLink(Box<crate::payins::links::TopUpLink>),
}

/// One event: a fact about one wallet after a committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub event_type: EventType,
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    pub currency: Currency,
    /// The version of the customer's wallets after the change: rises with every change, so a
    /// receiver can order events of one wallet and drop repeats.
    pub sequence: u64,
    pub occurred_at: Timestamp,
    /// The wallet after the change.
    pub wallet: Wallet,
    pub cause: Cause,
}

/// A registered webhook endpoint. Its serde form is the stored document.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: EndpointId,
    pub business_id: BusinessId,
    pub url: String,
    pub description: String,
    pub disabled: bool,
    /// Empty: every event.
    pub filter_types: Vec<EventType>,
    pub headers: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub rate_limit: Option<u32>,
    /// `whsec_...`: shown by `GET /webhooks/{id}/secret` only.
    pub secret: String,
    /// Bumped by every change; a replacement is conditional on it.
    pub version: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Who made it and who changed it last (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<crate::access::model::Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<crate::access::model::Actor>,
}

/// Parts of a header name that make it sensitive (`authorization`, `x-api-key`,
/// `x-session-token`, ...): its value is sent on every delivery but never shown back (GET
/// `/webhooks/{id}/headers` lists the name in `sensitive`, without the value) nor logged.
pub const SENSITIVE_HEADER_PARTS: [&str; 10] = [
    "auth",
    "token",
    "secret",
    "key",
    "password",
    "passwd",
    "session",
    "cookie",
    "credential",
    "signature",
];

/// Whether a header (its lower-case name) is sensitive: see [`SENSITIVE_HEADER_PARTS`].
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SENSITIVE_HEADER_PARTS
        .iter()
        .any(|part| name.contains(part))
}

/// Headers as logs may show them: sensitive values replaced.
struct Redacted<'a>(&'a BTreeMap<String, String>);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if is_sensitive_header(name) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name, shown)
            }))
            .finish()
    }
}

/// The `Debug` of a record with headers (and perhaps a secret): the fields named, then the
/// headers [`Redacted`]; a secret is never shown.
macro_rules! redacted_debug {
    ($type:ident { $($field:ident),* } headers: |$this:ident| $headers:expr) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let $this = self;
                let mut out = f.debug_struct(stringify!($type));
                $(out.field(stringify!($field), &self.$field);)*
                out.field("headers", &$headers);
                out.finish_non_exhaustive()
            }
        }
    };
}

redacted_debug!(Endpoint { id, business_id, url, description, disabled, filter_types, metadata, rate_limit, version, created_at, updated_at, created_by, updated_by } headers: |e| Redacted(&e.headers));
redacted_debug!(NewEndpoint { url, description, disabled, filter_types, metadata, rate_limit, idempotency_key } headers: |e| Redacted(&e.headers));
redacted_debug!(EndpointPatch { url, description, disabled, filter_types, metadata, rate_limit } headers: |e| e.headers.as_ref().map(Redacted));
redacted_debug!(Outbound { url, message_id, timestamp_s, body } headers: |e| Redacted(&e.headers));

impl Endpoint {
    /// Its headers as GET `/webhooks/{id}/headers` shows them: the values of those that are not
    /// sensitive, and the names of those that are.
    pub fn shown_headers(&self) -> (BTreeMap<&str, &str>, Vec<&str>) {
        let (sensitive, plain): (Vec<_>, Vec<_>) = self
            .headers
            .iter()
            .partition(|(name, _)| is_sensitive_header(name));
        (
            plain
                .into_iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            sensitive.into_iter().map(|(n, _)| n.as_str()).collect(),
        )
    }

    /// Whether this endpoint receives events of this type.
    pub fn wants(&self, event_type: EventType) -> bool {
        !self.disabled && (self.filter_types.is_empty() || self.filter_types.contains(&event_type))
    }
}

/// A validated request for a new endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub disabled: bool,
    pub filter_types: Vec<EventType>,
    pub headers: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub rate_limit: Option<u32>,
    pub idempotency_key: Option<String>,
}

/// A validated change to an endpoint: `None` leaves a field as it is.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
    pub filter_types: Option<Vec<EventType>>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// `Some(None)` clears the limit.
    pub rate_limit: Option<Option<u32>>,
    /// Headers added or replaced.
    pub headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet answered 2xx; another attempt is due at `next_attempt_at`.
    Pending,
    Succeeded,
    /// Every attempt of the schedule failed.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        match raw {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one endpoint. Its id is the event's (the `webhook-id` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: EventId,
    pub endpoint_id: EndpointId,
    pub business_id: BusinessId,
    pub event_type: EventType,
    /// The signed body, exactly as sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// While set and in the future, one worker is attempting; others keep off.
    pub lease_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One attempt of a delivery, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    pub attempted_at: Timestamp,
    #[serde(flatten)]
    pub result: AttemptResult,
}

/// Where a delivery is, for a worker that found it due, or that a dispatcher handed it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRef {
    pub business_id: BusinessId,
    pub endpoint_id: EndpointId,
    pub id: EventId,
}

/// Which deliveries of an endpoint to list: newest first, after `after` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
    pub after: Option<EventId>,
    pub limit: u32,
}

/// One request to an endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct Outbound {
    pub url: String,
    pub message_id: String,
    pub timestamp_s: i64,
    pub body: String,
    pub secret: String,
    pub headers: BTreeMap<String, String>,
}

/// What an attempt got back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// The first 1 KB of the answer's body.
    pub response: String,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        matches!(self.status_code, Some(200..=299))
    }
}

/// Sends a signed request to an endpoint (adapter: `adapters::webhook_http`).
pub trait WebhookSender: Send + Sync {
    fn send(&self, outbound: &Outbound) -> impl Future<Output = AttemptResult> + Send;
}

/// What one dispatch or sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryReport {
    /// Deliveries created (dispatch) or found due (sweep).
    pub deliveries: usize,
    pub succeeded: usize,
    /// Attempts that failed and were scheduled again or marked failed.
    pub failed: usize,
    /// Deliveries a deliverer put off without an attempt: their endpoint's breaker was open.
    pub postponed: usize,
    /// Deliveries a deliverer left due for the sweep: out of time, or the store failed.
    pub left: usize,
}

/// Hands recorded deliveries to a deliverer, without waiting for their attempts (adapter: an
/// asynchronous invocation of the deliverer function). A failure loses nothing: the deliveries
/// are recorded, and the sweep attempts them when they are due.
pub trait DeliveryQueue: Send + Sync {
    fn enqueue(&self, work: Vec<DeliveryRef>) -> impl Future<Output = Result<(), String>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_header_values_and_the_secret_never_reach_debug_output() {
        let headers: BTreeMap<String, String> = [
            ("authorization", "Bearer s3cr3t"),
            ("x-api-key", "k-123"),
            ("x-team", "billing"),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
        let outbound = Outbound {
            url: "https://example.com".into(),
            message_id: "evt".into(),
            timestamp_s: 0,
            body: "{}".into(),
            secret: "whsec_abc".into(),
            headers: headers.clone(),
        };
        let patch = EndpointPatch {
            headers: Some(headers),
            ..EndpointPatch::default()
        };
        for shown in [format!("{outbound:?}"), format!("{patch:?}")] {
            assert!(shown.contains("billing"), "{shown}");
            for hidden in ["s3cr3t", "k-123", "whsec_abc"] {
                assert!(!shown.contains(hidden), "{hidden} in {shown}");
            }
        }
        assert!(is_sensitive_header("X-Session-Token"));
        assert!(!is_sensitive_header("x-team"));
    }
}
