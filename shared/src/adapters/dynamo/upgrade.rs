//! Upgrades a table made by an earlier version to the current key layout. Earlier tables kept a
//! customer's ledger entries and invoice payments in the customer's partition, with the local
//! secondary index `by_currency` for the ledger of one currency; that index caps a partition
//! key's items at 10 GB (about nine million entries per customer). DynamoDB cannot drop a local
//! index, so an upgrade copies the table into one made anew: entries into their ledger chunks,
//! each with its copy in its currency's ledger, holds into their first chunk, invoice payments
//! into their own partitions,
//! everything else as it is. Items it writes carry [`COPIED`]: their insertion makes no event
//! (the old table's stream sent those).

use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use super::codec::{currency_copy_item, entry_from, hold_from, invoice_from, text, COPIED};
use super::errors::storage;
use super::keys::{chunk_of, customer_of_pk, entry_pk, hold_pk, invoice_pk, s, Item};
use super::table::{self, PK, SK};
use crate::error::{DomainError, DomainResult};

/// The sort key of the earlier ledger index, dropped from entries.
const EARLIER_LSI_SK: &str = "csk";
/// Items per `BatchWriteItem` (DynamoDB's limit).
const BATCH_WRITE_MAX: usize = 25;
/// Segments of the copy's parallel scan, copied at once.
const SCAN_SEGMENTS: i32 = 8;

/// What a copy did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Items read from the old table.
    pub read: u64,
    /// Items written to the new one (each entry also writes its currency copy).
    pub written: u64,
}

/// The items of the current layout that an item of an earlier table becomes: an entry in the
/// customer's partition moves to its ledger chunk and gains its currency copy; a hold moves to its
/// customer's first hold chunk; an invoice payment moves to its own partition; any other item stays as it is. Items already in the current layout
/// stay as they are, so an upgrade can be run again.
pub fn upgraded(mut item: Item) -> DomainResult<Vec<Item>> {
    let pk = text(&item, PK)?;
    let sk = text(&item, SK)?;
    // An earlier customer item: `CUS#<business>#<customer>` and nothing after.
    let in_customer_partition =
        customer_of_pk(pk).is_some_and(|(b, c)| pk.len() == "CUS#".len() + b.len() + 1 + c.len());
    let mut items = Vec::with_capacity(2);
    if in_customer_partition && sk.starts_with("LED#") {
        let entry = entry_from(&item)?;
        let chunk = chunk_of(entry.customer_seq);
        item.insert(
            PK.to_owned(),
            s(entry_pk(&entry.business_id, &entry.customer_id, chunk)),
        );
        item.remove(EARLIER_LSI_SK);
        items.push(currency_copy_item(&entry));
    } else if in_customer_partition && sk.starts_with("HLD#") {
        // Earlier hold ids carry no chunk: chunk 0.
        let hold = hold_from(&item)?;
        item.insert(
            PK.to_owned(),
            s(hold_pk(&hold.business_id, &hold.customer_id, 0)),
        );
    } else if in_customer_partition && sk.starts_with("INV#") {
        let payment = invoice_from(&item)?;
        item.insert(
            PK.to_owned(),
            s(invoice_pk(
                &payment.business_id,
                &payment.customer_id,
                &payment.invoice_id,
            )),
        );
    }
    items.insert(0, item);
    for item in &mut items {
        item.insert(COPIED.to_owned(), s("1"));
    }
    Ok(items)
}

/// Copies every item of `from` into `to`, in the current layout ([`upgraded`]); makes `to` first
/// if it does not exist. Meant for a table whose writers are paused: a write to `from` during the
/// copy may be missed.
pub async fn copy_table(client: &Client, from: &str, to: &str) -> DomainResult<Copied> {
    if table::has_earlier_layout(client, to).await? {
        return Err(DomainError::Storage(format!(
            "table {to} has the earlier layout too: copy into a new table"
        )));
    }
    table::create_table(client, to).await?;
    wait_until_active(client, to).await?;
    // A parallel scan: each segment's pages are read and written by a task of its own.
    let segments = (0..SCAN_SEGMENTS).map(|segment| copy_segment(client, from, to, segment));
    let mut copied = Copied::default();
    for done in futures_util::future::join_all(segments).await {
        let done = done?;
        copied.read += done.read;
        copied.written += done.written;
    }
    Ok(copied)
}

