//! `GET /api-keys`: the business's API keys (never their secrets).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListApiKeys).await
}
