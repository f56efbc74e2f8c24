//! [`StreamTail`]: follows every shard of a table's latest stream (see the crate's documentation).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde_json::{json, Value};

use aws_lambda_events::dynamodb::Event;

use crate::error::Error;
use crate::record::lambda_record;

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
