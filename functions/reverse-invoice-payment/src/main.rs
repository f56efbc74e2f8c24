//! `POST /customers/{customer_id}/wallets/invoice-payments/{invoice_id}/reversals`: credits back part of an invoice's wallet payment.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ReverseInvoicePayment).await
}
