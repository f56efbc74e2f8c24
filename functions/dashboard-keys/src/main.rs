//! The dashboard's keys pages (`web::Family::Keys`): the function `dashboard-keys`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Keys).await
}
