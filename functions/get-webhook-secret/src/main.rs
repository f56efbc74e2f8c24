//! `GET /webhooks/{webhook_id}/secret`
//!
//! The whole binary of GetWebhookSecretFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetWebhookSecret>().await
}
