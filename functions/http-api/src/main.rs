//! Every HTTP route (`api::ROUTES`). Each route is its own Lambda function in `template.yaml`,
//! with its own permissions; all of them run this one binary, built once, which reads its route
//! from the request.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve().await
}
