//! `GET /customers/{customer_id}/wallets/holds`: the customer's holds, newest first, with status and currency filters.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListHolds).await
}
