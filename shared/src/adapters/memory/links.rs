//! Top-up links in memory: read by business and id, listed newest first per customer, and the
//! lapsed active ones found for the sweep, as the DynamoDB adapter does.

use super::queries::both_ends;
use super::MemoryStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, CustomerId, TopUpLinkId};
use crate::payins::links::{TopUpLink, TopUpLinkQuery, TopUpLinkRef, TopUpLinkStatus};
use crate::ports::TopUpLinkStore;

impl TopUpLinkStore for MemoryStore {
    async fn get_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &TopUpLinkId,
    ) -> DomainResult<Option<TopUpLink>> {
        let key = (business_id.clone(), link_id.clone());
        Ok(self.read(|t| t.top_up_links.get(&key).cloned()).await)
    }

    async fn list_top_up_links(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        query: &TopUpLinkQuery,
    ) -> DomainResult<Vec<TopUpLink>> {
        let skipped = usize::try_from(query.page.skipped()).unwrap_or(usize::MAX);
        Ok(self
            .read(|t| {
                let mut links: Vec<&TopUpLink> = t
                    .top_up_links
                    .values()
                    .filter(|l| l.business_id == *business_id && l.customer_id == *customer_id)
                    .collect();
                links.sort_by(|a, b| b.id.cmp(&a.id));
                links
                    .into_iter()
                    .skip(skipped)
                    .take(query.page.size as usize)
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn expired_top_up_links(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<TopUpLinkRef>> {
        let mut due: Vec<(u64, TopUpLinkRef)> = self
            .read(|t| {
                t.top_up_links
                    .values()
                    .filter(|l| {
                        l.status == TopUpLinkStatus::Active && l.expires_at.unix_ms <= now_ms
                    })
                    .map(|l| {
                        let found = TopUpLinkRef {
                            business_id: l.business_id.clone(),
                            link_id: l.id.clone(),
                        };
                        (l.expires_at.unix_ms, found)
                    })
                    .collect()
            })
            .await;
        due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.link_id.cmp(&b.1.link_id)));
        Ok(both_ends(due, limit).into_iter().map(|(_, r)| r).collect())
    }
}
