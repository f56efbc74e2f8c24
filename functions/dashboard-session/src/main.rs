//! The dashboard's session pages (`web::Family::Session`): the function `dashboard-session`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Session).await
}
