//! `POST /webhooks/{webhook_id}/deliveries/{delivery_id}/resend`
//!
//! The whole binary of ResendWebhookDeliveryFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ResendWebhookDelivery>().await
}
