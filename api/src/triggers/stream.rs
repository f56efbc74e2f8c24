//! The stream trigger: a batch of DynamoDB stream records, answered with a partial-batch
//! failure response (`ReportBatchItemFailures`) so that only what failed is delivered again.

use std::future::Future;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::DynamoService;

use super::http::init_tracing;

/// Processes the records of one batch in order and stops at the first failure, reporting its
/// sequence number: Lambda then retries from that record on, so nothing after a failure is
/// skipped and nothing before it is processed twice by this batch's retry.
pub async fn handle_batch<E, F, Fut>(event: Event, mut process: F) -> DynamoDbEventResponse
where
    E: std::fmt::Display,
    F: FnMut(EventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let sequence_number = record.change.sequence_number.clone();
        if let Err(error) = process(record).await {
            tracing::error!(%error, sequence_number, "stream record failed");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence_number;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

/// The whole `main` of a stream function: tracing, the service (built once), then the runtime.
pub async fn serve_stream<E, F, Fut>(process: F) -> Result<(), lambda_runtime::Error>
where
    E: std::fmt::Display,
    F: Fn(&DynamoService, EventRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let (app, process) = (&app, &process);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(
            handle_batch(event.payload, |record| process(app, record)).await,
        )
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(sequence_numbers: &[&str]) -> Event {
        let records: Vec<serde_json::Value> = sequence_numbers
            .iter()
            .map(|n| {
                serde_json::json!({
                    "awsRegion": "us-east-1", "eventID": format!("e{n}"), "eventName": "MODIFY",
                    "dynamodb": {"SequenceNumber": n, "SizeBytes": 10,
                        "Keys": {"pk": {"S": "CUS#b#c"}, "sk": {"S": "#WALLETS"}}}
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).expect("a stream batch")
    }

    #[tokio::test]
    async fn a_failed_record_is_reported_and_the_records_after_it_wait_for_the_retry() {
        let mut seen = Vec::new();
        let response = handle_batch(batch(&["100", "200", "300"]), |record| {
            let n = record.change.sequence_number.clone().unwrap();
            seen.push(n.clone());
            async move {
                if n == "200" {
                    Err("no")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(seen, ["100", "200"]);
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_deref())
            .collect();
        assert_eq!(failed, [Some("200")]);
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "200"}]})
        );
    }

    #[tokio::test]
    async fn a_batch_that_succeeds_reports_no_failure() {
        let response = handle_batch(batch(&["1", "2"]), |_| async { Ok::<_, String>(()) }).await;
        assert!(response.batch_item_failures.is_empty());
    }
}
