//! `PATCH /webhooks/{webhook_id}/headers`: adds or replaces custom headers.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::UpdateWebhookHeaders).await
}
