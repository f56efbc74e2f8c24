//! `POST /customers/{customer_id}/wallets/holds`: reserves part of a wallet's available balance (a pending charge).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CreateHold).await
}
