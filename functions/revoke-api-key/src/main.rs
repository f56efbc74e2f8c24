//! `DELETE /api-keys/{key_id}`: revokes a key now.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::RevokeApiKey).await
}
