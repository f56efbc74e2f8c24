//! `GET /customers/{customer_id}/wallets/holds`
//!
//! The whole binary of ListHoldsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ListHolds>().await
}
