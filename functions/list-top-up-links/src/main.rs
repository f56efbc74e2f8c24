//! `GET /customers/{customer_id}/wallets/top-up-links`
//!
//! The whole binary of ListTopUpLinksFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ListTopUpLinks>().await
}
