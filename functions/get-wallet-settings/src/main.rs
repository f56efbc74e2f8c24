//! `GET /customers/{customer_id}/wallets/settings`: each wallet's low-balance threshold and auto top-up.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetWalletSettings).await
}
