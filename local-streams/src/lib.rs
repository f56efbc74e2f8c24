//! Local run only: reads a table's DynamoDB stream (DynamoDB Local's) and hands out its records
//! in batches shaped exactly as Lambda passes them to a DynamoDB stream function, so that the
//! local poller (the `local-streams` binary) can stand in for Lambda's event-source mapping.
//!
//! [`StreamTail`] follows every shard of the table's latest stream: a shard is read only once its
//! parent is read to its end (as Lambda does after a split), records of one shard come out in
//! order, and one batch holds records of one shard only. The stream is described again every few
//! seconds, and at once when a shard ends, to find new shards.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine as _;
use serde_json::{json, Map, Value};

pub use aws_lambda_events::dynamodb::Event;

/// Where reading starts in the shards that are open when the tail first opens the stream. Shards
/// that appear later (after a split, or a new stream of a table made anew) are always read from
/// their start, so nothing written after the tail opened is missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartingPosition {
    /// Every record the stream still holds (up to 24 hours).
    TrimHorizon,
    /// Only records written after the tail opened.
    Latest,
}

impl std::str::FromStr for StartingPosition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TRIM_HORIZON" => Ok(StartingPosition::TrimHorizon),
            "LATEST" => Ok(StartingPosition::Latest),
            other => Err(format!(
                "starting position must be TRIM_HORIZON or LATEST, not '{other}'"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The table does not exist (yet), or has no stream turned on.
    #[error("table {0} has no stream (is it created, with its stream on?)")]
    NoStream(String),
    #[error("DynamoDB: {0}")]
    DynamoDb(String),
    #[error("DynamoDB Streams: {0}")]
    Streams(String),
    /// A record that does not read as Lambda's DynamoDB event (a bug here, or an attribute type
    /// newer than this code).
    #[error("stream record: {0}")]
    Record(String),
}

/// A shard being read.
#[derive(Debug)]
struct Shard {
    parent: Option<String>,
    /// Where to start when no iterator is held and no record was read yet.
    initial: ShardIteratorType,
    iterator: Option<String>,
    /// The last record handed out, to resume after it with a new iterator.
    last_sequence: Option<String>,
}

/// Follows one table's stream; see the crate's documentation.
pub struct StreamTail {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    region: Option<String>,
    start: StartingPosition,
    describe_every: Duration,
    stream_arn: Option<String>,
    described_at: Option<Instant>,
    /// Shards being read, by id.
    shards: BTreeMap<String, Shard>,
    /// Shards read to their end (or skipped: closed before a `Latest` start).
    done: HashSet<String>,
    /// The shard the previous batch came from: the next pass starts after it, so that one busy
    /// shard does not starve the others.
    last_served: Option<String>,
}

impl StreamTail {
    /// A tail of `table`'s stream through the DynamoDB and DynamoDB Streams endpoints of
    /// `sdk_config` (DynamoDB Local serves both on one port). Nothing is read until
    /// [`StreamTail::open`] or [`StreamTail::next_batch`].
    pub fn new(
        sdk_config: &aws_config::SdkConfig,
        table: impl Into<String>,
        start: StartingPosition,
    ) -> StreamTail {
        StreamTail::from_clients(
            aws_sdk_dynamodb::Client::new(sdk_config),
            aws_sdk_dynamodbstreams::Client::new(sdk_config),
            table,
            start,
        )
        .with_region(sdk_config.region().map(|r| r.to_string()))
    }

    pub fn from_clients(
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: impl Into<String>,
        start: StartingPosition,
    ) -> StreamTail {
        StreamTail {
            dynamodb,
            streams,
            table: table.into(),
            region: None,
            start,
            describe_every: Duration::from_secs(5),
            stream_arn: None,
            described_at: None,
            shards: BTreeMap::new(),
            done: HashSet::new(),
            last_served: None,
        }
    }

    /// The `awsRegion` of the records (Lambda's is the table's region). `None`: the one DynamoDB
    /// Streams reports (DynamoDB Local says `ddblocal`).
    pub fn with_region(mut self, region: Option<String>) -> StreamTail {
        self.region = region;
        self
    }

    /// How often the stream is described again to find new shards (default 5 s).
    pub fn with_describe_every(mut self, every: Duration) -> StreamTail {
        self.describe_every = every;
        self
    }

    /// The stream followed, once opened.
    pub fn stream_arn(&self) -> Option<&str> {
        self.stream_arn.as_deref()
    }

    /// Finds the table's latest stream and its shards, and takes a position in each shard that
    /// is ready to read (so that, with [`StartingPosition::Latest`], whatever is written after
    /// this returns is read). Returns how many shards are being followed.
    pub async fn open(&mut self) -> Result<usize, Error> {
        self.describe().await?;
        let ready: Vec<String> = self.ready_shards();
        for id in ready {
            if self.shards.get(&id).is_some_and(|s| s.iterator.is_none()) {
                self.take_iterator(&id).await?;
            }
        }
        Ok(self.shards.len())
    }

    /// Up to `max` records (at most 1000) of one shard, in the shard's order, as Lambda's
    /// DynamoDB event; no records when none are waiting. The records count as handed out: the
    /// next call continues after them.
    pub async fn next_batch(&mut self, max: usize) -> Result<Event, Error> {
        let batch = self.next_batch_json(max).await?;
        serde_json::from_value(batch).map_err(|e| Error::Record(e.to_string()))
    }

    /// [`StreamTail::next_batch`] as the JSON that Lambda passes: `{"Records": [...]}`.
    pub async fn next_batch_json(&mut self, max: usize) -> Result<Value, Error> {
        let records = self.next_records(max).await?;
        Ok(json!({ "Records": records }))
    }

    async fn next_records(&mut self, max: usize) -> Result<Vec<Value>, Error> {
        let due = self
            .described_at
            .is_none_or(|at| at.elapsed() >= self.describe_every);
        if self.stream_arn.is_none() || due {
            self.describe().await?;
        }
        let max = max.clamp(1, 1000);
        let mut order = self.ready_shards();
        // Round-robin: start after the shard served last.
        if let Some(last) = &self.last_served {
            let after = order.partition_point(|id| id <= last);
            order.rotate_left(after);
        }
        for id in order {
            let records = self.read_shard(&id, max).await?;
            if !records.is_empty() {
                self.last_served = Some(id);
                return Ok(records);
            }
        }
        Ok(Vec::new())
    }

    /// Shards whose parent is read to its end (or unknown: trimmed away), in id order.
    fn ready_shards(&self) -> Vec<String> {
        self.shards
            .iter()
            .filter(|(_, shard)| {
                shard
                    .parent
                    .as_ref()
                    .is_none_or(|parent| !self.shards.contains_key(parent))
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Looks up the table's latest stream and its shards; starts following new shards.
    async fn describe(&mut self) -> Result<(), Error> {
        let table = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    Error::NoStream(self.table.clone())
                } else {
                    Error::DynamoDb(DisplayErrorContext(&e).to_string())
                }
            })?;
        let arn = table
            .table()
            .filter(|t| t.stream_specification().is_some_and(|s| s.stream_enabled()))
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| Error::NoStream(self.table.clone()))?
            .to_owned();
        let first_open = self.stream_arn.is_none();
        if self.stream_arn.as_deref() != Some(arn.as_str()) {
            // A new stream (first open, or the table or its stream made anew): start over.
            self.shards.clear();
            self.done.clear();
            self.last_served = None;
            self.stream_arn = Some(arn.clone());
        }

        let mut listed = HashSet::new();
        let mut exclusive_start: Option<String> = None;
        loop {
            let page = self
                .streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(exclusive_start.take())
                .send()
                .await
                .map_err(|e| Error::Streams(DisplayErrorContext(&e).to_string()))?;
            let Some(description) = page.stream_description() else {
                break;
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                listed.insert(id.to_owned());
                if self.shards.contains_key(id) || self.done.contains(id) {
                    continue;
                }
                let closed = shard
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some();
                let initial = match (first_open, self.start) {
                    (true, StartingPosition::Latest) if closed => {
                        // Nothing in it is newer than now.
                        self.done.insert(id.to_owned());
                        continue;
                    }
                    (true, StartingPosition::Latest) => ShardIteratorType::Latest,
                    _ => ShardIteratorType::TrimHorizon,
                };
                self.shards.insert(
                    id.to_owned(),
                    Shard {
                        parent: shard.parent_shard_id().map(str::to_owned),
                        initial,
                        iterator: None,
                        last_sequence: None,
                    },
                );
            }
            match description.last_evaluated_shard_id() {
                Some(last) => exclusive_start = Some(last.to_owned()),
                None => break,
            }
        }
        // Forget finished shards that the stream no longer lists (trimmed): their children then
        // count as ready, as they should.
        self.done.retain(|id| listed.contains(id));
        self.described_at = Some(Instant::now());
        Ok(())
    }

    /// A new iterator for shard `id`: after its last record handed out, else at its initial
    /// position.
    async fn take_iterator(&mut self, id: &str) -> Result<(), Error> {
        let arn = self.stream_arn.clone().expect("described");
        let shard = self.shards.get(id).expect("known shard");
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(id);
        let request = match &shard.last_sequence {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(shard.initial.clone()),
        };
        match request.send().await {
            Ok(out) => {
                let iterator = out.shard_iterator().map(str::to_owned);
                let shard = self.shards.get_mut(id).expect("known shard");
                match iterator {
                    Some(iterator) => shard.iterator = Some(iterator),
                    None => self.finish(id),
                }
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                // The shard is gone (trimmed).
                self.finish(id);
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                // What follows the last record read was trimmed: read what is left.
                let shard = self.shards.get_mut(id).expect("known shard");
                shard.last_sequence = None;
                shard.initial = ShardIteratorType::TrimHorizon;
                Ok(())
            }
            Err(e) => Err(Error::Streams(DisplayErrorContext(&e).to_string())),
        }
    }

    /// Up to `max` records of shard `id`, converted; records none if none wait.
    async fn read_shard(&mut self, id: &str, max: usize) -> Result<Vec<Value>, Error> {
        if self.shards.get(id).is_some_and(|s| s.iterator.is_none()) {
            self.take_iterator(id).await?;
        }
        let Some(iterator) = self.shards.get(id).and_then(|s| s.iterator.clone()) else {
            return Ok(Vec::new()); // finished, or to be retried
        };
        let out = match self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(max).unwrap_or(1000))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let service = e.as_service_error();
                if service.is_some_and(|e| {
                    e.is_expired_iterator_exception() || e.is_trimmed_data_access_exception()
                }) {
                    // A new iterator next time (after the last record read, or from what is left).
                    let trimmed = service.is_some_and(|e| e.is_trimmed_data_access_exception());
                    let shard = self.shards.get_mut(id).expect("known shard");
                    shard.iterator = None;
                    if trimmed {
                        shard.last_sequence = None;
                        shard.initial = ShardIteratorType::TrimHorizon;
                    }
                    return Ok(Vec::new());
                }
                if service.is_some_and(|e| e.is_resource_not_found_exception()) {
                    self.finish(id);
                    return Ok(Vec::new());
                }
                return Err(Error::Streams(DisplayErrorContext(&e).to_string()));
            }
        };
        let arn = self.stream_arn.clone().expect("described");
        let records = out
            .records()
            .iter()
            .map(|record| lambda_record(record, &arn, self.region.as_deref()))
            .collect::<Result<Vec<Value>, Error>>()?;
        let shard = self.shards.get_mut(id).expect("known shard");
        if let Some(last) = out
            .records()
            .last()
            .and_then(|r| r.dynamodb())
            .and_then(|d| d.sequence_number())
        {
            shard.last_sequence = Some(last.to_owned());
        }
        match out.next_shard_iterator() {
            Some(next) => shard.iterator = Some(next.to_owned()),
            None => self.finish(id), // a closed shard, read to its end
        }
        Ok(records)
    }

    /// Shard `id` is read to its end: its children may start; look for them at once.
    fn finish(&mut self, id: &str) {
        self.shards.remove(id);
        self.done.insert(id.to_owned());
        self.described_at = None;
    }
}

