//! `POST /customers/{customer_id}/wallets/holds/{hold_id}/release`
//!
//! The whole binary of ReleaseHoldFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ReleaseHold>().await
}
