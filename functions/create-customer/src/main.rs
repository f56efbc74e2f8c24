//! `POST /customers`: creates a customer and its zero-balance wallets.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CreateCustomer).await
}
