//! The dashboard's assets pages (`web::Family::Assets`): the function `dashboard-assets`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::serve(web::Family::Assets).await
}
