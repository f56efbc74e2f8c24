//! `GET /reports/ledger-entries`
//!
//! The whole binary of GetLedgerEntriesReportFunction (template.yaml): it links this route's
//! handler and no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetLedgerEntriesReport>().await
}
