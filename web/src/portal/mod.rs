//! The customer portal (issue 21): a customer's own pages, opened by a signed link, not by an
//! API key. `GET /portal/session?token=` checks the token (`open_portal`) and moves it into an
//! HttpOnly cookie `cw_portal`, then sends the browser to the clean `/portal`, so the token
//! never stays in the address bar, the history or a Referer. Every portal page re-checks the
//! cookie's token (expired or revoked ends the session at once), reads only that customer's data,
//! and answers 404 for any id that is not theirs. Forms carry a CSRF token derived from the
//! cookie and their own idempotency key (the top-up id); attempts are rate-limited per customer
//! and per link. The pages' policy adds only Stripe to the dashboard's ([`stripe`]).
//!
//! The domain operations come through [`backend::PortalBackend`] (the service in `glue.rs`).

pub mod backend;
mod glue;
mod pages;
mod pay;
pub mod stripe;
mod view;

#[cfg(test)]
mod tests;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use maud::html;
use sha2::{Digest, Sha256};
use shared::kernel::Clock;
use shared::ports::Store;
use shared::{DomainError, Service};

use crate::respond::{page_response, PageError};
use crate::table::{Page, Params};
use backend::{PortalBackend, PortalClaims};

/// The portal's session cookie: the signed token itself (HttpOnly, SameSite=Lax so that the
/// link from a mail opens it, Path=/, Secure except on loopback), living as long as the token.
pub const PORTAL_COOKIE: &str = "cw_portal";
/// The link page's double-submit cookie (a link page has no session).
pub const PAY_COOKIE: &str = "cw_pay";

/// Top-ups a customer may start per hour (portal and links together).
pub const TOP_UPS_PER_CUSTOMER_HOUR: u32 = 10;
/// Top-ups one link may see started per hour.
pub const TOP_UPS_PER_LINK_HOUR: u32 = 5;
/// Card forms (SetupIntents made at the gateway) a customer or a link may open per hour.
pub const CARD_FORMS_PER_HOUR: u32 = 30;
const HOUR_S: u64 = 3_600;

/// Why a portal page could not be shown.
#[derive(Debug)]
pub enum PortalError {
    /// No portal session, or its token is bad, expired or revoked (never says which).
    SessionInvalid,
    Page(PageError),
}

impl From<PageError> for PortalError {
    fn from(error: PageError) -> PortalError {
        PortalError::Page(error)
    }
}

impl From<DomainError> for PortalError {
    fn from(error: DomainError) -> PortalError {
        match error.code() {
            "portal_session_invalid" => PortalError::SessionInvalid,
            _ => PortalError::Page(PageError::from(error)),
        }
    }
}

impl From<shared::ValidationError> for PortalError {
    fn from(error: shared::ValidationError) -> PortalError {
        PortalError::from(DomainError::from(error))
    }
}

/// What a portal handler answers.
pub type PortalAnswer = Result<Response<Body>, PortalError>;

/// What a portal handler gets.
pub struct Pcx<'a, S, C, B> {
    pub app: &'a Service<S, C>,
    pub backend: &'a B,
    pub request: &'a Request,
    pub params: &'a Params,
}

impl<S: Store, C: Clock, B: PortalBackend> Pcx<'_, S, C, B> {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or("")
    }

    /// The portal session of the cookie: whose portal this is.
    pub async fn claims(&self) -> Result<(PortalClaims, String), PortalError> {
        let token = crate::session::cookie(self.request, PORTAL_COOKIE)
            .filter(|t| token_shaped(t))
            .ok_or(PortalError::SessionInvalid)?;
        let claims = self.backend.open_portal(token).await?;
        Ok((claims, csrf_token(token)))
    }

    /// For a form: the session, and the form with its CSRF token checked before anything else.
    pub async fn change(&self) -> Result<(PortalClaims, crate::forms::Fields), PortalError> {
        let (claims, csrf) = self.claims().await?;
        let fields = crate::forms::form(self.request)?;
        check_token(&fields, &csrf)?;
        Ok((claims, fields))
    }
}

