//! What reading the stream can fail with.

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
