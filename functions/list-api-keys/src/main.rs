//! `GET /api-keys`
//!
//! The whole binary of ListApiKeysFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ListApiKeys>().await
}
