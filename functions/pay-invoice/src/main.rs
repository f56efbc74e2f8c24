//! `POST /customers/{customer_id}/wallets/invoice-payments`
//!
//! The whole binary of PayInvoiceFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::PayInvoice>().await
}
