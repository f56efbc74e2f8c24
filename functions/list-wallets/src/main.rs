//! `GET /customers/{customer_id}/wallets`: balances and their USD total.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListWallets).await
}
