//! `PATCH /customers/{customer_id}`
//!
//! The whole binary of UpdateCustomerFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::UpdateCustomer>().await
}
