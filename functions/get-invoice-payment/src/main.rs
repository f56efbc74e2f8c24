//! `GET /customers/{customer_id}/wallets/invoice-payments/{invoice_id}`
//!
//! The whole binary of GetInvoicePaymentFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetInvoicePayment>().await
}
