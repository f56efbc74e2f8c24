//! `DELETE /webhooks/{webhook_id}`: removes a webhook endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::DeleteWebhook).await
}
