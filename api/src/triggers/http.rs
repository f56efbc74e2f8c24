//! The HTTP trigger: API Gateway (HTTP API) requests for one route's function.

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::http::ApiError;
use crate::routes::Responding;
use crate::{App, Endpoint, Route};

/// JSON logs on stderr with the Lambda request id of the span they belong to.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}

/// The whole `main` of a route's function: tracing, the service (built once), then the runtime,
/// answering every request with the endpoint `E` (`functions/<route>/src/main.rs`). A request
/// that is not for `E`'s route (a router or API mapping gone wrong) gets a 404, not another
/// route's answer.
pub async fn serve<E: Endpoint>() -> Result<(), lambda_http::Error> {
    serve_route(E::ROUTE, E::respond).await
}

/// [`serve`]'s body, not generic: compiled once in this crate, not in every binary.
async fn serve_route(
    route: Route,
    respond: for<'a> fn(&'a App, Request) -> Responding<'a>,
) -> Result<(), lambda_http::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let app = &app;
    let function = route.spec().function;
    lambda_http::run(lambda_http::service_fn(
        move |request: Request| async move {
            if let Some(refusal) = misrouted(&request, route) {
                return Ok(refusal);
            }
            let response = respond(app, request).await;
            tracing::info!(
                route = function,
                status = response.status().as_u16(),
                "answered"
            );
            Ok::<_, std::convert::Infallible>(response)
        },
    ))
    .await
}

/// The 404 for a request that is not for `route`, the one route this function serves.
fn misrouted(request: &Request, route: Route) -> Option<lambda_http::Response<lambda_http::Body>> {
    if route_of(request) == Some(route) {
        return None;
    }
    tracing::warn!(
        function = route.spec().function,
        method = %request.method(),
        path = request.uri().path(),
        "not this function's route"
    );
    Some(
        ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no operation has this method and path",
        )
        .into_response(),
    )
}

/// The route of an API Gateway (HTTP API, payload 2.0) request, or of one from cargo lambda watch.
fn route_of(request: &Request) -> Option<Route> {
    let route_key = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.as_deref(),
        _ => None,
    };
    Route::of(request.method().as_str(), route_key, request.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn a_function_answers_its_own_route_only() {
        assert!(misrouted(&request("GET", "/customers/cus_1"), Route::GetCustomer).is_none());
        for (method, path) in [
            ("PATCH", "/customers/cus_1"),
            ("GET", "/customers"),
            ("GET", "/customers/cus_1/wallets"),
            ("GET", "/nowhere"),
        ] {
            let refusal = misrouted(&request(method, path), Route::GetCustomer)
                .unwrap_or_else(|| panic!("{method} {path} is not get-customer's"));
            assert_eq!(refusal.status(), StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
}
