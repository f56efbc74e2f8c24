//! `GET /customers/{customer_id}/wallets/settings`
//!
//! The whole binary of GetWalletSettingsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetWalletSettings>().await
}
