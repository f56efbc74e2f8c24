//! `GET /customers/{customer_id}`: one customer.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetCustomer).await
}
