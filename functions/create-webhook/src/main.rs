//! `POST /webhooks`: registers a webhook endpoint (Dodo's `client.webhooks.create`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CreateWebhook).await
}
