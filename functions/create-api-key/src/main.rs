//! `POST /api-keys`: a new API key of the caller's business (its secret shown once).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CreateApiKey).await
}
