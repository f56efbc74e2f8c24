//! `GET /webhooks`
//!
//! The whole binary of ListWebhooksFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ListWebhooks>().await
}
