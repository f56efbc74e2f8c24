//! Authenticating a caller and creating businesses.

use super::model::{ApiKey, Business, Tenant};
use super::rules::{generate_key, hash_key, KEY_LENGTH_MAX};
use crate::change::{Plan, Write};
use crate::customers::rules::name;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock};
use crate::ports::Store;
use crate::service::Service;

impl<S: Store, C: Clock> Service<S, C> {
    /// The business whose API key this is.
    pub async fn authenticate(&self, bearer_token: Option<&str>) -> DomainResult<Tenant> {
        let token = bearer_token
            .filter(|t| !t.is_empty() && t.len() <= KEY_LENGTH_MAX)
            .ok_or(DomainError::Unauthenticated)?;
        let business_id = self
            .store()
            .business_of_key(&hash_key(token))
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        Ok(Tenant { business_id })
    }

    /// Creates a business and returns its id and its first API key (shown only now).
    pub async fn create_business(&self, raw_name: &str) -> DomainResult<(BusinessId, String)> {
        let business_id = BusinessId::generate();
        let (name, key) = (&name(raw_name)?, &generate_key());
        let id = &business_id;
        self.change(&business_id, None, |now| async move {
            let business = Business {
                business_id: id.clone(),
                name: name.clone(),
                created_at: now,
            };
            let api_key = ApiKey {
                key_hash: hash_key(key),
                business_id: id.clone(),
                created_at: now,
            };
            let writes = vec![Write::NewBusiness(business), Write::NewApiKey(api_key)];
            Ok(Plan::Commit(writes, ()))
        })
        .await?;
        Ok((business_id, key.clone()))
    }
}
