//! `GET /webhooks/{webhook_id}/deliveries`: the delivery log, newest first.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListWebhookDeliveries).await
}
