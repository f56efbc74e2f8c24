//! `POST /customers/{customer_id}/customer-portal/revoke`
//!
//! The whole binary of RevokeCustomerPortalSessionsFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::RevokeCustomerPortalSessions>().await
}
