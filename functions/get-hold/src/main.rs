//! `GET /customers/{customer_id}/wallets/holds/{hold_id}`: one hold.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetHold).await
}
