//! `GET /customers/{customer_id}`
//!
//! The whole binary of GetCustomerFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetCustomer>().await
}
