//! `GET /customer-portal/settings`
//!
//! The whole binary of GetCustomerPortalSettingsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetCustomerPortalSettings>().await
}
