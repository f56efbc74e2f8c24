//! The portal's items:
//!
//! | item              | pk                        | sk        | other |
//! |-------------------|---------------------------|-----------|-------|
//! | portal settings   | `BIZ#<business>`          | `#PORTAL` | `ver`, doc |
//! | portal revocation | `CUS#<business>#<customer>` | `#PORTAL` | `revoked` (ms) |
//! | attempt counter   | `RATE#<scope>#<window>`   | `#RATE`   | `tries`, `ttl` |
//!
//! Settings are put on condition of the version read (no lost change); a revocation is put on
//! condition that no later one is stored (it never moves back); an attempt is one conditional
//! `UpdateItem` (`ADD tries 1` while below the limit), so a limit holds however many instances
//! take at once.

use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{from_doc, number, to_doc, DOC, TTL, VERSION};
use super::keys::{business_pk, customer_pk, key_of};
use super::meter::consumed_capacity;
use super::DynamoStore;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, CustomerId, Timestamp};
use crate::portal::model::PortalSettings;
use crate::ports::PortalStore;

pub const PORTAL_SK: &str = "#PORTAL";
/// The revocation's instant (ms).
pub const REVOKED: &str = "revoked";
/// The prefix of an attempt counter's partition key.
pub const RATE_PK_PREFIX: &str = "RATE#";
const RATE_SK: &str = "#RATE";
/// The attempts taken in the counter's window.
pub const TRIES: &str = "tries";

fn rate_pk(scope: &str, window: u64) -> String {
    format!("{RATE_PK_PREFIX}{scope}#{window}")
}

impl PortalStore for DynamoStore {
    async fn get_portal_settings(
        &self,
        business_id: &BusinessId,
    ) -> DomainResult<Option<PortalSettings>> {
        self.get_as(key_of(business_pk(business_id), PORTAL_SK), true, from_doc)
            .await
    }

    async fn put_portal_settings(
        &self,
        business_id: &BusinessId,
        settings: &PortalSettings,
    ) -> DomainResult<bool> {
        let mut item = key_of(business_pk(business_id), PORTAL_SK);
        item.insert(VERSION.to_owned(), number(settings.version));
        item.insert(DOC.to_owned(), to_doc(settings));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .expression_attribute_names("#ver", VERSION);
        // No lost change: the stored settings are still the ones this change was made from.
        let put = if settings.version <= 1 {
            put.condition_expression("attribute_not_exists(#ver)")
        } else {
            put.condition_expression("#ver = :prev")
                .expression_attribute_values(":prev", number(settings.version - 1))
        };
        let result = put
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(result, |o| o.consumed_capacity(), "put portal settings")
    }

    async fn portal_revoked_at(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
    ) -> DomainResult<Option<Timestamp>> {
        let key = key_of(customer_pk(business_id, customer_id), PORTAL_SK);
        self.get_as(key, true, |item| {
            item.get(REVOKED)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .map(Timestamp::from_unix_ms)
                .ok_or_else(|| {
                    DomainError::Storage("corrupt item: revocation without revoked".into())
                })
        })
        .await
    }

    async fn revoke_portal(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        at: Timestamp,
    ) -> DomainResult<()> {
        let mut item = key_of(customer_pk(business_id, customer_id), PORTAL_SK);
        item.insert(REVOKED.to_owned(), number(at.unix_ms));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // A revocation never moves back: a later one already stored stays.
            .condition_expression("attribute_not_exists(#revoked) OR #revoked < :at")
            .expression_attribute_names("#revoked", REVOKED)
            .expression_attribute_values(":at", number(at.unix_ms))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        // A failed condition: a later revocation is stored, which covers this one.
        self.written(result, |o| o.consumed_capacity(), "revoke portal links")
            .map(|_| ())
    }

    async fn take_attempt(
        &self,
        scope: &str,
        window: u64,
        limit: u32,
        expires_s: u64,
    ) -> DomainResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(rate_pk(scope, window), RATE_SK)))
            .update_expression("ADD #tries :one SET #ttl = :ttl")
            // The limit: an attempt is taken only while fewer than `limit` were.
            .condition_expression("attribute_not_exists(#tries) OR #tries < :limit")
            .expression_attribute_names("#tries", TRIES)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", number(limit))
            .expression_attribute_values(":ttl", number(expires_s))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(
            result,
            UpdateItemOutput::consumed_capacity,
            "take an attempt",
        )
    }
}
