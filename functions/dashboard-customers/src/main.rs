//! The dashboard's customers pages (`web::Family::Customers`): the function `dashboard-customers`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Customers).await
}
