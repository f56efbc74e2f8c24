//! The merchant dashboard: HTML pages under `/dashboard`, rendered on the server from the same
//! domain operations as the API (there is no second path to the ledger). One Lambda function per
//! page family (`functions/dashboard-<family>/`: `web::serve(web::Family::Customers)`), each
//! page listed once in [`table`]. Everything a person typed is escaped by the templates (maud);
//! every state-changing form carries the session's CSRF token and its own idempotency key; every
//! answer carries the security headers of [`respond`].

pub mod assets;
pub mod chart;
pub mod forms;
pub mod layout;
pub mod money;
pub mod pages;
pub mod portal;
pub mod respond;
pub mod session;
pub mod table;

use lambda_http::{Body, Request, Response};
use shared::kernel::Clock;
use shared::ports::Store;
use shared::Service;

pub use table::{Family, Page, PAGES};

/// Answers one dashboard request, whatever its family (tests, the local router). Never fails:
/// every error is a page.
pub async fn handle<S: Store, C: Clock>(app: &Service<S, C>, request: Request) -> Response<Body> {
    match Page::of(request.method().as_str(), request.uri().path()) {
        Some((page, params)) => pages::answer(app, page, params, &request).await,
        None => respond::not_found(),
    }
}

/// The whole `main` of a page family's function: pages of other families answer 404.
pub async fn serve(family: Family) -> Result<(), lambda_http::Error> {
    api::triggers::http::init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let app = &app;
    lambda_http::run(lambda_http::service_fn(
        move |request: Request| async move {
            let found = Page::of(request.method().as_str(), request.uri().path());
            // The path only: a query may hold what a person typed (a search); a portal page's
            // template path, as a link's path holds its token.
            let logged = match found {
                Some((page, _)) if page.family() == Family::Portal => page.spec().path,
                _ if family == Family::Portal => "(not a page)",
                _ => request.uri().path(),
            };
            let response = match found {
                Some((page, params)) if page.family() == family => {
                    pages::answer(app, page, params, &request).await
                }
                _ => respond::not_found(),
            };
            tracing::info!(
                family = family.function(),
                path = logged,
                status = response.status().as_u16(),
                "answered"
            );
            Ok::<_, std::convert::Infallible>(response)
        },
    ))
    .await
}

#[cfg(test)]
mod handler_tests;
