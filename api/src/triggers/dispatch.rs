//! The webhook dispatcher: a batch of the table's stream records becomes events, each event a
//! delivery per interested endpoint, recorded (so nothing is lost if this function dies) and
//! handed to the deliverer ([`DeliveryQueue`]: an asynchronous invocation of the deliverer
//! function), which attempts them. The dispatcher never waits on a receiver, so one tenant's
//! slow endpoints cannot hold back the stream's other records. A record whose deliveries could
//! not be recorded is reported as the batch's failure: Lambda gives it (and what follows) again,
//! and deliveries recorded the first time are not made twice.
//!
//! The deliverer ([`serve_deliverer`]) attempts what it is handed: per-endpoint caps, a breaker
//! per endpoint, and no new claim once its invocation's remaining time would not cover an
//! attempt.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use shared::adapters::dynamo::stream::{events_of_images, top_ups_due, wallets_change_of_images};
use shared::adapters::lambda_invoke::LambdaInvokeQueue;
use shared::adapters::stripe;
use shared::adapters::webhook_http::HttpSender;
use shared::kernel::Clock;
use shared::ports::Store;
use shared::topups::gateway::PaymentGateway;
use shared::webhooks::model::{DeliveryQueue, DeliveryRef, DeliveryReport, WebhookSender};
use shared::webhooks::operations::Breakers;
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
/// once), then handed to the deliverer through `queue`. A record that cannot be decoded is
/// reported with what follows it; when recording fails, the whole batch is reported
/// (deliveries already recorded are kept, and skipped when the batch comes again). A hand-over
/// that fails is logged: the deliveries are recorded, and the sweep attempts them when due.
/// The report counts the deliveries recorded.
pub async fn dispatch_batch<S: Store, C: Clock, Q: DeliveryQueue, G: PaymentGateway>(
    app: &Service<S, C>,
    queue: &Q,
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
    let mut decoded = batch.records.len();
    for (at, record) in batch.records.iter().enumerate() {
        match events_of(record) {
            Ok(mut more) => events.append(&mut more),
            Err(error) => {
                fail_from(&mut response, record, &error);
                decoded = at;
                break;
            }
        }
    }
    // The day totals, record by record in order; a record that fails is reported (with what
    // follows), and those before it are skipped when Lambda gives them again (`reports`).
    if let Err((at, error)) = add_to_totals(app, &batch.records[..decoded]).await {
        response.batch_item_failures.clear();
        fail_from(&mut response, &batch.records[at], &error);
    }
    let recorded = match app.record_deliveries(&events).await {
        Ok(recorded) => recorded,
        Err(error) => {
            response.batch_item_failures.clear();
            if let Some(first) = batch.records.first() {
                fail_from(&mut response, first, &error);
            }
            return (response, DeliveryReport::default());
        }
    };
    let report = DeliveryReport {
        deliveries: recorded.len(),
        ..DeliveryReport::default()
    };
    let (handed, ()) = tokio::join!(
        hand_over(queue, recorded),
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
                "WebhookHandOversFailed",
                f64::from(u8::from(!handed)),
                "Count",
            ),
        ],
    ));
    if report.deliveries > 0 {
        tracing::info!(deliveries = report.deliveries, handed, "webhooks recorded");
    }
    (response, report)
}

/// Adds the records' changes of wallet sets into the day totals (each customer's in order):
/// the first record that fails, with its error.
async fn add_to_totals<S: Store, C: Clock>(
    app: &Service<S, C>,
    records: &[EventRecord],
) -> Result<(), (usize, shared::DomainError)> {
    let mut changes = Vec::new();
    for (at, record) in records.iter().enumerate() {
        let old = image(&record.change.old_image);
        let new = image(&record.change.new_image);
        match wallets_change_of_images(old.as_ref(), new.as_ref()) {
            Ok(Some((business_id, old, new))) => changes.push((at, business_id, old, new)),
            Ok(None) => {}
            Err(error) => {
                // Nothing from here on: what comes before it is added, then this is reported.
                app.record_batch_totals(changes).await?;
                return Err((at, error));
            }
        }
    }
    app.record_batch_totals(changes).await
}

/// Hands recorded deliveries to the deliverer; `false` (logged) when that failed.
async fn hand_over<Q: DeliveryQueue>(queue: &Q, recorded: Vec<DeliveryRef>) -> bool {
    if recorded.is_empty() {
        return true;
    }
    let count = recorded.len();
    match queue.enqueue(recorded).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, count, "deliveries not handed to the deliverer; the sweep attempts them when due");
            false
        }
    }
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

