//! The dashboard's reports pages (`web::Family::Reports`): the function `dashboard-reports`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Reports).await
}
