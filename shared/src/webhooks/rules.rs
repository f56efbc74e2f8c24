//! Pure webhook rules: what an endpoint may say, its secret, the retry schedule.

use std::collections::BTreeMap;

use crate::kernel::{Timestamp, ValidationError};

use super::address::{check_url, TargetPolicy};
use super::model::{Endpoint, EndpointPatch, EventType, NewEndpoint};

/// Endpoints one business may register.
pub const ENDPOINTS_MAX: usize = 20;
pub const HEADERS_MAX: usize = 20;
pub const HEADER_VALUE_MAX: usize = 1000;
pub const METADATA_KEYS_MAX: usize = 50;
pub const METADATA_KEY_MAX: usize = 40;
pub const METADATA_VALUE_MAX: usize = 500;
pub const DESCRIPTION_MAX: usize = 500;
pub const RATE_LIMIT_MAX: i64 = 10_000;
/// Waits after the 1st, 2nd, ... failed attempt: Standard Webhooks' usual schedule (5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 10 h), then two daily tries, so about three days in all (3.15), then
/// failed.
pub const RETRY_DELAYS_S: [u64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 86_400, 86_400];
/// Attempts in all: the first and one per retry.
pub const ATTEMPTS_MAX: u32 = RETRY_DELAYS_S.len() as u32 + 1;
/// How long a worker that claimed a delivery owns it; longer than the 10 s request timeout, so
/// a worker that dies mid-attempt leaves it due again after this.
pub const LEASE_MS: u64 = 60_000;
/// How long deliveries and their attempts are kept (the table's TTL removes them after).
pub const DELIVERY_LOG_DAYS: u64 = 30;

/// Headers an endpoint may not set: the signature's, and what HTTP itself decides.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
];

