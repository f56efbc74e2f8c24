//! `POST /customers/{customer_id}/wallets/top-up-links/{link_id}/cancel`
//!
//! The whole binary of CancelTopUpLinkFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::CancelTopUpLink>().await
}
