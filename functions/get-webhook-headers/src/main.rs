//! `GET /webhooks/{webhook_id}/headers`
//!
//! The whole binary of GetWebhookHeadersFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetWebhookHeaders>().await
}
