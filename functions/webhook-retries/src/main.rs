//! On a schedule: attempts the webhook deliveries whose retry is due (sparse index).

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    api::triggers::dispatch::serve_retries().await
}