/// Copies the items of one segment of a parallel scan of `from`.
async fn copy_segment(client: &Client, from: &str, to: &str, segment: i32) -> DomainResult<Copied> {
    let mut copied = Copied::default();
    let mut start_key = None;
    loop {
        let page = client
            .scan()
            .table_name(from)
            .consistent_read(true)
            .segment(segment)
            .total_segments(SCAN_SEGMENTS)
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(|e| storage(&format!("scan {from}"), e))?;
        let mut items = Vec::new();
        for item in page.items() {
            copied.read += 1;
            items.extend(upgraded(item.clone())?);
        }
        copied.written += items.len() as u64;
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            write_all(client, to, chunk).await?;
        }
        start_key = page.last_evaluated_key;
        if start_key.is_none() {
            return Ok(copied);
        }
    }
}

/// Upgrades `name` in place: copies it into `<name>-upgrade`, deletes it, makes it anew, copies
/// the items back and deletes the temporary table. `None` when there is nothing to upgrade (no
/// such table, or one already in the current layout, and no temporary table). For a table whose
/// writers are stopped (the local one in `.local/data`); on AWS, [`copy_table`] into a new table
/// keeps the old one.
///
/// Resumable: a run that died leaves `<name>-upgrade`, and the next run carries on from the step
/// it reached. The table is deleted only once the copy out is whole, so a temporary table beside
/// a table of the current layout (or none) holds everything: it is copied back (again: the puts
/// are idempotent) and then deleted. Beside a table still in the earlier layout, the copy out is
/// made again over it.
pub async fn upgrade_in_place(client: &Client, name: &str) -> DomainResult<Option<Copied>> {
    let temporary = format!("{name}-upgrade");
    if table::has_earlier_layout(client, &temporary).await? {
        return Err(DomainError::Storage(format!(
            "table {temporary} exists with the earlier layout: it is not this tool's; delete it first"
        )));
    }
    let earlier = table::has_earlier_layout(client, name).await?;
    let resuming = table_exists(client, &temporary).await?;
    if !earlier && !resuming {
        return Ok(None);
    }
    let copied = if earlier {
        let copied = copy_table(client, name, &temporary).await?;
        delete(client, name).await?;
        Some(copied)
    } else {
        tracing::warn!(table = name, %temporary, "an earlier in-place upgrade stopped before it ended: copying the rest back");
        None
    };
    let back = copy_table(client, &temporary, name).await?;
    if let Some(copied) = copied {
        if back.written != copied.written {
            return Err(DomainError::Storage(format!(
                "upgrade of {name}: {} items copied out, {} copied back; {temporary} is kept: run the upgrade again to finish",
                copied.written, back.written
            )));
        }
    }
    delete(client, &temporary).await?;
    Ok(Some(copied.unwrap_or(back)))
}

/// Whether the table `name` exists.
async fn table_exists(client: &Client, name: &str) -> DomainResult<bool> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(storage(&format!("table {name}"), e)),
    }
}

/// Writes `items` with `BatchWriteItem`, again for what DynamoDB leaves unprocessed.
async fn write_all(client: &Client, table: &str, items: &[Item]) -> DomainResult<()> {
    let mut requests: Vec<WriteRequest> = items
        .iter()
        .map(|item| {
            let put = PutRequest::builder()
                .set_item(Some(item.clone()))
                .build()
                .expect("put has an item");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let mut pause = Duration::from_millis(50);
    while !requests.is_empty() {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(|e| storage(&format!("write {table}"), e))?;
        requests = out
            .unprocessed_items
            .and_then(|mut left| left.remove(table))
            .unwrap_or_default();
        if !requests.is_empty() {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
    Ok(())
}

async fn delete(client: &Client, name: &str) -> DomainResult<()> {
    client
        .delete_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| storage(&format!("delete table {name}"), e))?;
    // On AWS the table is gone some seconds later; its name is free only then.
    for _ in 0..600 {
        let described = client.describe_table().table_name(name).send().await;
        match described {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(())
            }
            Err(e) => return Err(storage(&format!("table {name}"), e)),
            Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    Err(DomainError::Storage(format!(
        "table {name} still exists 10 minutes after its deletion"
    )))
}

async fn wait_until_active(client: &Client, name: &str) -> DomainResult<()> {
    for _ in 0..600 {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| storage(&format!("table {name}"), e))?;
        let status = described.table().and_then(|t| t.table_status().cloned());
        if status == Some(aws_sdk_dynamodb::types::TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(DomainError::Storage(format!(
        "table {name} is not active after 10 minutes"
    )))
}
