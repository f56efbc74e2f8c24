//! `GET /webhooks/{webhook_id}/deliveries/{delivery_id}`
//!
//! The whole binary of GetWebhookDeliveryFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetWebhookDelivery>().await
}
