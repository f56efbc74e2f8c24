//! On a schedule: the due work that no request starts: auto top-ups due or being retried,
//! expired holds, webhook deliveries whose retry is due (each found through a sparse index).

#[tokio::main]
async fn main() -> Result<(), lambda_http::lambda_runtime::Error> {
    api::triggers::sweep::serve_sweep().await
}
