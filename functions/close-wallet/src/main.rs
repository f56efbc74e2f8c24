//! `POST /customers/{customer_id}/wallets/close`: pays out a wallet's balance and closes it.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CloseWallet).await
}
