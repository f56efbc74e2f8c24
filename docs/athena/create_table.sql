-- The table Athena reads one DynamoDB export with (DYNAMODB_JSON: gzipped lines of {"Item": {...}}
-- under AWSDynamoDB/<export id>/data/). Replace the bucket and the export id; only the attributes
-- the queries use are declared (the SerDe skips the rest). Athena reads .json.gz as it is.
CREATE EXTERNAL TABLE wallets_export (
  Item struct<
    pk: struct<S: string>,
    sk: struct<S: string>,
    doc: struct<S: string>
  >
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://<ExportBucket>/exports/AWSDynamoDB/<export id>/data/'
