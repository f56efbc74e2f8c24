//! `GET /customers`: lists the business's customers, newest first.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListCustomers).await
}
