//! `POST /api-keys/{key_id}/rotate`: a new key; the old one stays valid for a grace period.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::RotateApiKey).await
}
