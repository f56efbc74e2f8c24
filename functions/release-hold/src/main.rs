//! `POST /customers/{customer_id}/wallets/holds/{hold_id}/release`: gives a pending hold back to the available balance.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ReleaseHold).await
}
