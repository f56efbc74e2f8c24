//! `GET /webhooks/{webhook_id}`: one webhook endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetWebhook).await
}
