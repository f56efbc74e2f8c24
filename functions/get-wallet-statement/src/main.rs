//! `GET /customers/{customer_id}/wallets/statements`
//!
//! The whole binary of GetWalletStatementFunction (template.yaml): it links this route's handler
//! and no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetWalletStatement>().await
}
