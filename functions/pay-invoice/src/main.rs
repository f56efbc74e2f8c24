//! `POST /customers/{customer_id}/wallets/invoice-payments`: pays min(available, amount due) of an invoice from the wallet of its currency.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::PayInvoice).await
}
