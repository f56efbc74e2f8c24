//! Reading a request: the API key, the JSON body, path and query parameters, each parsed into a
//! domain value or refused with a clear 4xx.

use lambda_http::http::StatusCode;
use lambda_http::RequestExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::paging::PageRequest;
use shared::kernel::{Currency, CustomerId, HoldId, InvoiceId, Timestamp};
use shared::DomainError;

use super::errors::ApiError;

pub use lambda_http::Request;

/// Largest request body accepted, in bytes.
pub const BODY_LENGTH_MAX: usize = 64 * 1024;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(request: &Request) -> Option<&str> {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// The JSON object body as `T`.
pub fn body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    body_up_to(request, BODY_LENGTH_MAX)
}

/// The JSON object body as `T`, when at most `length_max` bytes (a batch's bodies are longer).
pub fn body_up_to<T: DeserializeOwned>(
    request: &Request,
    length_max: usize,
) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > length_max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body must be at most {length_max} bytes"),
        ));
    }
    // serde would also read a struct from an array of its fields in order: only `{` may start.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid(
            "invalid_body",
            "request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid("invalid_body", format!("request body is not valid: {e}")))
}

/// A body that may be left out entirely (then every field takes its default).
pub fn optional_body<T: DeserializeOwned + Default>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    body(request)
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn path_parameter(request: &Request, name: &str) -> String {
    request
        .path_parameters()
        .first(name)
        .map(percent_decode)
        .unwrap_or_default()
}

/// The path's customer id; one that cannot exist answers 404 like any unknown id.
pub fn customer_id(request: &Request) -> Result<CustomerId, ApiError> {
    let raw = path_parameter(request, "customer_id");
    CustomerId::parse(&raw).map_err(|_| DomainError::CustomerNotFound(raw).into())
}

/// The path's hold id; one that cannot exist answers 404.
pub fn hold_id(request: &Request) -> Result<HoldId, ApiError> {
    let raw = path_parameter(request, "hold_id");
    HoldId::parse(&raw).map_err(|_| DomainError::HoldNotFound(raw).into())
}

/// The path's invoice id; one that cannot exist answers 404.
pub fn invoice_id(request: &Request) -> Result<InvoiceId, ApiError> {
    let raw = path_parameter(request, "invoice_id");
    InvoiceId::parse(&raw).map_err(|_| DomainError::InvoicePaymentNotFound(raw).into())
}

pub fn query(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters()
        .first(name)
        .map(str::to_owned)
}

/// A query parameter the route cannot do without: 400 `missing_query` when absent.
pub fn required_query(request: &Request, name: &str) -> Result<String, ApiError> {
    query(request, name)
        .ok_or_else(|| ApiError::invalid("missing_query", format!("`{name}` is required")))
}

/// A required RFC 3339 instant (a period's `from` or `to`), rounded up to the millisecond.
pub fn instant_query(request: &Request, name: &str) -> Result<Timestamp, ApiError> {
    let raw = required_query(request, name)?;
    Ok(Timestamp::from_unix_ms(parse_instant(
        name,
        &raw,
        Round::Up,
    )?))
}

/// `page_size` as an integer, `default` when absent (its bounds are the operation's to check).
pub fn page_size_query(request: &Request, default: u64) -> Result<u64, ApiError> {
    match query(request, "page_size") {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| {
            ApiError::invalid(
                "invalid_query",
                format!("`page_size` must be an integer; got `{raw}`"),
            )
        }),
    }
}

/// Whether a paged report answers CSV: `format=csv`, or no `format` and an `Accept` naming
/// `text/csv`; `format=<other>` names the route's other form (`json`, `jsonl`).
pub fn wants_csv(request: &Request, other: &str) -> Result<bool, ApiError> {
    match query(request, "format").as_deref() {
        Some("csv") => Ok(true),
        Some(format) if format == other => Ok(false),
        Some(format) => Err(ApiError::invalid(
            "invalid_query",
            format!("`format` must be `{other}` or `csv`; got `{format}`"),
        )),
        None => Ok(request
            .headers()
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/csv"))),
    }
}

fn integer(request: &Request, name: &'static str) -> Result<Option<i64>, ApiError> {
    query(request, name)
        .map(|raw| {
            raw.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "invalid_query",
                    format!("`{name}` must be an integer; got `{raw}`"),
                )
            })
        })
        .transpose()
}

/// `page_number` and `page_size`.
pub fn page(request: &Request) -> Result<PageRequest, ApiError> {
    Ok(PageRequest::parse(
        integer(request, "page_number")?,
        integer(request, "page_size")?,
    )?)
}

/// The `currency` filter.
pub fn currency(request: &Request) -> Result<Option<Currency>, ApiError> {
    Ok(query(request, "currency")
        .map(|c| Currency::parse(&c))
        .transpose()?)
}

/// For `#[serde(default, deserialize_with = ...)]` on an `Option<Option<T>>` body field:
/// distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `https://<domain>` of an API Gateway request: the API's own address (links use it when
/// `PUBLIC_BASE_URL` is not set).
pub fn origin(request: &crate::http::Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .domain_name
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(|d| format!("https://{d}")),
        _ => None,
    }
}
