//! `PATCH /customers/{customer_id}/wallets/settings`: changes one wallet's low-balance threshold or auto top-up.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::UpdateWalletSettings).await
}
