//! `POST /webhooks/{webhook_id}/deliveries/{delivery_id}/resend`: one more attempt now.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ResendWebhookDelivery).await
}
