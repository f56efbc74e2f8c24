//! `GET /reports/liability`
//!
//! The whole binary of GetLiabilityReportFunction (template.yaml): it links this route's handler
//! and no other.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve::<api::endpoints::GetLiabilityReport>().await
}
