//! A business's endpoint count, kept with its endpoints (`BIZ#<business>`, `WHKCOUNT`, `cnt`):
//! an endpoint is created or deleted in one transaction with the count, whose condition is the
//! count read just before, so the limit of [`rules::ENDPOINTS_MAX`] holds however many creates
//! race (a count changed meanwhile is read again). A business whose endpoints predate the count
//! starts it from the endpoints listed by the create.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::codec::{corrupt, number};
use super::keys::{business_pk, key_of, Item};
use super::meter::consumed_capacity;
use super::webhooks::{conditional_put, endpoint_item, endpoint_sk};
use super::DynamoStore;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, EndpointId};
use crate::webhooks::model::Endpoint;
use crate::webhooks::rules;

/// The sort key of a business's endpoint count, and its attribute.
const ENDPOINT_COUNT_SK: &str = "WHKCOUNT";
const COUNT: &str = "cnt";
/// Tries of an endpoint's creation or deletion whose business's count other creates or
/// deletes change meanwhile (each round, one of the racers wins).
const COUNT_TRIES: usize = 4 * rules::ENDPOINTS_MAX;
fn count_item(business_id: &BusinessId, count: usize) -> Item {
    let mut item = key_of(business_pk(business_id), ENDPOINT_COUNT_SK);
    item.insert(COUNT.into(), number(count));
    item
}

/// The write of a business's endpoint count `to`, on the condition that it is still `seen`
/// (`None`: there is no count yet).
fn count_put(
    table: &str,
    business_id: &BusinessId,
    seen: Option<usize>,
    to: usize,
) -> TransactWriteItem {
    match seen {
        Some(seen) => conditional_put(
            table,
            count_item(business_id, to),
            &format!("{COUNT} = :seen"),
            vec![(":seen".into(), number(seen))],
        ),
        None => conditional_put(
            table,
            count_item(business_id, to),
            "attribute_not_exists(pk)",
            vec![],
        ),
    }
}

/// What a transaction of an endpoint and its count came to.
enum Counted {
    Done,
    /// The endpoint's own condition failed (its id is taken, or it is gone).
    EndpointRefused,
    /// The count changed meanwhile, or another transaction held it: read it again.
    CountChanged,
}

impl DynamoStore {
    /// A business's endpoint count, if it has one.
    async fn endpoint_count(&self, business_id: &BusinessId) -> DomainResult<Option<usize>> {
        self.get_as(
            key_of(business_pk(business_id), ENDPOINT_COUNT_SK),
            true,
            |item| {
                item.get(COUNT)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| corrupt("endpoint count"))
            },
        )
        .await
    }

    /// Writes an endpoint change (first) and its business's count (second) in one transaction.
    async fn counted(&self, items: Vec<TransactWriteItem>, what: &str) -> DomainResult<Counted> {
        Ok(match self.transact_items(items, what).await? {
            None => Counted::Done,
            Some(r) if r.failed.contains(&0) => Counted::EndpointRefused,
            Some(_) => Counted::CountChanged,
        })
    }

    /// Deletes an endpoint of a business that has no endpoint count.
    async fn delete_endpoint_alone(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(
                business_pk(business_id),
                &endpoint_sk(endpoint_id),
            )))
            .condition_expression("attribute_exists(pk)")
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(
            result,
            DeleteItemOutput::consumed_capacity,
            "delete webhook",
        )
    }

    /// [`WebhookStore::insert_endpoint`](crate::ports::WebhookStore::insert_endpoint), with its count.
    pub(super) async fn insert_counted_endpoint(
        &self,
        endpoint: &Endpoint,
        listed: usize,
    ) -> DomainResult<bool> {
        let business_id = &endpoint.business_id;
        for _ in 0..COUNT_TRIES {
            let seen = self.endpoint_count(business_id).await?;
            let count = seen.unwrap_or(listed);
            if count >= rules::ENDPOINTS_MAX {
                return Err(rules::too_many_endpoints().into());
            }
            let items = vec![
                conditional_put(
                    &self.table,
                    endpoint_item(endpoint),
                    "attribute_not_exists(pk)",
                    vec![],
                ),
                count_put(&self.table, business_id, seen, count + 1),
            ];
            match self.counted(items, "create webhook").await? {
                Counted::Done => return Ok(true),
                Counted::EndpointRefused => return Ok(false),
                Counted::CountChanged => continue,
            }
        }
        Err(DomainError::Contention)
    }

    /// [`WebhookStore::delete_endpoint`](crate::ports::WebhookStore::delete_endpoint), with its count.
    pub(super) async fn delete_counted_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<bool> {
        for _ in 0..COUNT_TRIES {
            let Some(seen) = self.endpoint_count(business_id).await? else {
                // No count yet (every endpoint predates it): nothing to keep in step.
                return self.delete_endpoint_alone(business_id, endpoint_id).await;
            };
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(
                    business_pk(business_id),
                    &endpoint_sk(endpoint_id),
                )))
                .condition_expression("attribute_exists(pk)")
                .build()
                .expect("delete has table, key");
            let items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                count_put(&self.table, business_id, Some(seen), seen.saturating_sub(1)),
            ];
            match self.counted(items, "delete webhook").await? {
                Counted::Done => return Ok(true),
                Counted::EndpointRefused => return Ok(false),
                Counted::CountChanged => continue,
            }
        }
        Err(DomainError::Contention)
    }
}
