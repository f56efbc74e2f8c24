//! `PATCH /webhooks/{webhook_id}`: changes a webhook endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::UpdateWebhook).await
}
