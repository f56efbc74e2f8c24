//! Top-up links in the table: one item each, keyed by business and link id (so the pay path
//! finds it from the token with one read), listed per customer through `by_email`, and in the
//! sparse `by_expiry` index while active (the sweep expires them).
//!
//! | item | pk | sk | other attributes |
//! |------|----|----|------------------|
//! | top-up link | `TUL#<business>#<link>` | `TUL#<link>` | `ver`, `st`, `email_key` = `<business>#<customer>#top-up-links`; while active `exp_shard` = `TUL#<0-7>`, `exp_at` = `<expiry ms>#<link>`; `w_after` when written with the wallets; doc |

use super::codec::{corrupt, from_doc, number, text, to_doc, DOC, HOLD_STATUS, VERSION};
use super::keys::{key_of, s, Item};
use super::table::{GSI_EMAIL, GSI_EMAIL_PK, GSI_EXPIRY_PK, GSI_EXPIRY_SK, PK, SK};
use super::DynamoStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, CustomerId, TopUpLinkId};
use crate::payins::links::{TopUpLink, TopUpLinkQuery, TopUpLinkRef, TopUpLinkStatus};
use crate::ports::TopUpLinkStore;

/// The prefix of a link's partition and sort keys.
pub const TOP_UP_LINK_PREFIX: &str = "TUL#";
/// Partitions of the link part of the `by_expiry` index (`TUL#<n>`).
pub const TOP_UP_LINK_SHARDS: u32 = 8;

pub fn top_up_link_pk(business_id: &BusinessId, link_id: &TopUpLinkId) -> String {
    format!("{TOP_UP_LINK_PREFIX}{business_id}#{link_id}")
}

pub fn top_up_link_sk(link_id: &TopUpLinkId) -> String {
    format!("{TOP_UP_LINK_PREFIX}{link_id}")
}

/// The business and link of a link item's partition key.
pub fn top_up_link_of_pk(pk: &str) -> Option<(&str, &str)> {
    pk.strip_prefix(TOP_UP_LINK_PREFIX)?.split_once('#')
}

/// The `by_email` partition that lists a customer's links (no email has this form: no `@`).
pub fn top_up_links_listing(business_id: &BusinessId, customer_id: &CustomerId) -> String {
    format!("{business_id}#{customer_id}#top-up-links")
}

fn shard_of(link_id: &TopUpLinkId) -> String {
    let shard = link_id.as_str().bytes().map(u32::from).sum::<u32>() % TOP_UP_LINK_SHARDS;
    format!("{TOP_UP_LINK_PREFIX}{shard}")
}

pub fn top_up_link_item(link: &TopUpLink) -> Item {
    let mut item = key_of(
        top_up_link_pk(&link.business_id, &link.id),
        &top_up_link_sk(&link.id),
    );
    item.insert(VERSION.to_owned(), number(link.version));
    item.insert(HOLD_STATUS.to_owned(), s(link.status.as_str()));
    item.insert(
        GSI_EMAIL_PK.to_owned(),
        s(top_up_links_listing(&link.business_id, &link.customer_id)),
    );
    // Sparse: only active links are in the index the sweep reads.
    if link.status == TopUpLinkStatus::Active {
        item.insert(GSI_EXPIRY_PK.to_owned(), s(shard_of(&link.id)));
        item.insert(
            GSI_EXPIRY_SK.to_owned(),
            s(format!("{:013}#{}", link.expires_at.unix_ms, link.id)),
        );
    }
    item.insert(DOC.to_owned(), to_doc(link));
    item
}

pub fn top_up_link_from(item: &Item) -> DomainResult<TopUpLink> {
    from_doc(item)
}

/// The link an expiry-index item (keys only) points at.
pub fn top_up_link_ref_from(item: &Item) -> DomainResult<TopUpLinkRef> {
    let (business, link) = top_up_link_of_pk(text(item, PK)?)
        .ok_or_else(|| corrupt("link index points at a non-link item"))?;
    Ok(TopUpLinkRef {
        business_id: BusinessId::parse(business).map_err(corrupt)?,
        link_id: TopUpLinkId::parse(link).map_err(corrupt)?,
    })
}

impl TopUpLinkStore for DynamoStore {
    async fn get_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &TopUpLinkId,
    ) -> DomainResult<Option<TopUpLink>> {
        let key = key_of(
            top_up_link_pk(business_id, link_id),
            &top_up_link_sk(link_id),
        );
        self.get_as(key, true, top_up_link_from).await
    }

    async fn list_top_up_links(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &TopUpLinkQuery,
    ) -> DomainResult<Vec<TopUpLink>> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_EMAIL)
            .key_condition_expression("#k = :k AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#k", GSI_EMAIL_PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":k", s(top_up_links_listing(business_id, customer_id)))
            .expression_attribute_values(":prefix", s(TOP_UP_LINK_PREFIX))
            .scan_index_forward(false);
        self.query_page([request], "list top-up links", query.page, top_up_link_from)
            .await
    }

    async fn expired_top_up_links(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<TopUpLinkRef>> {
        let shards = (0..TOP_UP_LINK_SHARDS).map(|n| format!("{TOP_UP_LINK_PREFIX}{n}"));
        self.query_due(
            shards,
            now_ms,
            limit,
            "find expired top-up links",
            top_up_link_ref_from,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_item_keys_its_business_and_is_indexed_while_active_only() {
        let link: TopUpLink = serde_json::from_value(serde_json::json!({
            "id": "tul_01kb0000000000000000000004", "business_id": "bus_01kb0000000000000000000000",
            "customer_id": "cus_01kb0000000000000000000001", "currency": "USD", "amount": 2500,
            "min_amount": null, "max_amount": null, "reason": null, "single_use": true,
            "status": "active", "expires_at": "2026-11-30T12:00:00.000Z",
            "created_at": "2026-11-23T12:00:00.000Z", "updated_at": "2026-11-23T12:00:00.000Z",
            "paying": null, "paid_count": 0, "paid_amount": 0, "last_paid_top_up_id": null,
            "idempotency_key": null, "version": 1
        }))
        .unwrap();
        let item = top_up_link_item(&link);
        assert_eq!(
            item[PK].as_s().unwrap(),
            "TUL#bus_01kb0000000000000000000000#tul_01kb0000000000000000000004"
        );
        assert_eq!(top_up_link_from(&item).unwrap(), link);
        let found = top_up_link_ref_from(&item).unwrap();
        assert_eq!(
            (found.business_id, found.link_id),
            (link.business_id.clone(), link.id.clone())
        );
        assert!(item[GSI_EXPIRY_SK]
            .as_s()
            .unwrap()
            .starts_with("1796040000000#"));
        let expired = TopUpLink {
            status: TopUpLinkStatus::Expired,
            ..link
        };
        assert!(!top_up_link_item(&expired).contains_key(GSI_EXPIRY_PK));
    }
}
