//! The dashboard's webhooks pages (`web::Family::Webhooks`): the function `dashboard-webhooks`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Webhooks).await
}
