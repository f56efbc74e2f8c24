//! Card top-ups and the gateway's handled webhook events in the table (`ports::PayinStore`).
//!
//! | item              | pk                          | sk            | other keys                          |
//! |-------------------|-----------------------------|---------------|-------------------------------------|
//! | card top-up       | `CUS#<business>#<id>#CTU`   | `CTU#<id>`    | `ver`; pending: `exp_shard` `CTU#<n>`, `exp_at` (GSI `by_expiry`, due a minute after creation) |
//! | gateway event     | `GWEVT#<event id>`          | `#GWEVT`      | `ttl` (30 days)                     |

use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{corrupt, from_doc, number, text, to_doc, DOC, TTL, VERSION};
use super::keys::{customer_of_pk, customer_pk, key_of, s, Item};
use super::meter::consumed_capacity;
use super::table::{GSI_EXPIRY_PK, GSI_EXPIRY_SK, PK, SK};
use super::DynamoStore;
use crate::error::DomainResult;
use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, CustomerId};
use crate::payins::model::{CardTopUp, CardTopUpRef, CardTopUpStatus};
use crate::ports::PayinStore;

/// The sort-key prefix of card top-ups.
pub const CARD_TOP_UP_SK_PREFIX: &str = "CTU#";
/// Partitions of the card top-up part of the `by_expiry` index (`CTU#<n>`).
pub const CARD_TOP_UP_SHARDS: u32 = 4;
const CARD_TOP_UP_SHARD_PREFIX: &str = "CTU#";
const GATEWAY_EVENT_SK: &str = "#GWEVT";

/// The partition of a customer's card top-ups.
pub fn card_top_up_pk(business_id: &BusinessId, customer_id: &CustomerId) -> String {
    format!("{}#CTU", customer_pk(business_id, customer_id))
}

fn card_top_up_key(business_id: &BusinessId, customer_id: &CustomerId, id: &str) -> Item {
    key_of(
        card_top_up_pk(business_id, customer_id),
        &format!("{CARD_TOP_UP_SK_PREFIX}{id}"),
    )
}

fn shard_of(id: &str) -> String {
    let shard = id.bytes().map(u32::from).sum::<u32>() % CARD_TOP_UP_SHARDS;
    format!("{CARD_TOP_UP_SHARD_PREFIX}{shard}")
}

/// The item of a top-up: while pending it is in the due index, due a minute after creation.
pub fn card_top_up_item(top_up: &CardTopUp) -> Item {
    let mut item = card_top_up_key(&top_up.business_id, &top_up.customer_id, &top_up.id);
    item.insert(VERSION.to_owned(), number(top_up.version));
    if top_up.status == CardTopUpStatus::Pending {
        item.insert(GSI_EXPIRY_PK.to_owned(), s(shard_of(&top_up.id)));
        item.insert(
            GSI_EXPIRY_SK.to_owned(),
            s(format!("{:013}#{}", top_up.reconcile_at_ms(), top_up.id)),
        );
    }
    item.insert(DOC.to_owned(), to_doc(top_up));
    item
}

/// The version a change of `top_up` must find stored.
pub fn card_top_up_read_version(top_up: &CardTopUp) -> AttributeValue {
    number(
        top_up
            .version
            .checked_sub(1)
            .expect("a changed card top-up has a version above zero"),
    )
}

fn card_top_up_ref_from(item: &Item) -> DomainResult<CardTopUpRef> {
    let not_one = || corrupt("due index points at a non-top-up item");
    let (business, customer) = customer_of_pk(text(item, PK)?).ok_or_else(not_one)?;
    let id = text(item, SK)?
        .strip_prefix(CARD_TOP_UP_SK_PREFIX)
        .ok_or_else(not_one)?;
    Ok(CardTopUpRef {
        business_id: BusinessId::parse(business).map_err(corrupt)?,
        customer_id: CustomerId::parse(customer).map_err(corrupt)?,
        id: id.to_owned(),
    })
}

fn gateway_event_key(event_id: &str) -> Item {
    key_of(format!("GWEVT#{event_id}"), GATEWAY_EVENT_SK)
}

impl PayinStore for DynamoStore {
    async fn get_card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<Option<CardTopUp>> {
        self.get_as(
            card_top_up_key(business_id, customer_id, id),
            true,
            from_doc,
        )
        .await
    }

    async fn list_card_top_ups(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        page: PageRequest,
    ) -> DomainResult<Vec<CardTopUp>> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND begins_with(sk, :ctu)")
            .expression_attribute_values(":pk", s(card_top_up_pk(business_id, customer_id)))
            .expression_attribute_values(":ctu", s(CARD_TOP_UP_SK_PREFIX));
        self.query_page([request], "list card top-ups", page, from_doc)
            .await
    }

    async fn pending_card_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<CardTopUpRef>> {
        let shards =
            (0..CARD_TOP_UP_SHARDS).map(|shard| format!("{CARD_TOP_UP_SHARD_PREFIX}{shard}"));
        self.query_due(
            shards,
            now_ms,
            limit,
            "find pending card top-ups",
            card_top_up_ref_from,
        )
        .await
    }

    async fn gateway_event_seen(&self, event_id: &str) -> DomainResult<bool> {
        Ok(self.get(gateway_event_key(event_id), true).await?.is_some())
    }

    async fn record_gateway_event(&self, event_id: &str, expires_s: u64) -> DomainResult<bool> {
        let mut item = gateway_event_key(event_id);
        item.insert(TTL.to_owned(), number(expires_s));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(result, |o| o.consumed_capacity(), "record gateway event")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_up_s_keys_name_its_customer_and_only_a_pending_one_is_due() {
        let (b, c) = (BusinessId::generate(), CustomerId::generate());
        assert_eq!(
            customer_of_pk(&card_top_up_pk(&b, &c)),
            Some((b.as_str(), c.as_str()))
        );
        let mut item = card_top_up_key(&b, &c, "ctu_x");
        assert_eq!(
            card_top_up_ref_from(&item).unwrap(),
            CardTopUpRef {
                business_id: b.clone(),
                customer_id: c.clone(),
                id: "ctu_x".into()
            }
        );
        item.insert(SK.to_owned(), s("HLD#x"));
        assert!(card_top_up_ref_from(&item).is_err());
    }
}
