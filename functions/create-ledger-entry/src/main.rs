//! `POST /customers/{customer_id}/wallets/ledger-entries`: credits or debits a wallet.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CreateLedgerEntry).await
}