/// One stream record as Lambda's DynamoDB event record.
pub fn lambda_record(
    record: &Record,
    stream_arn: &str,
    region: Option<&str>,
) -> Result<Value, Error> {
    let change = record
        .dynamodb()
        .ok_or_else(|| Error::Record("a record without its change".into()))?;
    let mut dynamodb = Map::new();
    if let Some(at) = change.approximate_creation_date_time() {
        // Lambda gives whole seconds as an integer.
        let value = if at.subsec_nanos() == 0 {
            json!(at.secs())
        } else {
            json!(at.as_secs_f64())
        };
        dynamodb.insert("ApproximateCreationDateTime".into(), value);
    }
    for (name, image) in [
        ("Keys", change.keys()),
        ("NewImage", change.new_image()),
        ("OldImage", change.old_image()),
    ] {
        if let Some(image) = image {
            dynamodb.insert(name.into(), item(image)?);
        }
    }
    if let Some(sequence) = change.sequence_number() {
        dynamodb.insert("SequenceNumber".into(), json!(sequence));
    }
    dynamodb.insert("SizeBytes".into(), json!(change.size_bytes().unwrap_or(0)));
    if let Some(view) = change.stream_view_type() {
        dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
    }

    let mut out = Map::new();
    out.insert("eventID".into(), json!(record.event_id().unwrap_or("")));
    out.insert(
        "eventName".into(),
        json!(record.event_name().map(|n| n.as_str()).unwrap_or("")),
    );
    out.insert(
        "eventVersion".into(),
        json!(record.event_version().unwrap_or("1.1")),
    );
    out.insert(
        "eventSource".into(),
        json!(record.event_source().unwrap_or("aws:dynamodb")),
    );
    out.insert(
        "awsRegion".into(),
        json!(region.or(record.aws_region()).unwrap_or("")),
    );
    out.insert("dynamodb".into(), Value::Object(dynamodb));
    out.insert("eventSourceARN".into(), json!(stream_arn));
    if let Some(identity) = record.user_identity() {
        // A TTL deletion: {"type": "Service", "principalId": "dynamodb.amazonaws.com"}.
        out.insert(
            "userIdentity".into(),
            json!({
                "type": identity.r#type().unwrap_or(""),
                "principalId": identity.principal_id().unwrap_or(""),
            }),
        );
    }
    Ok(Value::Object(out))
}

