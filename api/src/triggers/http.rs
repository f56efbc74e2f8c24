//! The HTTP trigger: API Gateway (HTTP API) requests for one route.

use lambda_http::Request;

use crate::{handle, Route};

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

/// The whole `main` of an HTTP function: tracing, the service (built once), then the runtime.
pub async fn serve(route: Route) -> Result<(), lambda_http::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let app = &app;
    lambda_http::run(lambda_http::service_fn(
        move |request: Request| async move {
            let response = handle(app, route, request).await;
            tracing::info!(
                route = route.spec().function,
                status = response.status().as_u16(),
                "answered"
            );
            Ok::<_, std::convert::Infallible>(response)
        },
    ))
    .await
}
