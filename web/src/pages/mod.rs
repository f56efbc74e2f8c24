//! Page handlers, one module per family. Each reads the session (or sends the browser to sign
//! in), checks a form's CSRF token before anything else, calls the same domain operations as
//! the API, and answers a page or a redirect.

pub mod customer;
pub mod customer_actions;
pub mod customers;
pub mod keys;
pub mod payins;
pub mod reports;
pub mod session;
pub mod settings;
pub mod webhook_log;
pub mod webhooks;

#[cfg(test)]
#[path = "test_support.rs"]
pub(crate) mod test_support;

use lambda_http::{Body, Request, Response};
use shared::access::sessions::SignedIn;
use shared::kernel::Clock;
use shared::ports::Store;
use shared::Service;

use crate::forms::Fields;
use crate::respond::{Answer, PageError};
use crate::table::{Page, Params};

/// A refused form shown on its own page again: the message, what was typed, and the status
/// the API would answer.
pub struct Failure<'a> {
    pub status: lambda_http::http::StatusCode,
    pub message: String,
    pub typed: &'a Fields,
}

impl<'a> Failure<'a> {
    /// The failure of a refused form, or the error itself when it is not the form's to show
    /// (no session, a forged form or a read-only key, a page that does not exist): those answer
    /// pages of their own.
    pub fn of(error: PageError, typed: &'a Fields) -> Result<Failure<'a>, PageError> {
        if matches!(
            error,
            PageError::SignIn { .. } | PageError::Forbidden(_) | PageError::NotFound
        ) {
            return Err(error);
        }
        let (status, _, message) = error.explain();
        Ok(Failure {
            status,
            message,
            typed,
        })
    }
}

/// What a page handler gets.
pub struct Cx<'a, S, C> {
    pub app: &'a Service<S, C>,
    pub request: &'a Request,
    pub params: &'a Params,
}

impl<S: Store, C: Clock> Cx<'_, S, C> {
    /// A path parameter the page's template names.
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).unwrap_or("")
    }

    pub async fn signed_in(&self) -> Result<SignedIn, PageError> {
        crate::session::signed_in(self.app, self.request).await
    }

    /// The session and `read`'s data, read at once: `read` runs for the business the session
    /// cookie claims while the session is read, and its answer is used only when the session
    /// proves that business (a session error comes first, so nothing of a claimed business is
    /// shown, not even its errors). A list page thus costs one round trip, not two.
    pub async fn signed_in_with<T, F, Fut>(&self, read: F) -> Result<(SignedIn, T), PageError>
    where
        F: FnOnce(shared::access::model::Tenant) -> Fut,
        Fut: std::future::Future<Output = shared::DomainResult<T>>,
    {
        let cookie = crate::session::cookie(self.request, crate::session::SESSION_COOKIE);
        let Some(business_id) = shared::access::sessions::claimed_business(cookie) else {
            return Err(self.signed_in().await.err().unwrap_or(PageError::NotFound));
        };
        let claimed = shared::access::model::Tenant { business_id };
        let (signed_in, data) = futures_util::future::join(self.signed_in(), read(claimed)).await;
        let signed_in = signed_in?;
        Ok((signed_in, data?))
    }

    /// For a form that changes something: the session, the form with its CSRF token checked,
    /// and the key's right to change (a read-only key may look, never change).
    pub async fn change(&self) -> Result<(SignedIn, Fields), PageError> {
        let signed_in = self.signed_in().await?;
        let fields = crate::forms::form(self.request)?;
        crate::session::check_csrf(&fields, &signed_in)?;
        crate::session::check_may_change(&signed_in)?;
        Ok((signed_in, fields))
    }

    /// Runs `work` as the session's actor (the key and the session in `created_by`).
    pub async fn acting<F: std::future::Future>(&self, signed_in: &SignedIn, work: F) -> F::Output {
        shared::access::actor::acting(crate::session::actor(signed_in, self.request), work).await
    }
}

