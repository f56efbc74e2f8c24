//! Card top-ups and the gateway's handled events, in memory (`ports::PayinStore`).

use super::queries::both_ends;
use super::MemoryStore;
use crate::error::DomainResult;
use crate::kernel::paging::PageRequest;
use crate::kernel::{BusinessId, CustomerId};
use crate::payins::model::{CardTopUp, CardTopUpRef, CardTopUpStatus};
use crate::ports::PayinStore;

impl PayinStore for MemoryStore {
    async fn get_card_top_up(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        id: &str,
    ) -> DomainResult<Option<CardTopUp>> {
        Ok(self
            .read(|t| t.card_top_up(business_id, customer_id, id).cloned())
            .await)
    }

    /// Newest first (by id).
    async fn list_card_top_ups(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        page: PageRequest,
    ) -> DomainResult<Vec<CardTopUp>> {
        let skip = usize::try_from(page.skipped()).unwrap_or(usize::MAX);
        Ok(self
            .read(|t| {
                t.partition(business_id, customer_id)
                    .map(|p| {
                        p.card_top_ups
                            .values()
                            .rev()
                            .skip(skip)
                            .take(page.size as usize)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .await)
    }

    async fn pending_card_top_ups(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> DomainResult<Vec<CardTopUpRef>> {
        Ok(self
            .read(|t| {
                let mut due: Vec<&CardTopUp> = t
                    .partitions
                    .values()
                    .flat_map(|p| p.card_top_ups.values())
                    .filter(|c| {
                        c.status == CardTopUpStatus::Pending && c.reconcile_at_ms() <= now_ms
                    })
                    .collect();
                due.sort_by(|a, b| (a.reconcile_at_ms(), &a.id).cmp(&(b.reconcile_at_ms(), &b.id)));
                both_ends(due, limit)
                    .into_iter()
                    .map(|c| CardTopUpRef {
                        business_id: c.business_id.clone(),
                        customer_id: c.customer_id.clone(),
                        id: c.id.clone(),
                    })
                    .collect()
            })
            .await)
    }

    async fn gateway_event_seen(&self, event_id: &str) -> DomainResult<bool> {
        Ok(self.read(|t| t.gateway_events.contains(event_id)).await)
    }

    async fn record_gateway_event(&self, event_id: &str, _expires_s: u64) -> DomainResult<bool> {
        tokio::task::yield_now().await;
        Ok(self
            .lock()
            .tables
            .gateway_events
            .insert(event_id.to_owned()))
    }
}
