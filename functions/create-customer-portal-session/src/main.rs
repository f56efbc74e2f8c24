//! `POST /customers/{customer_id}/customer-portal/session`
//!
//! The whole binary of CreateCustomerPortalSessionFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::CreateCustomerPortalSession>().await
}
