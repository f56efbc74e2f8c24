//! `GET /webhooks`: the business's webhook endpoints, a cursor page.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListWebhooks).await
}
