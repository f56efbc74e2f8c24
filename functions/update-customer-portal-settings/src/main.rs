//! `PATCH /customer-portal/settings`
//!
//! The whole binary of UpdateCustomerPortalSettingsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::UpdateCustomerPortalSettings>().await
}
