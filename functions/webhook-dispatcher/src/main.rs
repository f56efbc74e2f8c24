//! The table's stream → webhook deliveries: records each delivery and hands it to the deliverer.

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    api::triggers::dispatch::serve_dispatcher().await
}
