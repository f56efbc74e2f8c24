//! The dashboard's settings pages (`web::Family::Settings`): the function `dashboard-settings`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Settings).await
}