/// Whether a token may go into a cookie as it is (base64url, dots; bounded).
pub fn token_shaped(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= shared::portal::tokens::TOKEN_LENGTH_MAX
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// The CSRF token of a portal session: derived from its cookie's token, which a page of another
/// site can neither read nor guess.
pub fn csrf_token(token: &str) -> String {
    let digest = Sha256::digest(format!("cw_portal csrf\n{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The form's CSRF token must be `expected`: 403 otherwise.
pub fn check_token(fields: &crate::forms::Fields, expected: &str) -> Result<(), PortalError> {
    match fields.get(crate::session::CSRF_FIELD) {
        Some(sent) if crate::session::same_token(sent, expected) => Ok(()),
        _ => Err(forbidden()),
    }
}

/// A form that did not come from this page: 403, before anything is read or changed.
pub fn forbidden() -> PortalError {
    PortalError::Page(PageError::Forbidden(
        "this form has expired or did not come from this page: reload the page and try again"
            .into(),
    ))
}

/// A `Set-Cookie` of the portal's cookie (`max_age_s` 0 deletes it).
pub fn portal_cookie(request: &Request, value: &str, max_age_s: u64) -> String {
    let secure = if crate::session::on_loopback(request) {
        ""
    } else {
        "; Secure"
    };
    format!("{PORTAL_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// A `Set-Cookie` of a link page's double-submit cookie.
pub fn pay_cookie(request: &Request, value: &str) -> String {
    let secure = if crate::session::on_loopback(request) {
        ""
    } else {
        "; Secure"
    };
    format!("{PAY_COOKIE}={value}; Path=/pay; HttpOnly; SameSite=Strict; Max-Age=3600{secure}")
}

/// The answer to one portal page, with the portal's policy; every error is a page.
pub async fn answer<S: Store, C: Clock, B: PortalBackend>(
    app: &Service<S, C>,
    backend: &B,
    page: Page,
    params: &Params,
    request: &Request,
) -> Response<Body> {
    let cx = Pcx {
        app,
        backend,
        request,
        params,
    };
    let answer = match page {
        Page::PortalSession => Box::pin(pages::open(&cx)).await,
        Page::PortalHome => Box::pin(pages::home(&cx)).await,
        Page::AddFunds => Box::pin(pages::add_funds(&cx)).await,
        Page::StartTopUp => Box::pin(pages::start_top_up(&cx)).await,
        Page::TopUp => Box::pin(pages::top_up(&cx)).await,
        Page::PayLink => Box::pin(pay::show(&cx)).await,
        Page::PayLinkSubmit => Box::pin(pay::submit(&cx)).await,
        _ => Err(PortalError::Page(PageError::NotFound)),
    };
    let mut response = answer.unwrap_or_else(|e| error_page(request, e));
    let policy = stripe::STRIPE_JS.content_security_policy();
    response.headers_mut().insert(
        "content-security-policy",
        policy.parse().expect("the policy is a valid header value"),
    );
    response
}

/// An error as a portal page (never the dashboard's sign-in).
fn error_page(request: &Request, error: PortalError) -> Response<Body> {
    match error {
        PortalError::SessionInvalid => {
            let body = html! {
                h1 { "This link has expired" }
                p role="alert" { "This portal link is no longer valid: it has expired, was replaced, or was not copied whole. Ask the business for a new link." }
            };
            let mut response = page_response(
                StatusCode::UNAUTHORIZED,
                view::page("Link expired", None, body, &[]),
            );
            response.headers_mut().append(
                "set-cookie",
                portal_cookie(request, "", 0)
                    .parse()
                    .expect("cookie header"),
            );
            response
        }
        PortalError::Page(PageError::SignIn { .. }) => {
            error_page(request, PortalError::SessionInvalid)
        }
        PortalError::Page(error) => {
            let (status, code, message) = error.explain();
            let body = html! {
                h1 { (if status == StatusCode::NOT_FOUND { "Not found" } else { "Something is not right" }) }
                p.error role="alert" { (message.replace('`', "")) }
                p { small { "Code: " code { (code) } } }
                p { a href="/portal" { "Back to your wallets" } }
            };
            page_response(status, view::page("Error", None, body, &[]))
        }
    }
}

/// A scope of `take_attempt`: one counter per kind and subject.
fn scope(kind: &str, subject: &str) -> String {
    format!("portal:{kind}:{subject}")
}

/// Takes one attempt of each scope (per customer, per link), or answers `rate_limited`.
async fn attempt<B: PortalBackend>(
    backend: &B,
    scopes: &[(String, u32)],
) -> Result<(), PortalError> {
    for (scope, limit) in scopes {
        backend.take_attempt(scope, *limit, HOUR_S).await?;
    }
    Ok(())
}
