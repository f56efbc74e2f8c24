//! The address a request reached the service at (`https://<API domain>`), set by the HTTP layer
//! for the work of one request: the base of portal links when `PUBLIC_BASE_URL` is not set. A
//! deployed stack cannot name its own API's URL in its functions' environment (the API depends
//! on the functions: a circular reference), so without a custom domain the links use the
//! address the request came to, which is the API's own.

use std::future::Future;

tokio::task_local! {
    static ORIGIN: String;
}

/// Runs `work` with `origin` (`https://host`, no trailing `/`) as the request's address.
pub async fn serving<F: Future>(origin: String, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The running request's address, if the HTTP layer set one.
pub fn current() -> Option<String> {
    ORIGIN.try_with(Clone::clone).ok()
}
