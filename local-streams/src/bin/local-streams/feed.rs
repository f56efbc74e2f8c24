//! Lambda's event-source mapping: the table's stream, batch by batch, to the stream function.

use std::time::Duration;

use local_streams::StreamTail;
use serde_json::{json, Value};

use crate::invoke::{invoke, RETRY_FIRST, RETRY_MAX};
use crate::log::Throttled;
use crate::settings::Settings;

/// Pause between polls of an idle stream.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Reads the stream for ever and invokes the stream function with every batch.
pub(crate) async fn feed(settings: &Settings, tail: &mut StreamTail) {
    let path = settings.invoke_path(&settings.stream_function);
    let mut read_log = Throttled::default();
    let mut invoke_log = Throttled::default();
    loop {
        let mut batch = match tail.next_batch_json(settings.batch_size).await {
            Ok(batch) => {
                read_log.succeeded("reading the stream");
                batch
            }
            Err(e) => {
                read_log.failed(|| format!("reading the stream: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Value::Array(mut records) = batch["Records"].take() else {
            unreachable!("Records is a list")
        };
        if records.is_empty() {
            tokio::time::sleep(POLL_EVERY).await;
            continue;
        }
        let mut pause = RETRY_FIRST;
        loop {
            let outcome = invoke(settings, &path, &json!({ "Records": records })).await;
            let failed_from = match &outcome {
                Ok(answer) => first_failed(answer, &records),
                Err(_) => Some(0),
            };
            let Some(from) = failed_from else {
                invoke_log.succeeded(&settings.stream_function);
                break;
            };
            invoke_log.failed(|| match &outcome {
                Err(e) => format!(
                    "{} with {} records: {e}; sending them again",
                    settings.stream_function,
                    records.len()
                ),
                Ok(_) => format!(
                    "{} reported {} of {} records failed; sending them again",
                    settings.stream_function,
                    records.len() - from,
                    records.len()
                ),
            });
            records.drain(..from);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }
}

/// The index of the first record to send again after a successful invocation answered
/// `answer`, as Lambda reads a partial batch response: `None` when every record succeeded; the
/// earliest record named in `batchItemFailures`; the whole batch (0) when a failure names no
/// record of the batch.
fn first_failed(answer: &Value, records: &[Value]) -> Option<usize> {
    let failures = answer.get("batchItemFailures")?.as_array()?;
    if failures.is_empty() {
        return None;
    }
    let mut first = records.len();
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str);
        let position = id.and_then(|id| {
            records
                .iter()
                .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
        });
        match position {
            Some(i) => first = first.min(i),
            None => return Some(0),
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(sequences: &[&str]) -> Vec<Value> {
        sequences
            .iter()
            .map(|s| json!({"dynamodb": {"SequenceNumber": s}}))
            .collect()
    }

    #[test]
    fn a_partial_batch_failure_resends_from_the_earliest_record_it_names() {
        let batch = records(&["1", "2", "3"]);
        assert_eq!(first_failed(&Value::Null, &batch), None);
        assert_eq!(
            first_failed(&json!({"batchItemFailures": []}), &batch),
            None
        );
        let answer =
            json!({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]});
        assert_eq!(first_failed(&answer, &batch), Some(1));
        let unknown = json!({"batchItemFailures": [{"itemIdentifier": "9"}]});
        assert_eq!(first_failed(&unknown, &batch), Some(0));
    }
}
