//! The webhook dispatcher: a batch of the table's stream records becomes events, each event a
//! delivery per interested endpoint, recorded (so nothing is lost if this function dies) and
//! then attempted, several at once. A record whose deliveries could not be recorded is reported
//! as the batch's failure: Lambda gives it (and what follows) again, and deliveries recorded the
//! first time are not made twice.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::adapters::dynamo::stream::events_of_images;
use shared::adapters::webhook_http::HttpSender;
use shared::kernel::Clock;
use shared::ports::Store;
use shared::webhooks::model::{DeliveryReport, WebhookSender};
use shared::{DomainResult, Service};

use super::http::init_tracing;
use crate::events::payload;

/// An image as DynamoDB JSON; `None` when the record has none (an empty map).
fn image(item: &impl serde::Serialize) -> Option<serde_json::Value> {
    let value = serde_json::to_value(item).expect("stream images serialise");
    value
        .as_object()
        .is_some_and(|o| !o.is_empty())
        .then_some(value)
}

/// The events of one record, each with its body.
pub fn events_of(
    record: &EventRecord,
) -> DomainResult<Vec<(shared::webhooks::model::Event, String)>> {
    let old = image(&record.change.old_image);
    let new = image(&record.change.new_image);
    Ok(events_of_images(old.as_ref(), new.as_ref())?
        .into_iter()
        .map(|event| {
            let body = payload(&event);
            (event, body)
        })
        .collect())
}

/// Processes one batch: the events of every record, their deliveries recorded (several at
/// once), then attempted. A record that cannot be decoded is reported with what follows it; when
/// recording fails, the whole batch is reported (deliveries already recorded are kept, and
/// skipped when the batch comes again).
pub async fn dispatch_batch<S: Store, C: Clock, W: WebhookSender>(
    app: &Service<S, C>,
    sender: &W,
    batch: Event,
) -> (DynamoDbEventResponse, DeliveryReport) {
    let mut response = DynamoDbEventResponse::default();
    let fail_from = |response: &mut DynamoDbEventResponse,
                     record: &EventRecord,
                     error: &dyn std::fmt::Display| {
        let sequence_number = record.change.sequence_number.clone();
        tracing::error!(%error, sequence_number, "stream record not dispatched");
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence_number;
        response.batch_item_failures.push(failure);
    };
    let mut events = Vec::new();
    for record in &batch.records {
        match events_of(record) {
            Ok(mut more) => events.append(&mut more),
            Err(error) => {
                fail_from(&mut response, record, &error);
                break;
            }
        }
    }
    let claimed = match app.record_deliveries(&events).await {
        Ok(claimed) => claimed,
        Err(error) => {
            response.batch_item_failures.clear();
            if let Some(first) = batch.records.first() {
                fail_from(&mut response, first, &error);
            }
            return (response, DeliveryReport::default());
        }
    };
    let report = app.attempt_all(sender, claimed).await;
    if report.deliveries > 0 {
        tracing::info!(
            deliveries = report.deliveries,
            succeeded = report.succeeded,
            failed = report.failed,
            "webhooks dispatched"
        );
    }
    (response, report)
}

/// The whole `main` of the dispatcher function.
pub async fn serve_dispatcher() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let sender = HttpSender::new(app.config().webhook_targets);
    let (app, sender) = (&app, &sender);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let (response, _) = dispatch_batch(app, sender, event.payload).await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}

/// Deliveries one scheduled run attempts at most: with 32 in flight and a 10 s limit each, a
/// run ends within about a minute even if every receiver times out; the rest wait for the next.
pub const RETRIES_PER_RUN: usize = 200;

/// The whole `main` of the retry sweep: one pass over the due deliveries per invocation; a
/// store failure fails the invocation (the next run finds the same deliveries still due).
pub async fn serve_retries() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let sender = HttpSender::new(app.config().webhook_targets);
    let (app, sender) = (&app, &sender);
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let outcome = app
                .retry_deliveries(sender, app.now(), RETRIES_PER_RUN)
                .await;
            outcome
                .map_err(|e| {
                    tracing::error!(code = e.code(), error = %e, "webhook retry sweep failed");
                    lambda_runtime::Error::from(e.to_string())
                })
                .map(|report| {
                    serde_json::json!({
                        "deliveries": report.deliveries,
                        "succeeded": report.succeeded,
                        "failed": report.failed,
                    })
                })
        },
    ))
    .await
}
