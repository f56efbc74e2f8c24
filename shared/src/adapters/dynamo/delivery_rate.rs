//! An endpoint's delivery slots per clock second, its `rate_limit`: one item per endpoint and
//! second that a delivery takes a slot of, in the endpoint's delivery partition:
//!
//! | item  | pk                          | sk              | other |
//! |-------|-----------------------------|-----------------|-------|
//! | slots | `WHK#<business>#<endpoint>` | `RATE#<second>` | `slots`: taken; `ttl`: removed after |
//!
//! Taking a slot is one conditional `UpdateItem` (`ADD slots 1` while below the limit), so the
//! limit holds however many deliverers and sweeps deliver to the endpoint at once.

use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::number;
use super::codec::TTL;
use super::keys::key_of;
use super::meter::consumed_capacity;
use super::webhooks::delivery_pk;
use super::DynamoStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, EndpointId};

/// The attribute counting the slots taken.
pub const SLOTS: &str = "slots";
const SLOT_SK_PREFIX: &str = "RATE#";
/// How long a second's item is kept (the table's TTL removes it after).
const SLOT_KEPT_S: u64 = 120;

impl DynamoStore {
    /// [`WebhookStore::take_delivery_slot`](crate::ports::WebhookStore::take_delivery_slot).
    pub(super) async fn take_slot(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        second: u64,
        limit: u32,
    ) -> DomainResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(
                delivery_pk(business_id, endpoint_id),
                &format!("{SLOT_SK_PREFIX}{second}"),
            )))
            .update_expression("ADD #slots :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#slots) OR #slots < :limit")
            .expression_attribute_names("#slots", SLOTS)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", number(limit))
            .expression_attribute_values(":ttl", number(second + SLOT_KEPT_S))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(
            result,
            UpdateItemOutput::consumed_capacity,
            "take a delivery slot",
        )
    }
}
