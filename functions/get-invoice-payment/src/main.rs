//! `GET /customers/{customer_id}/wallets/invoice-payments/{invoice_id}`: what the wallet paid of one invoice, and what was reversed.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::GetInvoicePayment).await
}
