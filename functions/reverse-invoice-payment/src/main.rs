//! `POST /customers/{customer_id}/wallets/invoice-payments/{invoice_id}/reversals`
//!
//! The whole binary of ReverseInvoicePaymentFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::ReverseInvoicePayment>().await
}
