//! Webhook endpoints and deliveries in the table:
//!
//! | item       | pk                               | sk                     | other keys |
//! |------------|----------------------------------|------------------------|------------|
//! | endpoint   | `BIZ#<business>`                 | `WHK#<endpoint>`       |            |
//! | endpoint count | `BIZ#<business>`             | `WHKCOUNT`             | `cnt`: the business's endpoints |
//! | delivery   | `WHK#<business>#<endpoint>`      | `DLV#<event>`          | pending: `exp_shard` = `RTY#<n>`, `exp_at` = `<due ms>#<event>` (GSI `by_expiry`) |
//! | attempt    | `WHK#<business>#<endpoint>`      | `ATT#<event>#<n:02>`   |            |
//!
//! The endpoint count is kept in step by `endpoint_count.rs`; an endpoint's delivery slots per
//! second (its `rate_limit`) are counted by `delivery_rate.rs`.
//!
//! Deliveries and attempts carry `ttl` (seconds): the table's time to live removes them after
//! [`rules::DELIVERY_LOG_DAYS`]. Event ids are ULIDs of the change's time, so a delivery log
//! query newest first is a reverse range read.

use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::codec::{corrupt, from_doc, number, text, to_doc, DOC, TTL};
use super::commit::rejection;
use super::errors::storage;
use super::keys::{business_pk, key_of, s, Item};
use super::meter::{consumed_capacity, Call};
use super::table::{GSI_EXPIRY_PK, GSI_EXPIRY_SK, PK, SK};
use super::DynamoStore;
use crate::change::model::Rejection;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, EndpointId, EventId};
use crate::ports::WebhookStore;
use crate::webhooks::model::{
    Attempt, Delivery, DeliveryQuery, DeliveryRef, DeliveryStatus, Endpoint,
};
use crate::webhooks::rules;

/// Partitions of the retry index, so that delivery writes never meet one hot index key.
pub const RETRY_SHARDS: u32 = 8;
const ENDPOINT_SK_PREFIX: &str = "WHK#";
const DELIVERY_PK_PREFIX: &str = "WHK#";
const DELIVERY_SK_PREFIX: &str = "DLV#";
const ATTEMPT_SK_PREFIX: &str = "ATT#";
/// On endpoints: the version (condition of a replacement).
const VERSION: &str = "ver";
/// On deliveries: attempts made, and the claim's end in ms (conditions of the next write).
const ATTEMPTS: &str = "n";
const LEASE: &str = "lease";
/// On deliveries: status and event type (filters of the log).
const STATUS: &str = "st";
const EVENT_TYPE: &str = "typ";
/// Items read per delivery-log query call.
const LOG_BATCH: i32 = 100;

pub(super) fn endpoint_sk(id: &EndpointId) -> String {
    format!("{ENDPOINT_SK_PREFIX}{id}")
}

pub(super) fn delivery_pk(business_id: &BusinessId, endpoint_id: &EndpointId) -> String {
    format!("{DELIVERY_PK_PREFIX}{business_id}#{endpoint_id}")
}

fn delivery_sk(id: &EventId) -> String {
    format!("{DELIVERY_SK_PREFIX}{id}")
}

fn attempt_sk(id: &EventId, number: u32) -> String {
    format!("{ATTEMPT_SK_PREFIX}{id}#{number:02}")
}

const RETRY_SHARD_PREFIX: &str = "RTY#";

fn retry_shard_of(id: &EventId) -> String {
    let shard = id.as_str().bytes().map(u32::from).sum::<u32>() % RETRY_SHARDS;
    format!("{RETRY_SHARD_PREFIX}{shard}")
}

pub fn endpoint_item(endpoint: &Endpoint) -> Item {
    let mut item = key_of(
        business_pk(&endpoint.business_id),
        &endpoint_sk(&endpoint.id),
    );
    item.insert(VERSION.into(), number(endpoint.version));
    item.insert(DOC.into(), to_doc(endpoint));
    item
}

pub fn delivery_item(delivery: &Delivery) -> Item {
    let mut item = key_of(
        delivery_pk(&delivery.business_id, &delivery.endpoint_id),
        &delivery_sk(&delivery.id),
    );
    item.insert(ATTEMPTS.into(), number(delivery.attempt_count));
    if let Some(lease) = delivery.lease_until {
        item.insert(LEASE.into(), number(lease.unix_ms));
    }
    item.insert(STATUS.into(), s(delivery.status.as_str()));
    item.insert(EVENT_TYPE.into(), s(delivery.event_type.as_str()));
    if let (DeliveryStatus::Pending, Some(due)) = (delivery.status, delivery.next_attempt_at) {
        item.insert(GSI_EXPIRY_PK.into(), s(retry_shard_of(&delivery.id)));
        item.insert(
            GSI_EXPIRY_SK.into(),
            s(format!("{:013}#{}", due.unix_ms, delivery.id)),
        );
    }
    item.insert(TTL.into(), number(rules::expires_at_s(delivery.created_at)));
    item.insert(DOC.into(), to_doc(delivery));
    item
}

