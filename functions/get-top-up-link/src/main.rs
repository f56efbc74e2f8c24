//! `GET /customers/{customer_id}/wallets/top-up-links/{link_id}`
//!
//! The whole binary of GetTopUpLinkFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetTopUpLink>().await
}
