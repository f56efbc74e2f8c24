//! `POST /customers/{customer_id}/wallets/close`
//!
//! The whole binary of CloseWalletFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::CloseWallet>().await
}