fn attempt_item(delivery: &Delivery, attempt: &Attempt) -> Item {
    let mut item = key_of(
        delivery_pk(&delivery.business_id, &delivery.endpoint_id),
        &attempt_sk(&delivery.id, attempt.number),
    );
    item.insert(TTL.into(), number(rules::expires_at_s(delivery.created_at)));
    item.insert(DOC.into(), to_doc(attempt));
    item
}

fn delivery_ref_from(item: &Item) -> DomainResult<DeliveryRef> {
    let bad = || corrupt("retry index points at a non-delivery item");
    let (business, endpoint) = text(item, PK)?
        .strip_prefix(DELIVERY_PK_PREFIX)
        .and_then(|rest| rest.split_once('#'))
        .ok_or_else(bad)?;
    let id = text(item, SK)?
        .strip_prefix(DELIVERY_SK_PREFIX)
        .ok_or_else(bad)?;
    Ok(DeliveryRef {
        business_id: BusinessId::parse(business).map_err(corrupt)?,
        endpoint_id: EndpointId::parse(endpoint).map_err(corrupt)?,
        id: EventId::parse(id).map_err(corrupt)?,
    })
}

/// The condition that `seen` is what is stored: its attempt count and lease.
fn unchanged(seen: &Delivery) -> (String, Vec<(String, AttributeValue)>) {
    match seen.lease_until {
        Some(lease) => (
            format!("{ATTEMPTS} = :n AND {LEASE} = :lease"),
            vec![
                (":n".into(), number(seen.attempt_count)),
                (":lease".into(), number(lease.unix_ms)),
            ],
        ),
        None => (
            format!("{ATTEMPTS} = :n AND attribute_not_exists({LEASE})"),
            vec![(":n".into(), number(seen.attempt_count))],
        ),
    }
}

pub(super) fn conditional_put(
    table: &str,
    item: Item,
    condition: &str,
    values: Vec<(String, AttributeValue)>,
) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_values((!values.is_empty()).then(|| values.into_iter().collect()))
        .build()
        .expect("put has table, item");
    TransactWriteItem::builder().put(put).build()
}

impl DynamoStore {
    /// A transaction of conditional writes: `None` if written (its capacity recorded), else why
    /// it was refused (a failed condition, or a conflict with another transaction).
    pub(super) async fn transact_items(
        &self,
        items: Vec<TransactWriteItem>,
        what: &str,
    ) -> DomainResult<Option<Rejection>> {
        let result = self
            .client
            .transact_write_items()
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        match result {
            Ok(_) => {
                self.record(Call::Transaction(&items));
                Ok(None)
            }
            Err(err) => match rejection(&err) {
                Some(rejected) => Ok(Some(rejected)),
                None => Err(storage(what, err)),
            },
        }
    }

    /// A conditional put: `false` if its condition failed.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        values: Vec<(String, AttributeValue)>,
        what: &str,
    ) -> DomainResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(
                (!values.is_empty()).then(|| values.into_iter().collect()),
            )
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(result, PutItemOutput::consumed_capacity, what)
    }

    /// Every item of a partition whose sort key starts with `prefix`, in key order.
    async fn query_prefix(&self, pk: String, prefix: &str, what: &str) -> DomainResult<Vec<Item>> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        self.query_all(request, what).await
    }
}

impl WebhookStore for DynamoStore {
    async fn insert_endpoint(&self, endpoint: &Endpoint, listed: usize) -> DomainResult<bool> {
        self.insert_counted_endpoint(endpoint, listed).await
    }

    async fn replace_endpoint(&self, endpoint: &Endpoint) -> DomainResult<bool> {
        let read = endpoint.version.saturating_sub(1);
        self.put_if(
            endpoint_item(endpoint),
            &format!("{VERSION} = :v"),
            vec![(":v".into(), number(read))],
            "update webhook",
        )
        .await
    }

    async fn delete_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<bool> {
        self.delete_counted_endpoint(business_id, endpoint_id).await
    }

    async fn get_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<Option<Endpoint>> {
        let key = key_of(business_pk(business_id), &endpoint_sk(endpoint_id));
        self.get_as(key, true, from_doc).await
    }

    async fn list_endpoints(&self, business_id: &BusinessId) -> DomainResult<Vec<Endpoint>> {
        self.query_prefix(
            business_pk(business_id),
            ENDPOINT_SK_PREFIX,
            "list webhooks",
        )
        .await?
        .iter()
        .map(from_doc)
        .collect()
    }

    async fn insert_delivery(&self, delivery: &Delivery) -> DomainResult<bool> {
        self.put_if(
            delivery_item(delivery),
            "attribute_not_exists(pk)",
            vec![],
            "record delivery",
        )
        .await
    }

    async fn update_delivery(
        &self,
        delivery: &Delivery,
        seen: &Delivery,
        attempt: Option<&Attempt>,
    ) -> DomainResult<bool> {
        let (condition, values) = unchanged(seen);
        let Some(attempt) = attempt else {
            return self
                .put_if(
                    delivery_item(delivery),
                    &condition,
                    values,
                    "claim delivery",
                )
                .await;
        };
        let items = vec![
            conditional_put(&self.table, delivery_item(delivery), &condition, values),
            conditional_put(
                &self.table,
                attempt_item(delivery, attempt),
                "attribute_not_exists(pk)",
                vec![],
            ),
        ];
        // A failed condition or a conflicting transaction: another worker changed it.
        let rejected = self
            .transact_items(items, "record delivery attempt")
            .await?;
        Ok(rejected.is_none())
    }

