//! `DELETE /webhooks/{webhook_id}`
//!
//! The whole binary of DeleteWebhookFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::DeleteWebhook>().await
}
