//! Endpoints: Dodo's `client.webhooks` (create, read, list, update, delete).

use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{Clock, EndpointId};
use crate::ports::Store;
use crate::service::Service;
use crate::webhooks::model::*;
use crate::webhooks::rules::{self, ENDPOINTS_MAX};

/// Tries of a read-modify-write of an endpoint before answering `concurrent_update`.
const ENDPOINT_WRITE_TRIES: usize = 5;

fn not_found(id: &EndpointId) -> DomainError {
    DomainError::WebhookNotFound(id.to_string())
}

impl<S: Store, C: Clock> Service<S, C> {
    pub async fn create_endpoint(
        &self,
        tenant: &Tenant,
        new: NewEndpoint,
    ) -> DomainResult<Endpoint> {
        let now = self.now();
        let id = match &new.idempotency_key {
            Some(key) => EndpointId::derived(0, &format!("{}|{key}", tenant.business_id)),
            None => EndpointId::generate_at(now.unix_ms),
        };
        if let Some(existing) = self.store().get_endpoint(&tenant.business_id, &id).await? {
            return Ok(existing); // the same idempotency key: the endpoint it made
        }
        let listed = self
            .store()
            .list_endpoints(&tenant.business_id)
            .await?
            .len();
        if listed >= ENDPOINTS_MAX {
            return Err(rules::too_many_endpoints().into());
        }
        let endpoint = Endpoint {
            id,
            business_id: tenant.business_id.clone(),
            url: new.url,
            description: new.description,
            disabled: new.disabled,
            filter_types: new.filter_types,
            headers: new.headers,
            metadata: new.metadata,
            rate_limit: new.rate_limit,
            secret: rules::generate_secret(),
            version: 1,
            created_at: now,
            updated_at: now,
            created_by: crate::access::actor::current(),
            updated_by: None,
        };
        // The store refuses the endpoint beyond the limit, however many creates race.
        if self.store().insert_endpoint(&endpoint, listed).await? {
            return Ok(endpoint);
        }
        // The same idempotency key raced us: answer what it made.
        self.get_endpoint(tenant, &endpoint.id).await
    }

    pub async fn get_endpoint(&self, tenant: &Tenant, id: &EndpointId) -> DomainResult<Endpoint> {
        self.store()
            .get_endpoint(&tenant.business_id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// A page of endpoints, oldest first, after `after`; and whether more follow.
    pub async fn list_endpoints(
        &self,
        tenant: &Tenant,
        after: Option<&EndpointId>,
        limit: usize,
    ) -> DomainResult<(Vec<Endpoint>, bool)> {
        let all = self.store().list_endpoints(&tenant.business_id).await?;
        let mut rest: Vec<Endpoint> = all
            .into_iter()
            .filter(|e| after.is_none_or(|after| e.id > *after))
            .collect();
        let more = rest.len() > limit;
        rest.truncate(limit);
        Ok((rest, more))
    }

    /// Applies a patch to the endpoint as it is now (re-read and retried if it changed meanwhile).
    pub async fn update_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        patch: &EndpointPatch,
    ) -> DomainResult<Endpoint> {
        for _ in 0..ENDPOINT_WRITE_TRIES {
            let current = self.get_endpoint(tenant, id).await?;
            if let Some(added) = &patch.headers {
                rules::merged_headers_fit(&current, added)?;
            }
            let next = rules::patched(&current, patch, self.now());
            if self.store().replace_endpoint(&next).await? {
                return Ok(next);
            }
        }
        Err(DomainError::Contention)
    }

    pub async fn delete_endpoint(&self, tenant: &Tenant, id: &EndpointId) -> DomainResult<()> {
        if self
            .store()
            .delete_endpoint(&tenant.business_id, id)
            .await?
        {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }
}