    async fn get_delivery(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> DomainResult<Option<(Delivery, Vec<Attempt>)>> {
        let pk = delivery_pk(business_id, endpoint_id);
        let Some(delivery) = self
            .get_as(
                key_of(pk.clone(), &delivery_sk(id)),
                true,
                from_doc::<Delivery>,
            )
            .await?
        else {
            return Ok(None);
        };
        let attempts = self
            .query_prefix(
                pk,
                &format!("{ATTEMPT_SK_PREFIX}{id}#"),
                "read delivery attempts",
            )
            .await?
            .iter()
            .map(from_doc)
            .collect::<DomainResult<Vec<Attempt>>>()?;
        Ok(Some((delivery, attempts)))
    }

    async fn list_deliveries(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        query: &DeliveryQuery,
    ) -> DomainResult<Vec<Delivery>> {
        let upper = match &query.after {
            Some(after) => delivery_sk(after),
            None => format!("{DELIVERY_SK_PREFIX}~"),
        };
        let mut filters = Vec::new();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(delivery_pk(business_id, endpoint_id)))
            .expression_attribute_values(":low", s(DELIVERY_SK_PREFIX))
            .expression_attribute_values(":high", s(upper.clone()))
            .scan_index_forward(false)
            .consistent_read(true);
        if let Some(status) = query.status {
            filters.push(format!("{STATUS} = :status"));
            request = request.expression_attribute_values(":status", s(status.as_str()));
        }
        if let Some(event_type) = query.event_type {
            filters.push(format!("{EVENT_TYPE} = :type"));
            request = request.expression_attribute_values(":type", s(event_type.as_str()));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        let want = query.limit as usize;
        let mut found = Vec::new();
        let mut start_key = None;
        let mut examined: u64 = 0;
        loop {
            let out = request
                .clone()
                .limit(LOG_BATCH)
                .return_consumed_capacity(consumed_capacity(self.meter()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| storage("list deliveries", e))?;
            self.record(Call::Read(out.consumed_capacity()));
            for item in out.items() {
                // BETWEEN is inclusive: the cursor itself was on the previous page.
                if query.after.is_some() && text(item, SK)? == upper {
                    continue;
                }
                if found.len() < want {
                    found.push(from_doc(item)?);
                }
            }
            start_key = out.last_evaluated_key;
            if start_key.is_none() || found.len() >= want {
                return Ok(found);
            }
            // A filter matching few would read the whole log: bounded, as every list is.
            examined += u64::try_from(out.scanned_count).unwrap_or(0);
            if examined >= crate::kernel::paging::LIST_EXAMINED_MAX {
                return Err(crate::kernel::paging::too_broad("delivery log").into());
            }
        }
    }

    async fn take_delivery_slot(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        second: u64,
        limit: u32,
    ) -> DomainResult<bool> {
        self.take_slot(business_id, endpoint_id, second, limit)
            .await
    }

    async fn due_deliveries(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<DeliveryRef>> {
        let shards = (0..RETRY_SHARDS).map(|shard| format!("{RETRY_SHARD_PREFIX}{shard}"));
        self.query_due(
            shards,
            now_ms,
            limit,
            "find due deliveries",
            delivery_ref_from,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Timestamp;
    use crate::webhooks::model::EventType;

    fn delivery(status: DeliveryStatus) -> Delivery {
        Delivery {
            id: EventId::parse("evt_01").unwrap(),
            endpoint_id: EndpointId::parse("whk_01").unwrap(),
            business_id: BusinessId::parse("bus_01").unwrap(),
            event_type: EventType::ToppedUp,
            payload: "{}".into(),
            status,
            attempt_count: 1,
            next_attempt_at: Some(Timestamp::from_unix_ms(5_000)),
            lease_until: None,
            created_at: Timestamp::from_unix_ms(0),
            updated_at: Timestamp::from_unix_ms(0),
        }
    }

    #[test]
    fn only_a_pending_delivery_is_in_the_retry_index_and_it_finds_its_way_back() {
        let pending = delivery_item(&delivery(DeliveryStatus::Pending));
        assert_eq!(
            pending[GSI_EXPIRY_SK].as_s().unwrap(),
            "0000000005000#evt_01"
        );
        let found = delivery_ref_from(&pending).unwrap();
        assert_eq!(found.endpoint_id.as_str(), "whk_01");
        assert_eq!(found.business_id.as_str(), "bus_01");
        for done in [DeliveryStatus::Succeeded, DeliveryStatus::Failed] {
            assert!(!delivery_item(&delivery(done)).contains_key(GSI_EXPIRY_PK));
        }
        assert_eq!(
            pending[TTL].as_n().unwrap(),
            &(rules::DELIVERY_LOG_DAYS * 86_400).to_string()
        );
    }
}
