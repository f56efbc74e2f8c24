//! Webhook deliveries the dispatcher recorded → their attempts (invoked asynchronously).

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    api::triggers::dispatch::serve_deliverer().await
}
