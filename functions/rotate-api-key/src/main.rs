//! `POST /api-keys/{key_id}/rotate`
//!
//! The whole binary of RotateApiKeyFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::RotateApiKey>().await
}