/// An item (or key) as DynamoDB JSON: `{"name": {"S": "..."}, ...}`.
fn item(image: &HashMap<String, AttributeValue>) -> Result<Value, Error> {
    image
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect::<Result<Map<String, Value>, Error>>()
        .map(Value::Object)
}

/// One attribute value as DynamoDB JSON (binary as standard base64, as the DynamoDB API sends it).
pub fn attribute(value: &AttributeValue) -> Result<Value, Error> {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": base64(b.as_ref()) }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Ns(ns) => json!({ "NS": ns }),
        AttributeValue::Bs(bs) => {
            json!({ "BS": bs.iter().map(|b| base64(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::M(m) => json!({ "M": item(m)? }),
        AttributeValue::L(l) => {
            json!({ "L": l.iter().map(attribute).collect::<Result<Vec<_>, _>>()? })
        }
        AttributeValue::Null(is_null) => json!({ "NULL": is_null }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        other => return Err(Error::Record(format!("unknown attribute type: {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    #[test]
    fn every_attribute_type_reads_as_dynamodb_json() {
        let value = AttributeValue::M(HashMap::from([
            ("s".into(), s("text")),
            ("n".into(), AttributeValue::N("-1.5".into())),
            ("b".into(), AttributeValue::B(Blob::new(b"hi".to_vec()))),
            (
                "ss".into(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            ("ns".into(), AttributeValue::Ns(vec!["1".into()])),
            ("bs".into(), AttributeValue::Bs(vec![Blob::new(vec![0xff])])),
            (
                "l".into(),
                AttributeValue::L(vec![AttributeValue::Bool(true)]),
            ),
            ("null".into(), AttributeValue::Null(true)),
        ]));
        assert_eq!(
            attribute(&value).unwrap(),
            json!({"M": {
                "s": {"S": "text"}, "n": {"N": "-1.5"}, "b": {"B": "aGk="},
                "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]}, "bs": {"BS": ["/w=="]},
                "l": {"L": [{"BOOL": true}]}, "null": {"NULL": true},
            }})
        );
    }

    #[test]
    fn a_record_reads_as_lambdas_event_record() {
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Modify)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("ddblocal")
            .dynamodb(
                StreamRecord::builder()
                    .approximate_creation_date_time(DateTime::from_secs(1_700_000_000))
                    .keys("pk", s("P"))
                    .keys("sk", s("S"))
                    .new_image("pk", s("P"))
                    .new_image("v", AttributeValue::N("2".into()))
                    .old_image("pk", s("P"))
                    .old_image("v", AttributeValue::N("1".into()))
                    .sequence_number("100")
                    .size_bytes(42)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )
            .build();
        let value = lambda_record(&record, "arn:stream", Some("us-east-1")).unwrap();
        assert_eq!(
            value,
            json!({
                "eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:stream",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"pk": {"S": "P"}, "sk": {"S": "S"}},
                    "NewImage": {"pk": {"S": "P"}, "v": {"N": "2"}},
                    "OldImage": {"pk": {"S": "P"}, "v": {"N": "1"}},
                    "SequenceNumber": "100", "SizeBytes": 42,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            })
        );
        let event: Event = serde_json::from_value(json!({ "Records": [value] })).unwrap();
        let change = &event.records[0].change;
        assert_eq!(event.records[0].event_name, "MODIFY");
        assert_eq!(change.new_image.len(), 2);
        assert_eq!(change.old_image.len(), 2);
        assert_eq!(
            change.approximate_creation_date_time.timestamp(),
            1_700_000_000
        );
    }
}
