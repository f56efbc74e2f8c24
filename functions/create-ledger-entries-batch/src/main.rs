//! `POST /wallets/ledger-entries/batch`
//!
//! The whole binary of CreateLedgerEntriesBatchFunction (template.yaml): it links this route's handler and
//! no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::CreateLedgerEntriesBatch>().await
}
