//! `GET /webhooks/{webhook_id}/headers`: the endpoint's custom headers.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetWebhookHeaders).await
}
