//! Webhook endpoints and deliveries in memory, with the DynamoDB adapter's conditions.

use std::collections::BTreeMap;

use super::MemoryStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, EndpointId, EventId};
use crate::ports::WebhookStore;
use crate::webhooks::model::{
    Attempt, Delivery, DeliveryQuery, DeliveryRef, DeliveryStatus, Endpoint,
};
use crate::webhooks::rules;

type DeliveryKey = (BusinessId, EndpointId, EventId);

#[derive(Default)]
pub(super) struct WebhookTables {
    endpoints: BTreeMap<(BusinessId, EndpointId), Endpoint>,
    deliveries: BTreeMap<DeliveryKey, (Delivery, Vec<Attempt>)>,
    /// Delivery slots taken per endpoint and clock second.
    slots: BTreeMap<(BusinessId, EndpointId, u64), u32>,
}

fn key_of(delivery: &Delivery) -> DeliveryKey {
    (
        delivery.business_id.clone(),
        delivery.endpoint_id.clone(),
        delivery.id.clone(),
    )
}

impl MemoryStore {
    async fn webhooks<T>(&self, act: impl FnOnce(&mut WebhookTables) -> T) -> T {
        tokio::task::yield_now().await;
        act(&mut self.lock().webhooks)
    }
}

impl WebhookStore for MemoryStore {
    async fn insert_endpoint(&self, endpoint: &Endpoint, _listed: usize) -> DomainResult<bool> {
        let key = (endpoint.business_id.clone(), endpoint.id.clone());
        self.webhooks(|t| {
            if t.endpoints.contains_key(&key) {
                return Ok(false);
            }
            let registered = t
                .endpoints
                .keys()
                .filter(|(business, _)| *business == endpoint.business_id)
                .count();
            if registered >= rules::ENDPOINTS_MAX {
                return Err(rules::too_many_endpoints().into());
            }
            t.endpoints.insert(key, endpoint.clone());
            Ok(true)
        })
        .await
    }

    async fn replace_endpoint(&self, endpoint: &Endpoint) -> DomainResult<bool> {
        let key = (endpoint.business_id.clone(), endpoint.id.clone());
        Ok(self
            .webhooks(|t| match t.endpoints.get_mut(&key) {
                Some(stored) if stored.version + 1 == endpoint.version => {
                    *stored = endpoint.clone();
                    true
                }
                _ => false,
            })
            .await)
    }

    async fn delete_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<bool> {
        let key = (business_id.clone(), endpoint_id.clone());
        Ok(self.webhooks(|t| t.endpoints.remove(&key).is_some()).await)
    }

    async fn get_endpoint(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
    ) -> DomainResult<Option<Endpoint>> {
        self.check_endpoint_not_broken(business_id, endpoint_id)?;
        let key = (business_id.clone(), endpoint_id.clone());
        Ok(self.webhooks(|t| t.endpoints.get(&key).cloned()).await)
    }

    async fn list_endpoints(&self, business_id: &BusinessId) -> DomainResult<Vec<Endpoint>> {
        Ok(self
            .webhooks(|t| {
                t.endpoints
                    .values()
                    .filter(|e| e.business_id == *business_id)
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn insert_delivery(&self, delivery: &Delivery) -> DomainResult<bool> {
        Ok(self
            .webhooks(|t| {
                let key = key_of(delivery);
                if t.deliveries.contains_key(&key) {
                    return false;
                }
                t.deliveries.insert(key, (delivery.clone(), Vec::new()));
                true
            })
            .await)
    }

    async fn update_delivery(
        &self,
        delivery: &Delivery,
        seen: &Delivery,
        attempt: Option<&Attempt>,
    ) -> DomainResult<bool> {
        Ok(self
            .webhooks(|t| match t.deliveries.get_mut(&key_of(delivery)) {
                Some((stored, attempts))
                    if stored.attempt_count == seen.attempt_count
                        && stored.lease_until == seen.lease_until =>
                {
                    *stored = delivery.clone();
                    attempts.extend(attempt.cloned());
                    true
                }
                _ => false,
            })
            .await)
    }

    async fn get_delivery(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        id: &EventId,
    ) -> DomainResult<Option<(Delivery, Vec<Attempt>)>> {
        self.check_endpoint_not_broken(business_id, endpoint_id)?;
        let key = (business_id.clone(), endpoint_id.clone(), id.clone());
        Ok(self.webhooks(|t| t.deliveries.get(&key).cloned()).await)
    }

    async fn list_deliveries(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        query: &DeliveryQuery,
    ) -> DomainResult<Vec<Delivery>> {
        Ok(self
            .webhooks(|t| {
                t.deliveries
                    .values()
                    .rev()
                    .map(|(d, _)| d)
                    .filter(|d| d.business_id == *business_id && d.endpoint_id == *endpoint_id)
                    .filter(|d| query.after.as_ref().is_none_or(|after| d.id < *after))
                    .filter(|d| query.status.is_none_or(|s| d.status == s))
                    .filter(|d| query.event_type.is_none_or(|e| d.event_type == e))
                    .take(query.limit as usize)
                    .cloned()
                    .collect()
            })
            .await)
    }

    async fn take_delivery_slot(
        &self,
        business_id: &BusinessId,
        endpoint_id: &EndpointId,
        second: u64,
        limit: u32,
    ) -> DomainResult<bool> {
        let key = (business_id.clone(), endpoint_id.clone(), second);
        Ok(self
            .webhooks(|t| {
                let taken = t.slots.entry(key).or_default();
                let free = *taken < limit;
                if free {
                    *taken += 1;
                }
                free
            })
            .await)
    }

    async fn due_deliveries(&self, now_ms: u64, limit: usize) -> DomainResult<Vec<DeliveryRef>> {
        Ok(self
            .webhooks(|t| {
                let mut due: Vec<_> = t
                    .deliveries
                    .values()
                    .map(|(d, _)| d)
                    .filter(|d| {
                        d.status == DeliveryStatus::Pending
                            && d.next_attempt_at.is_some_and(|at| at.unix_ms <= now_ms)
                    })
                    .collect();
                due.sort_by_key(|d| (d.next_attempt_at, &d.id));
                super::queries::both_ends(due, limit)
                    .into_iter()
                    .map(|d| DeliveryRef {
                        business_id: d.business_id.clone(),
                        endpoint_id: d.endpoint_id.clone(),
                        id: d.id.clone(),
                    })
                    .collect()
            })
            .await)
    }
}