/// The answer to one page request; every error becomes a page (or the sign-in redirect).
pub async fn answer<S: Store, C: Clock>(
    app: &Service<S, C>,
    page: Page,
    params: Params,
    request: &Request,
) -> Response<Body> {
    let cx = Cx {
        app,
        request,
        params: &params,
    };
    let answer: Answer = match page {
        Page::SignInForm => boxed(session::form(&cx)).await,
        Page::SignIn => boxed(session::sign_in(&cx)).await,
        Page::SignOut => boxed(session::sign_out(&cx)).await,
        Page::Asset => asset(&cx),
        Page::Home => Ok(crate::respond::redirect("/dashboard/customers")),
        Page::Customers => boxed(customers::list(&cx)).await,
        Page::CreateCustomer => boxed(customers::create(&cx)).await,
        Page::Customer => boxed(customer::show(&cx)).await,
        Page::UpdateProfile => boxed(customer_actions::update_profile(&cx)).await,
        Page::Adjust => boxed(customer_actions::adjust(&cx)).await,
        Page::CaptureHold => boxed(customer_actions::capture_hold(&cx)).await,
        Page::ReleaseHold => boxed(customer_actions::release_hold(&cx)).await,
        Page::InvoicePayment => boxed(customer::invoice_payment(&cx)).await,
        Page::ReverseInvoicePayment => boxed(customer_actions::reverse_invoice_payment(&cx)).await,
        Page::CloseForm => boxed(customer::close_form(&cx)).await,
        Page::Close => boxed(customer_actions::close(&cx)).await,
        Page::TopUps => boxed(payins::show(&cx)).await,
        Page::CreatePortalSession => boxed(payins::create_portal_session(&cx)).await,
        Page::RevokePortalSessions => boxed(payins::revoke_portal_sessions(&cx)).await,
        Page::CreateTopUpLink => boxed(payins::create_link(&cx)).await,
        Page::CancelTopUpLink => boxed(payins::cancel_link(&cx)).await,
        Page::Settings => boxed(settings::show(&cx)).await,
        Page::UpdateSettings => boxed(settings::update(&cx)).await,
        Page::Webhooks => boxed(webhooks::list(&cx)).await,
        Page::CreateWebhook => boxed(webhooks::create(&cx)).await,
        Page::Webhook => boxed(webhooks::show(&cx)).await,
        Page::UpdateWebhook => boxed(webhooks::update(&cx)).await,
        Page::DeleteWebhook => boxed(webhooks::delete(&cx)).await,
        Page::RevealSecret => boxed(webhooks::reveal_secret(&cx)).await,
        Page::Delivery => boxed(webhooks::delivery(&cx)).await,
        Page::Resend => boxed(webhooks::resend(&cx)).await,
        Page::Liability => boxed(reports::liability(&cx)).await,
        Page::Statement => boxed(reports::statement(&cx)).await,
        Page::Keys => boxed(keys::list(&cx)).await,
        Page::CreateKey => boxed(keys::create(&cx)).await,
        Page::RotateKey => boxed(keys::rotate(&cx)).await,
        Page::RevokeKey => boxed(keys::revoke(&cx)).await,
        Page::PortalSession
        | Page::PortalHome
        | Page::AddFunds
        | Page::StartTopUp
        | Page::TopUp
        | Page::PayLink
        | Page::PayLinkSubmit => {
            // The portal's pages answer their own errors (never the dashboard's sign-in) and
            // carry their own policy.
            return Box::pin(crate::portal::answer(app, app, page, &params, request)).await;
        }
    };
    answer.unwrap_or_else(PageError::into_response)
}

/// A handler's future on the heap: the page's future then holds one pointer, not the largest of
/// every handler's futures (which overflowed a debug build's stack once the pages grew).
fn boxed<'a>(
    answer: impl std::future::Future<Output = Answer> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send + 'a>> {
    Box::pin(answer)
}

fn asset<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let asset = crate::assets::named(cx.param("file")).ok_or(PageError::NotFound)?;
    Ok(crate::respond::asset(asset.content_type, asset.bytes))
}
