//! Every answer of the dashboard: HTML with the security headers, redirects, and errors as pages.
//! The status and message of a domain error come from the API's one mapping
//! (`api::http::ApiError`), so a page says what the API would.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use maud::{html, Markup};
use shared::DomainError;

use crate::layout;

/// The Content-Security-Policy of every page: only this origin's scripts, styles, images and
/// forms; no framing, no plugins, no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// What a page handler answers.
pub type Answer = Result<Response<Body>, PageError>;

/// Why a page could not be shown as asked.
#[derive(Debug)]
pub enum PageError {
    /// No open session: go and sign in (then come back to `next`).
    SignIn {
        next: String,
    },
    /// A form without this session's token, or a change asked with a read-only key.
    Forbidden(String),
    NotFound,
    /// What the domain refused, with the API's status, code and message.
    Domain(api::http::ApiError),
}

impl From<DomainError> for PageError {
    fn from(error: DomainError) -> PageError {
        match error {
            DomainError::Unauthenticated => PageError::SignIn {
                next: "/dashboard".to_owned(),
            },
            other => PageError::Domain(other.into()),
        }
    }
}

impl From<shared::ValidationError> for PageError {
    fn from(error: shared::ValidationError) -> PageError {
        PageError::from(DomainError::from(error))
    }
}

impl PageError {
    /// The status, code and message a person sees.
    pub fn explain(&self) -> (StatusCode, &'static str, String) {
        match self {
            PageError::SignIn { .. } => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "sign in first".into(),
            ),
            PageError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message.clone()),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "there is no such page".into(),
            ),
            PageError::Domain(api) => (api.status, api.code, api.message.clone()),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        if let PageError::SignIn { next } = &self {
            let to = format!(
                "/dashboard/sign-in?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return redirect(&to);
        }
        let (status, code, message) = self.explain();
        let body = html! {
            h1 { "Something is not right" }
            // The API's words quote names in backticks; a page shows them plain.
            p.error role="alert" { (message.replace('`', "")) }
            p { small { "Code: " code { (code) } } }
            p { a href="/dashboard/customers" { "Back to customers" } }
        };
        page_response(status, layout::bare("Error", body))
    }
}

/// The headers every dashboard answer carries.
fn secured(builder: lambda_http::http::response::Builder) -> lambda_http::http::response::Builder {
    builder
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header("referrer-policy", "no-referrer")
        .header("cross-origin-opener-policy", "same-origin")
}

/// A page with `status`; never cached (it shows money and is per session).
pub fn page_response(status: StatusCode, markup: Markup) -> Response<Body> {
    secured(Response::builder())
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .body(Body::from(markup.into_string()))
        .expect("static headers are valid")
}

/// A 200 page.
pub fn page(markup: Markup) -> Answer {
    Ok(page_response(StatusCode::OK, markup))
}

/// A 303 to `location` (after a form: the browser then GETs it, so a reload does not post
/// again).
pub fn redirect(location: &str) -> Response<Body> {
    secured(Response::builder())
        .status(StatusCode::SEE_OTHER)
        .header("location", location)
        .header("cache-control", "no-store")
        .body(Body::Empty)
        .expect("a redirect's headers are valid")
}

/// [`redirect`] with extra headers (cookies).
pub fn redirect_with(location: &str, headers: &[(&str, String)]) -> Response<Body> {
    let mut response = redirect(location);
    for (name, value) in headers {
        response.headers_mut().append(
            lambda_http::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    response
}

pub fn not_found() -> Response<Body> {
    PageError::NotFound.into_response()
}

/// An asset: immutable under its hashed name.
pub fn asset(content_type: &str, bytes: &'static [u8]) -> Response<Body> {
    secured(Response::builder())
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("cache-control", "public, max-age=31536000, immutable")
        .body(Body::from(bytes))
        .expect("static headers are valid")
}