/// The whole `main` of the dispatcher function. `DELIVERER_FUNCTION` names the deliverer
/// (see [`LambdaInvokeQueue::from_env`]).
pub async fn serve_dispatcher() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let queue = LambdaInvokeQueue::from_env()
        .await
        .ok_or("configuration: set DELIVERER_FUNCTION (the webhook deliverer's name or ARN)")?;
    let gateway = stripe::from_config(app.config()).map_err(|e| format!("configuration: {e}"))?;
    let (app, queue, gateway) = (&app, &queue, gateway.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let actor = shared::access::actor::process("dispatcher", Some(event.context.request_id));
        let work = Box::pin(dispatch_batch(app, queue, gateway, event.payload));
        let (response, _) = shared::access::actor::acting(actor, work).await;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}

/// What the dispatcher hands the deliverer.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct DeliverEvent {
    pub deliveries: Vec<DeliveryRef>,
}

/// Time kept back at the end of a deliverer invocation, beyond one attempt's timeout, to
/// record the last attempts.
pub const DELIVER_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The instant after which a deliverer claims no new delivery: an attempt claimed before it
/// ends (its timeout is `attempt_timeout`) and is recorded before the invocation's deadline.
pub fn stop_claiming_at(
    remaining: std::time::Duration,
    attempt_timeout: std::time::Duration,
) -> std::time::Instant {
    let now = std::time::Instant::now();
    now + remaining.saturating_sub(attempt_timeout + DELIVER_MARGIN)
}

/// One deliverer invocation: attempts the deliveries handed over, within `remaining`.
pub async fn deliver<S: Store, C: Clock, W: WebhookSender>(
    app: &Service<S, C>,
    sender: &W,
    breakers: &Breakers,
    attempt_timeout: std::time::Duration,
    remaining: std::time::Duration,
    event: DeliverEvent,
) -> DeliveryReport {
    let stop = stop_claiming_at(remaining, attempt_timeout);
    let report = app
        .deliver(sender, breakers, event.deliveries, app.now(), stop)
        .await;
    crate::metrics::emit(&crate::metrics::line(
        &[("Function", "webhook-deliverer")],
        &[&["Function"]],
        &[
            ("WebhookDeliveries", report.deliveries as f64, "Count"),
            (
                "WebhookDeliveriesSucceeded",
                report.succeeded as f64,
                "Count",
            ),
            ("WebhookDeliveriesFailed", report.failed as f64, "Count"),
            (
                "WebhookDeliveriesPostponed",
                report.postponed as f64,
                "Count",
            ),
            ("WebhookDeliveriesLeft", report.left as f64, "Count"),
        ],
    ));
    if report.deliveries + report.postponed + report.left > 0 {
        tracing::info!(?report, "webhooks delivered");
    }
    report
}

/// The whole `main` of the deliverer function (invoked asynchronously by the dispatcher).
pub async fn serve_deliverer() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let app = shared::from_env()
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let sender = HttpSender::new(app.config().webhook_targets);
    // Open breakers outlive an invocation: a warm instance leaves a hanging endpoint alone.
    let breakers = Breakers::default();
    let (app, sender, breakers) = (&app, &sender, &breakers);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<DeliverEvent>| async move {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let deadline_ms = super::invocation_deadline_ms(event.context.deadline, now_ms);
            let remaining = std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms));
            let actor = shared::access::actor::process("deliverer", Some(event.context.request_id));
            let work = Box::pin(deliver(
                app,
                sender,
                breakers,
                sender.timeout(),
                remaining,
                event.payload,
            ));
            let report = shared::access::actor::acting(actor, work).await;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "deliveries": report.deliveries,
                "succeeded": report.succeeded,
                "failed": report.failed,
                "postponed": report.postponed,
                "left": report.left,
            }))
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_deliverer_stops_claiming_an_attempt_and_a_margin_before_its_deadline() {
        let attempt = Duration::from_secs(10);
        let before = Instant::now();
        let stop = stop_claiming_at(Duration::from_secs(120), attempt);
        let after = Instant::now();
        assert!(stop >= before + Duration::from_secs(105));
        assert!(stop <= after + Duration::from_secs(105));
        // Less time left than an attempt and its margin: claim nothing.
        assert!(stop_claiming_at(Duration::from_secs(14), attempt) <= Instant::now());
    }
}
