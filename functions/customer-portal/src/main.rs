//! The customer portal and top-up links (`web::Family::Portal`): the function `customer-portal`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Portal).await
}
