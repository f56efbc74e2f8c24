//! The browser's side of a session: the cookie that holds only the session id, the sign-in
//! form's own anti-forgery cookie, and the checks every page makes (signed in; the form's CSRF
//! token; the key's scope for changes).

use lambda_http::Request;
use shared::access::sessions::{SignedIn, SESSION_IDLE_MS};
use shared::kernel::Clock;
use shared::ports::Store;
use shared::Service;

use crate::forms::Fields;
use crate::respond::PageError;

/// The session cookie: HttpOnly, SameSite=Strict, path `/dashboard`, Secure except on loopback.
pub const SESSION_COOKIE: &str = "cw_session";
/// The sign-in form's double-submit cookie (there is no session yet to hold a token).
pub const SIGN_IN_COOKIE: &str = "cw_sign_in";
/// The form field of every state-changing form that carries the session's token.
pub const CSRF_FIELD: &str = "csrf_token";

/// The value of cookie `name`, from every `Cookie` header of the request.
pub fn cookie<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came to a loopback host (the local run, plain HTTP): only there may a
/// cookie lack `Secure`.
pub(crate) fn on_loopback(request: &Request) -> bool {
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

/// A `Set-Cookie` value for `name`, living `max_age_s` (0: deletes it).
pub fn set_cookie(request: &Request, name: &str, value: &str, max_age_s: u64) -> String {
    let secure = if on_loopback(request) { "" } else { "; Secure" };
    format!(
        "{name}={value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    )
}

/// The session cookie for a new session.
pub fn session_cookie(request: &Request, session_id: &str) -> String {
    set_cookie(request, SESSION_COOKIE, session_id, SESSION_IDLE_MS / 1_000)
}

/// The open session of the request, or [`PageError::SignIn`] (back to this page afterwards).
pub async fn signed_in<S: Store, C: Clock>(
    app: &Service<S, C>,
    request: &Request,
) -> Result<SignedIn, PageError> {
    match app.session(cookie(request, SESSION_COOKIE)).await {
        Ok(signed_in) => Ok(signed_in),
        Err(shared::DomainError::Unauthenticated) => Err(PageError::SignIn {
            next: back_to(request),
        }),
        Err(other) => Err(other.into()),
    }
}

/// Where to come back after signing in: this page if it is a dashboard page read with GET.
fn back_to(request: &Request) -> String {
    let uri = request.uri();
    if request.method() == "GET" && uri.path().starts_with("/dashboard") {
        uri.path_and_query()
            .map_or("/dashboard", |p| p.as_str())
            .to_owned()
    } else {
        "/dashboard".to_owned()
    }
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The form's CSRF token must be the session's: 403 otherwise, before anything is read or
/// changed.
pub fn check_csrf(fields: &Fields, signed_in: &SignedIn) -> Result<(), PageError> {
    match fields.get(CSRF_FIELD) {
        Some(token) if same_token(token, &signed_in.session.csrf_token) => Ok(()),
        _ => Err(PageError::Forbidden(
            "this form has expired or did not come from this dashboard: reload the page and try again".into(),
        )),
    }
}

/// The actor of a change made in this session: its key, the session and the invocation.
pub fn actor(signed_in: &SignedIn, request: &Request) -> shared::access::model::Actor {
    let request_id = lambda_http::ext::extensions::RequestExt::lambda_context_ref(request)
        .map(|c| c.request_id.clone());
    let mut actor = shared::access::operations::key_actor(&signed_in.key, request_id);
    actor.session_id = Some(signed_in.session.label());
    actor
}

/// A change needs a key of scope `full`: 403 `insufficient_scope` for a read-only key, the
/// API's own rule (`permit_change`).
pub fn check_may_change(signed_in: &SignedIn) -> Result<(), PageError> {
    shared::access::operations::permit_change(signed_in.key.scope).map_err(PageError::from)
}
