//! The edge of the service: HTTP requests from API Gateway (`http/`, `routes/`), and the
//! entry points of every trigger a function can have (`triggers/`: HTTP, a schedule, a DynamoDB
//! stream batch). Each Lambda function binary is one call into `triggers`.

pub mod events;
pub mod http;
pub mod routes;
pub mod triggers;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
pub use routes::{Route, ROUTES};
use shared::kernel::Clock;
use shared::ports::Store;
use shared::{DomainError, Service};

pub use http::request::BODY_LENGTH_MAX;
use http::{ApiError, Request};
pub use triggers::serve;

/// The service every function runs: DynamoDB and the system clock.
pub type App = shared::DynamoService;

/// Answers one request for `route`. Never fails: every error becomes a `{code, message}` response.
pub async fn handle<S: Store, C: Clock>(
    app: &Service<S, C>,
    route: Route,
    request: Request,
) -> Response<Body> {
    let answer = match app
        .authenticate(http::request::bearer_token(&request))
        .await
    {
        Ok(tenant) => routes::dispatch(app, route, &tenant, &request).await,
        Err(DomainError::Unauthenticated) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send a valid API key as `Authorization: Bearer <key>`",
        )),
        // A key that could not be checked is not a wrong key: 503 (or 500), never 401.
        Err(other) => Err(other.into()),
    };
    answer.unwrap_or_else(ApiError::into_response)
}