pub fn event_types(raw: &[String]) -> Result<Vec<EventType>, ValidationError> {
    let mut types = raw
        .iter()
        .map(|name| {
            EventType::parse(name).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                ValidationError::new(
                    "unknown_event_type",
                    format!("unknown event type `{name}`; known: {}", known.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    types.sort();
    types.dedup();
    Ok(types)
}

pub fn headers(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ValidationError> {
    if raw.len() > HEADERS_MAX {
        return Err(ValidationError::new(
            "too_many_headers",
            format!("at most {HEADERS_MAX} headers; got {}", raw.len()),
        ));
    }
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    raw.into_iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            if name.is_empty() || name.len() > 100 || !name.bytes().all(token) {
                return Err(ValidationError::new("invalid_header", format!("`{name}` is not a header name")));
            }
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(ValidationError::new("invalid_header",
                    format!("header `{name}` is set by the service and cannot be overridden"),
                ));
            }
            if value.len() > HEADER_VALUE_MAX || value.chars().any(|c| c.is_control()) {
                return Err(ValidationError::new("invalid_header",
                    format!("header `{name}`: the value must be at most {HEADER_VALUE_MAX} bytes without control characters"),
                ));
            }
            Ok((lower, value))
        })
        .collect()
}

pub fn metadata(
    raw: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ValidationError> {
    let too_large = raw.len() > METADATA_KEYS_MAX
        || raw.iter().any(|(k, v)| {
            k.is_empty() || k.len() > METADATA_KEY_MAX || v.len() > METADATA_VALUE_MAX
        });
    if too_large {
        return Err(ValidationError::new("metadata_too_large",
            format!("metadata takes at most {METADATA_KEYS_MAX} keys of 1 to {METADATA_KEY_MAX} bytes with values of at most {METADATA_VALUE_MAX} bytes"),
        ));
    }
    Ok(raw)
}

pub fn description(raw: Option<String>) -> Result<String, ValidationError> {
    let text = raw.unwrap_or_default();
    if text.len() > DESCRIPTION_MAX {
        return Err(ValidationError::new(
            "invalid_description",
            format!("description must be at most {DESCRIPTION_MAX} bytes"),
        ));
    }
    Ok(text)
}

pub fn rate_limit(raw: Option<i64>) -> Result<Option<u32>, ValidationError> {
    match raw {
        None => Ok(None),
        Some(n) if (1..=RATE_LIMIT_MAX).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(ValidationError::new(
            "invalid_rate_limit",
            format!("rate_limit must be between 1 and {RATE_LIMIT_MAX} per second; got {n}"),
        )),
    }
}

pub fn url(raw: &str, policy: TargetPolicy) -> Result<String, ValidationError> {
    check_url(raw, policy).map(|url| url.to_string())
}

/// The raw fields of a create request, as the caller sent them.
#[derive(Debug, Clone, Default)]
pub struct EndpointFields {
    pub url: String,
    pub description: Option<String>,
    pub disabled: Option<bool>,
    pub filter_types: Option<Vec<String>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub rate_limit: Option<i64>,
    pub idempotency_key: Option<String>,
}

pub fn new_endpoint(
    raw: EndpointFields,
    policy: TargetPolicy,
) -> Result<NewEndpoint, ValidationError> {
    let idempotency_key = match raw.idempotency_key {
        Some(key) => Some(
            crate::kernel::IdempotencyKey::parse(&key)?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    Ok(NewEndpoint {
        url: url(&raw.url, policy)?,
        description: description(raw.description)?,
        disabled: raw.disabled.unwrap_or(false),
        filter_types: event_types(&raw.filter_types.unwrap_or_default())?,
        headers: headers(raw.headers.unwrap_or_default())?,
        metadata: metadata(raw.metadata.unwrap_or_default())?,
        rate_limit: rate_limit(raw.rate_limit)?,
        idempotency_key,
    })
}

/// A fresh signing secret: `whsec_` and 24 random bytes in base64, as Standard Webhooks uses.
/// The refusal of a business's endpoint beyond [`ENDPOINTS_MAX`].
pub fn too_many_endpoints() -> ValidationError {
    ValidationError::new(
        "too_many_endpoints",
        format!(
            "a business may register at most {ENDPOINTS_MAX} webhook endpoints; delete one first"
        ),
    )
}

pub fn generate_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The endpoint after a patch; the version rises.
pub fn patched(endpoint: &Endpoint, patch: &EndpointPatch, now: Timestamp) -> Endpoint {
    let mut next = endpoint.clone();
    if let Some(url) = &patch.url {
        next.url = url.clone();
    }
    if let Some(description) = &patch.description {
        next.description = description.clone();
    }
    if let Some(disabled) = patch.disabled {
        next.disabled = disabled;
    }
    if let Some(types) = &patch.filter_types {
        next.filter_types = types.clone();
    }
    if let Some(metadata) = &patch.metadata {
        next.metadata = metadata.clone();
    }
    if let Some(rate_limit) = patch.rate_limit {
        next.rate_limit = rate_limit;
    }
    if let Some(headers) = &patch.headers {
        next.headers.extend(headers.clone());
    }
    next.version += 1;
    next.updated_at = now;
    next.updated_by = crate::access::actor::current();
    next
}

/// Whether the endpoint's headers stay within the limit after a merge.
pub fn merged_headers_fit(
    endpoint: &Endpoint,
    added: &BTreeMap<String, String>,
) -> Result<(), ValidationError> {
    let count = endpoint
        .headers
        .keys()
        .chain(added.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if count > HEADERS_MAX {
        return Err(ValidationError::new(
            "too_many_headers",
            format!("at most {HEADERS_MAX} headers; the merge would make {count}"),
        ));
    }
    Ok(())
}

/// When the attempt after `attempts_made` failed ones is due, or `None` when none is left.
/// `jitter` in [-1, 1] moves the wait by up to a tenth, so failed receivers are not all retried
/// in the same second.
pub fn next_attempt_at(now: Timestamp, attempts_made: u32, jitter: f64) -> Option<Timestamp> {
    let wait_s = *RETRY_DELAYS_S.get(usize::try_from(attempts_made).ok()?.checked_sub(1)?)?;
    let wait_ms = (wait_s as f64 * 1_000.0 * (1.0 + jitter.clamp(-1.0, 1.0) / 10.0)) as u64;
    Some(Timestamp::from_unix_ms(now.unix_ms + wait_ms))
}

/// A uniform jitter in [-1, 1].
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0
}

/// When a delivery made now stops being kept, in seconds since the epoch (the TTL attribute).
pub fn expires_at_s(now: Timestamp) -> u64 {
    now.unix_ms / 1_000 + DELIVERY_LOG_DAYS * 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_then_stops() {
        let now = Timestamp::from_unix_ms(0);
        let waits: Vec<u64> = (1..ATTEMPTS_MAX)
            .map(|n| next_attempt_at(now, n, 0.0).unwrap().unix_ms / 1_000)
            .collect();
        assert_eq!(waits, RETRY_DELAYS_S);
        let total: u64 = waits.iter().sum();
        assert!((3 * 86_400..4 * 86_400).contains(&total), "{total} s");
        assert_eq!(next_attempt_at(now, ATTEMPTS_MAX, 0.0), None);
        assert_eq!(next_attempt_at(now, 0, 0.0), None);
    }

    #[test]
    fn jitter_moves_a_wait_by_at_most_a_tenth() {
        let now = Timestamp::from_unix_ms(0);
        assert_eq!(next_attempt_at(now, 2, 1.0).unwrap().unix_ms, 330_000);
        assert_eq!(next_attempt_at(now, 2, -1.0).unwrap().unix_ms, 270_000);
        for _ in 0..100 {
            assert!((-1.0..=1.0).contains(&random_jitter()));
        }
    }

    #[test]
    fn bad_fields_are_refused_with_their_code() {
        let policy = TargetPolicy {
            allow_private: false,
        };
        let ok = EndpointFields {
            url: "https://example.com/hooks".into(),
            ..Default::default()
        };
        assert!(new_endpoint(ok.clone(), policy).is_ok());
        let code = |fields: EndpointFields| new_endpoint(fields, policy).unwrap_err().code;
        assert_eq!(
            code(EndpointFields {
                filter_types: Some(vec!["nope.nope".into()]),
                ..ok.clone()
            }),
            "unknown_event_type"
        );
        let many: BTreeMap<String, String> =
            (0..21).map(|i| (format!("x-h{i}"), "v".into())).collect();
        assert_eq!(
            code(EndpointFields {
                headers: Some(many),
                ..ok.clone()
            }),
            "too_many_headers"
        );
        let reserved = BTreeMap::from([("Webhook-Signature".to_owned(), "v1,x".to_owned())]);
        assert_eq!(
            code(EndpointFields {
                headers: Some(reserved),
                ..ok.clone()
            }),
            "invalid_header"
        );
        let big: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            code(EndpointFields {
                metadata: Some(big),
                ..ok.clone()
            }),
            "metadata_too_large"
        );
        assert_eq!(
            code(EndpointFields {
                rate_limit: Some(0),
                ..ok.clone()
            }),
            "invalid_rate_limit"
        );
        assert_eq!(
            code(EndpointFields {
                url: "not a url".into(),
                ..ok
            }),
            "invalid_url"
        );
    }

    #[test]
    fn a_secret_is_whsec_and_24_bytes() {
        use base64::Engine;
        let secret = generate_secret();
        let raw = secret.strip_prefix("whsec_").unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap()
                .len(),
            24
        );
        assert_ne!(secret, generate_secret());
    }
}
