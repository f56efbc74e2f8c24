//! Local run only: reads a table's DynamoDB stream (DynamoDB Local's) and hands out its records
//! in batches shaped exactly as Lambda passes them to a DynamoDB stream function, so that the
//! local poller (the `local-streams` binary) can stand in for Lambda's event-source mapping.
//!
//! [`StreamTail`] follows every shard of the table's latest stream: a shard is read only once its
//! parent is read to its end (as Lambda does after a split), records of one shard come out in
//! order, and one batch holds records of one shard only. The stream is described again every few
//! seconds, and at once when a shard ends, to find new shards.
//!
//! `tail.rs` follows the shards; `record.rs` turns a stream record into Lambda's JSON; `error.rs`
//! names what can fail.

mod error;
mod record;
mod tail;

pub use aws_lambda_events::dynamodb::Event;
pub use error::Error;
pub use record::{attribute, lambda_record};
pub use tail::{StartingPosition, StreamTail};
