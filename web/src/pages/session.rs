//! Signing in with an API key, and out. The sign-in form has no session to hold its CSRF token,
//! so it uses a double-submit cookie (SameSite=Strict, HttpOnly) that the form must match. The
//! key goes from the form to the server once; the browser keeps only the session id cookie.

use maud::html;
use shared::kernel::Clock;
use shared::ports::Store;

use super::Cx;
use crate::layout;
use crate::respond::{page_response, redirect_with, Answer, PageError};
use crate::session::{
    cookie, same_token, session_cookie, set_cookie, SESSION_COOKIE, SIGN_IN_COOKIE,
};

/// Where to go after signing in: a dashboard path only (never another site).
fn next_of(raw: Option<&str>) -> String {
    match raw {
        Some(next)
            if next.starts_with("/dashboard")
                && !next.starts_with("//")
                && !next.contains('\\') =>
        {
            next.to_owned()
        }
        _ => "/dashboard/customers".to_owned(),
    }
}

fn sign_in_page<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    next: &str,
    error: Option<&str>,
    status: lambda_http::http::StatusCode,
) -> Answer {
    let token = shared::access::rules::random_hex(32);
    let body = html! {
        h1 { "Sign in" }
        p { "Sign in with one of your business's API keys. The key is sent once; your browser keeps only a session cookie." }
        (layout::form_error(error))
        form.stack method="post" action="/dashboard/sign-in" {
            input type="hidden" name="sign_in_token" value=(token);
            input type="hidden" name="next" value=(next);
            label { "API key"
                input type="password" name="api_key" autocomplete="off" required
                    aria-describedby="key-help" spellcheck="false";
            }
            small #key-help .muted { "Starts with cw_. A read-only key can look but not change anything." }
            button type="submit" { "Sign in" }
        }
    };
    let mut response = page_response(status, layout::bare("Sign in", body));
    response.headers_mut().append(
        "set-cookie",
        set_cookie(cx.request, SIGN_IN_COOKIE, &token, 3_600)
            .parse()
            .expect("cookie header"),
    );
    Ok(response)
}

pub async fn form<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let query = crate::forms::query(cx.request);
    let next = next_of(query.get("next"));
    sign_in_page(cx, &next, None, lambda_http::http::StatusCode::OK)
}

pub async fn sign_in<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let fields = crate::forms::form(cx.request)?;
    let next = next_of(fields.get("next"));
    let matched = match (
        fields.get("sign_in_token"),
        cookie(cx.request, SIGN_IN_COOKIE),
    ) {
        (Some(sent), Some(kept)) => same_token(sent, kept),
        _ => false,
    };
    if !matched {
        return Err(PageError::Forbidden(
            "the sign-in form has expired: reload the page and sign in again".into(),
        ));
    }
    match cx.app.sign_in(fields.get("api_key")).await {
        Ok((session_id, _)) => Ok(redirect_with(
            &next,
            &[
                ("set-cookie", session_cookie(cx.request, &session_id)),
                ("set-cookie", set_cookie(cx.request, SIGN_IN_COOKIE, "", 0)),
            ],
        )),
        Err(shared::DomainError::Unauthenticated) => sign_in_page(
            cx,
            &next,
            Some("That key does not open this dashboard: it is unknown, revoked or expired."),
            lambda_http::http::StatusCode::UNAUTHORIZED,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn sign_out<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    // A session that is already gone signs out quietly; a live one needs its token.
    if let Ok(signed_in) = cx.signed_in().await {
        let fields = crate::forms::form(cx.request)?;
        crate::session::check_csrf(&fields, &signed_in)?;
        cx.app.sign_out(cookie(cx.request, SESSION_COOKIE)).await?;
    }
    Ok(redirect_with(
        "/dashboard/sign-in",
        &[("set-cookie", set_cookie(cx.request, SESSION_COOKIE, "", 0))],
    ))
}
