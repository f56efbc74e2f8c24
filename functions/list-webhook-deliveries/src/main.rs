//! `GET /webhooks/{webhook_id}/deliveries`
//!
//! The whole binary of ListWebhookDeliveriesFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ListWebhookDeliveries>().await
}
