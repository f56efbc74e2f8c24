//! `POST /customers/{customer_id}/wallets/holds`
//!
//! The whole binary of CreateHoldFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::CreateHold>().await
}
