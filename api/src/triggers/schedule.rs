//! The schedule trigger: an EventBridge rule (or `cargo lambda invoke`) runs a job with the time
//! of the invocation. The event's content is not used: the job asks the service's clock.

use std::future::Future;

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::{DomainResult, DynamoService};

use super::http::init_tracing;

/// Runs `job` once per scheduled invocation; its outcome is the invocation's result (an error
/// makes the invocation fail, which EventBridge retries and an alarm can watch).
pub async fn run_job<T, F, Fut>(app: &DynamoService, job: F) -> Result<T, lambda_runtime::Error>
where
    F: Fn(&DynamoService) -> Fut,
    Fut: Future<Output = DomainResult<T>>,
{
    job(app).await.map_err(|e| {
        tracing::error!(code = e.code(), error = %e, "scheduled job failed");
        lambda_runtime::Error::from(e.to_string())
    })
}

/// The whole `main` of a scheduled function: tracing, the service (built once), then the runtime.
pub async fn serve_schedule<T, F, Fut>(job: F) -> Result<(), lambda_runtime::Error>
where
    T: Serialize,
    F: Fn(&DynamoService) -> Fut,
    Fut: Future<Output = DomainResult<T>>,
{
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let (app, job) = (&app, &job);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        run_job(app, job).await
    }))
    .await
}
