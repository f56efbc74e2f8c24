//! The one DynamoDB table: its key schema, indexes and stream, as data that [`create_table`]
//! sends and that a test compares with `template.yaml`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;

use super::errors::storage;
use crate::error::{DomainError, DomainResult};

/// Partition key attribute of every item.
pub const PK: &str = "pk";
/// Sort key attribute of every item.
pub const SK: &str = "sk";
/// The local secondary index of tables made before ledger chunks (ledger by currency). A table
/// that has it keeps the earlier key layout: `wallets-admin upgrade-table` copies it to this one.
pub const EARLIER_LSI: &str = "by_currency";
/// Customers by email within a business: `<business>#<lower-case email>`.
pub const GSI_EMAIL: &str = "by_email";
pub const GSI_EMAIL_PK: &str = "email_key";
/// Pending holds by expiry, for the sweep (sparse: only pending holds carry these attributes).
/// Partition `EXP#<shard 0..HOLD_EXPIRY_SHARDS>`, sort key `<expires_at>#<hold key>`.
pub const GSI_EXPIRY: &str = "by_expiry";
pub const GSI_EXPIRY_PK: &str = "exp_shard";
pub const GSI_EXPIRY_SK: &str = "exp_at";
/// Partitions of the expiry index, so that hold writes never meet a single hot index key.
pub const HOLD_EXPIRY_SHARDS: u32 = 8;

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("static key schema")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("static attribute")
}

fn projection(projection_type: ProjectionType) -> Projection {
    Projection::builder()
        .projection_type(projection_type)
        .build()
}

/// Billing of the table: on-demand.
pub const BILLING_MODE: BillingMode = BillingMode::PayPerRequest;

/// What the table's stream carries: both images of every change (the webhook dispatcher compares
/// them to tell which event a change is).
pub const STREAM_VIEW_TYPE: StreamViewType = StreamViewType::NewAndOldImages;

/// The table's stream: on, with [`STREAM_VIEW_TYPE`].
pub fn stream_specification() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(STREAM_VIEW_TYPE)
        .build()
        .expect("static stream specification")
}

/// The attributes that a key of the table or of an index uses; all strings.
pub fn attribute_definitions() -> Vec<AttributeDefinition> {
    [PK, SK, GSI_EMAIL_PK, GSI_EXPIRY_PK, GSI_EXPIRY_SK]
        .into_iter()
        .map(string_attribute)
        .collect()
}

/// The table's key: `pk` (hash), `sk` (range).
pub fn key_schema() -> Vec<KeySchemaElement> {
    vec![key(PK, KeyType::Hash), key(SK, KeyType::Range)]
}

/// `by_email` (customers by email) and `by_expiry` (pending holds by expiry, keys only).
pub fn global_secondary_indexes() -> Vec<GlobalSecondaryIndex> {
    vec![
        GlobalSecondaryIndex::builder()
            .index_name(GSI_EMAIL)
            .key_schema(key(GSI_EMAIL_PK, KeyType::Hash))
            .key_schema(key(SK, KeyType::Range))
            .projection(projection(ProjectionType::All))
            .build()
            .expect("static index"),
        GlobalSecondaryIndex::builder()
            .index_name(GSI_EXPIRY)
            .key_schema(key(GSI_EXPIRY_PK, KeyType::Hash))
            .key_schema(key(GSI_EXPIRY_SK, KeyType::Range))
            .projection(projection(ProjectionType::KeysOnly))
            .build()
            .expect("static index"),
    ]
}

/// Creates the table from the definition above unless it already exists. `template.yaml` declares
/// the same definition (tests/tests/routes.rs compares the two).
pub async fn create_table(client: &Client, table_name: &str) -> DomainResult<bool> {
    let result = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BILLING_MODE)
        .set_attribute_definitions(Some(attribute_definitions()))
        .set_key_schema(Some(key_schema()))
        .set_global_secondary_indexes(Some(global_secondary_indexes()))
        .stream_specification(stream_specification())
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            if has_earlier_layout(client, table_name).await? {
                return Err(DomainError::Storage(format!(
                    "table {table_name} has the key layout of an earlier version (its ledger index \
                     `{EARLIER_LSI}`, which DynamoDB cannot drop): copy it to a new table with \
                     `wallets-admin upgrade-table {table_name} <new table>`, or in place (writes \
                     paused) with `wallets-admin upgrade-table {table_name}`"
                )));
            }
            add_missing_indexes(client, table_name).await?;
            enable_missing_stream(client, table_name).await?;
            Ok(false)
        }
        Err(err) => Err(storage(&format!("table {table_name}"), err)),
    }
}

/// Whether the table has the earlier ledger index (and so the earlier key layout); an absent
/// table has not.
pub async fn has_earlier_layout(client: &Client, table_name: &str) -> DomainResult<bool> {
    let described = client.describe_table().table_name(table_name).send().await;
    match described {
        Ok(out) => Ok(out.table().is_some_and(|t| {
            t.local_secondary_indexes()
                .iter()
                .any(|i| i.index_name() == Some(EARLIER_LSI))
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(storage(&format!("table {table_name}"), e)),
    }
}

/// Adds the global indexes a table made by an earlier version lacks (e.g. a local table kept in
/// `.local/data` from before `by_expiry`), one at a time as DynamoDB requires.
async fn add_missing_indexes(client: &Client, table_name: &str) -> DomainResult<()> {
    let described = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|e| storage(&format!("table {table_name}"), e))?;
    let existing: Vec<String> = described
        .table()
        .map(|t| {
            t.global_secondary_indexes()
                .iter()
                .filter_map(|i| i.index_name().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for index in global_secondary_indexes() {
        if existing.iter().any(|name| name == index.index_name()) {
            continue;
        }
        let create = aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.index_name())
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned())
            .build()
            .expect("static index");
        client
            .update_table()
            .table_name(table_name)
            .set_attribute_definitions(Some(attribute_definitions()))
            .global_secondary_index_updates(
                aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                    .create(create)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| storage(&format!("table {table_name}"), e))?;
        tracing::info!(
            table = table_name,
            index = index.index_name(),
            "added index"
        );
    }
    Ok(())
}

/// Turns on the stream of a table made by an earlier version without one (e.g. a local table kept
/// in `.local/data` from before webhooks). A table whose stream is on with another view type is
/// left alone: DynamoDB would refuse to change it in place (it must be turned off first, which
/// loses what the old stream holds), so that is for whoever manages the table to decide.
async fn enable_missing_stream(client: &Client, table_name: &str) -> DomainResult<()> {
    let described = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|e| storage(&format!("table {table_name}"), e))?;
    let current = described
        .table()
        .and_then(|t| t.stream_specification())
        .filter(|s| s.stream_enabled());
    if let Some(current) = current {
        if current.stream_view_type() != Some(&STREAM_VIEW_TYPE) {
            tracing::warn!(
                table = table_name,
                view_type = ?current.stream_view_type(),
                expected = STREAM_VIEW_TYPE.as_str(),
                "the table's stream has another view type"
            );
        }
        return Ok(());
    }
    client
        .update_table()
        .table_name(table_name)
        .stream_specification(stream_specification())
        .send()
        .await
        .map_err(|e| storage(&format!("table {table_name}"), e))?;
    tracing::info!(table = table_name, "turned on the stream");
    Ok(())
}
