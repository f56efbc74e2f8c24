//! The edge of the service: HTTP requests from API Gateway (`http/`, `routes/`, `views.rs`), and
//! the entry points of every trigger a function can have (`triggers/`: HTTP, a schedule, a
//! DynamoDB stream batch). Each Lambda function binary is one call into `triggers`: a route's
//! binary is `api::serve::<api::endpoints::TheRoute>()`.

pub mod events;
pub mod http;
pub mod metrics;
pub mod routes;
pub mod triggers;
pub mod views;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
pub use routes::{endpoints, Endpoint, Route, ROUTES};
use shared::kernel::Clock;
use shared::ports::Store;
use shared::{DomainError, Service};

pub use http::request::BODY_LENGTH_MAX;
use http::{ApiError, Request};
pub use triggers::serve;

/// The service every function runs: DynamoDB and the system clock.
pub type App = shared::DynamoService;

/// Answers one request for `route`, as the route's own binary would. Never fails: every error
/// becomes a `{code, message}` response.
pub async fn handle<S: Store, C: Clock>(
    app: &Service<S, C>,
    route: Route,
    request: Request,
) -> Response<Body> {
    routes::dispatch(app, route, request).await
}

/// Answers one request for the endpoint `E`. Never fails: every error becomes a `{code, message}`
/// response. Emits the request's metrics (`metrics.rs`).
pub async fn respond<E: Endpoint, S: Store, C: Clock>(
    app: &Service<S, C>,
    request: Request,
) -> Response<Body> {
    let started = std::time::Instant::now();
    // Boxed: the route handlers are deep futures; boxing keeps every caller's future small.
    let (answer, stats) = shared::stats::measured(Box::pin(answer::<E, S, C>(app, &request))).await;
    let (status, code) = match &answer {
        Ok(response) => (response.status().as_u16(), "ok"),
        Err(error) => (error.status.as_u16(), error.code),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1_000.0;
    metrics::emit(&metrics::request_line(
        E::ROUTE.spec().function,
        status,
        code,
        &stats,
        latency_ms,
    ));
    answer.unwrap_or_else(ApiError::into_response)
}

async fn answer<E: Endpoint, S: Store, C: Clock>(
    app: &Service<S, C>,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    // Stripe sends no API key: its webhooks are authenticated by their signature.
    if !E::ROUTE.spec().takes_key() {
        let webhook = routes::payins::stripe_webhook(app, request);
        return shared::access::actor::or_process("stripe-webhook", webhook).await;
    }
    match app
        .authenticate_key(http::request::bearer_token(request))
        .await
    {
        Ok((tenant, key)) => {
            // The one place a key's scope is honoured for the API: a read-only key is refused
            // every route that changes something (every one but a GET), before its handler runs.
            if E::ROUTE.spec().changes() {
                shared::access::operations::permit_change(key.scope)?;
            }
            // Every record this request makes says which key made it, and in which invocation.
            let request_id = lambda_http::ext::extensions::RequestExt::lambda_context_ref(request)
                .map(|c| c.request_id.clone());
            let actor = shared::access::operations::key_actor(&key, request_id);
            let call = http::Call {
                app,
                tenant: &tenant,
                key: &key,
                request,
            };
            shared::access::actor::acting(actor, E::answer(call)).await
        }
        Err(DomainError::Unauthenticated) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send a valid API key as `Authorization: Bearer <key>`",
        )),
        // A key that could not be checked is not a wrong key: 503 (or 500), never 401.
        Err(other) => Err(other.into()),
    }
}
