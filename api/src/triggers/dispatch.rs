//! The webhook dispatcher: a batch of the table's stream records becomes events, each event a
//! delivery per interested endpoint, recorded (so nothing is lost if this function dies) and
//! then attempted, several at once. A record whose deliveries could not be recorded is reported
//! as the batch's failure: Lambda gives it (and what follows) again, and deliveries recorded the
//! first time are not made twice.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::adapters::dynamo::stream::{events_of_images, top_ups_due};
use shared::adapters::stripe;
use shared::adapters::webhook_http::HttpSender;
use shared::kernel::Clock;
use shared::ports::Store;
use shared::topups::gateway::PaymentGateway;
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
pub async fn dispatch_batch<S: Store, C: Clock, W: WebhookSender, G: PaymentGateway>(
    app: &Service<S, C>,
    sender: &W,
    gateway: Option<&G>,
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
    let (report, ()) = tokio::join!(
        app.attempt_all(sender, claimed),
        start_top_ups(app, gateway, &batch.records)
    );
    crate::metrics::emit(&crate::metrics::line(
        &[("Function", "webhook-dispatcher")],
        &[&["Function"]],
        &[
            ("StreamRecords", batch.records.len() as f64, "Count"),
            (
                "StreamRecordsFailed",
                response.batch_item_failures.len() as f64,
                "Count",
            ),
            ("WebhookDeliveries", report.deliveries as f64, "Count"),
            (
                "WebhookDeliveriesSucceeded",
                report.succeeded as f64,
                "Count",
            ),
            ("WebhookDeliveriesFailed", report.failed as f64, "Count"),
        ],
    ));
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

/// Starts at once the auto top-ups that the batch's changes made due (a debit that crossed the
/// threshold), instead of waiting for the sweep. A failure here is logged, not the batch's: the
/// sweep finds the same wallets through the index.
async fn start_top_ups<S: Store, C: Clock, G: PaymentGateway>(
    app: &Service<S, C>,
    gateway: Option<&G>,
    records: &[EventRecord],
) {
    let Some(gateway) = gateway else {
        return;
    };
    let mut due = std::collections::BTreeSet::new();
    for record in records {
        match top_ups_due(image(&record.change.new_image).as_ref(), app.now()) {
            Ok(Some((business, customer, currencies))) => {
                for currency in currencies {
                    due.insert((business.clone(), customer.clone(), currency));
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "stream record not read for top-ups"),
        }
    }
    for (business, customer, currency) in due {
        match app
            .run_top_up(gateway, &business, &customer, currency, app.now())
            .await
        {
            Ok(run) => {
                tracing::info!(?run, %customer, %currency, "auto top-up from the event path")
            }
            Err(error) => tracing::warn!(%error, %customer, "auto top-up left to the sweep"),
        }
    }
}

/// The whole `main` of the dispatcher function.
pub async fn serve_dispatcher() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let sender = HttpSender::new(app.config().webhook_targets);
    let gateway = stripe::from_config(app.config()).map_err(|e| format!("configuration: {e}"))?;
    let (app, sender, gateway) = (&app, &sender, gateway.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let actor = shared::access::actor::process("dispatcher", Some(event.context.request_id));
        let work = Box::pin(dispatch_batch(app, sender, gateway, event.payload));
        let (response, _) = shared::access::actor::acting(actor, work).await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
