//! `POST /customers/{customer_id}/wallets/holds/{hold_id}/capture`: charges all or part of a pending hold as one debit; the rest is released.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    api::serve(api::Route::CaptureHold).await
}
