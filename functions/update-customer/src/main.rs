//! `PATCH /customers/{customer_id}`: changes a customer's fields.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::UpdateCustomer).await
}
