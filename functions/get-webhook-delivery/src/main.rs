//! `GET /webhooks/{webhook_id}/deliveries/{delivery_id}`: one delivery with its attempts.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetWebhookDelivery).await
}
