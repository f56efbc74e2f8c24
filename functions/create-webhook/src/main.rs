//! `POST /webhooks`
//!
//! The whole binary of CreateWebhookFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::CreateWebhook>().await
}
