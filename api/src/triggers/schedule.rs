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
pub async fn run_job<A, T, F, Fut>(app: &A, job: F) -> Result<T, lambda_runtime::Error>
where
    F: Fn(&A) -> Fut,
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

#[cfg(test)]
mod tests {
    use shared::DomainError;

    use super::*;

    #[tokio::test]
    async fn a_job_answers_its_result_and_a_failed_job_fails_the_invocation() {
        let done = run_job(&7, |n| {
            let n = *n;
            async move { Ok(n * 2) }
        })
        .await;
        assert_eq!(done.unwrap(), 14);
        let failed = run_job(&(), |_| async { Err::<(), _>(DomainError::Contention) }).await;
        assert!(failed.unwrap_err().to_string().contains("retry"));
    }
}
