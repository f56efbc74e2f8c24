//! What the page handler tests share: a service on the in-memory store, a signed-in session,
//! and requests made by hand as a browser sends them (the session cookie, a form body).

use lambda_http::{Body, Request, Response};
use shared::access::model::Tenant;
use shared::adapters::memory::{FixedClock, MemoryStore};
use shared::Service;

pub type App = Service<MemoryStore, FixedClock>;

pub fn app() -> App {
    app_and_clock().0
}

/// [`app`] and its clock, to move it.
pub fn app_and_clock() -> (App, FixedClock) {
    let clock = FixedClock::at(1_764_000_000_000);
    let config = shared::config::Config::build("t".into(), None, "USD,EUR", None).expect("config");
    (
        Service::new(MemoryStore::new(), clock.clone(), config),
        clock,
    )
}

/// [`app`] whose webhooks may target this machine (as `WEBHOOKS_ALLOW_PRIVATE=true` runs).
pub fn app_allowing_private_targets() -> App {
    let clock = FixedClock::at(1_764_000_000_000);
    let mut config =
        shared::config::Config::build("t".into(), None, "USD,EUR", None).expect("config");
    config.webhook_targets.allow_private = true;
    Service::new(MemoryStore::new(), clock, config)
}

/// A business signed in with its first key.
pub struct Browser {
    pub tenant: Tenant,
    pub session_id: String,
    pub csrf: String,
}

pub async fn signed_in(app: &App) -> Browser {
    let (business_id, key) = app.create_business("Shop").await.unwrap();
    let (session_id, session) = app.sign_in(Some(&key)).await.unwrap();
    Browser {
        tenant: Tenant { business_id },
        session_id,
        csrf: session.csrf_token,
    }
}

fn signed_request(browser: &Browser, method: &str, path: &str, body: Body) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost:3000")
        .header("cookie", format!("cw_session={}", browser.session_id))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap()
}

pub async fn get(app: &App, browser: &Browser, path: &str) -> Response<Body> {
    crate::handle(app, signed_request(browser, "GET", path, Body::Empty)).await
}

/// A form as sent, in order (without the CSRF token unless `fields` has it).
pub async fn post(
    app: &App,
    browser: &Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> Response<Body> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let body = Body::from(form.finish());
    crate::handle(app, signed_request(browser, "POST", path, body)).await
}

pub fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

pub fn location(response: &Response<Body>) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
}

/// The host the tests' requests name (loopback: cookies without `Secure`).
pub const HOST: &str = "127.0.0.1:9000";

/// A request as a browser sends it to [`HOST`], with a cookie header and a form body if given.
pub fn request(method: &str, path: &str, cookie: Option<&str>, form: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    if form.is_some() {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    builder
        .body(form.map_or(Body::Empty, |f| Body::from(f.to_owned())))
        .unwrap()
}

pub const SCRIPT: &str = "<script>alert(1)</script>";
pub const SCRIPT_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

/// A form key as the pages make them.
pub fn form_key(n: u8) -> String {
    format!("form_{}", format!("{n:02x}").repeat(16))
}
