//! `GET /customers/{customer_id}/wallets`
//!
//! The whole binary of ListWalletsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ListWallets>().await
}
