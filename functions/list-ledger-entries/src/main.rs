//! `GET /customers/{customer_id}/wallets/ledger-entries`: the ledger, newest first.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::ListLedgerEntries).await
}
