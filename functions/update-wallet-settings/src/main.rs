//! `PATCH /customers/{customer_id}/wallets/settings`
//!
//! The whole binary of UpdateWalletSettingsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::UpdateWalletSettings>().await
}
