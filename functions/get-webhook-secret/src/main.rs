//! `GET /webhooks/{webhook_id}/secret`: the endpoint's signing secret.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetWebhookSecret).await
}
