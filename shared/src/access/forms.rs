//! A dashboard form's own idempotency key, for the changes that have no key in the domain
//! (creating a customer, a webhook endpoint, an API key; rotating or revoking a key; editing).
//! The first submission claims the key (a conditional write) before it changes anything and
//! records where its result is when done; a second submission of the same form (a double click,
//! a reload) finds the claim and is sent to that result, changing nothing. A submission whose
//! first twin is still running (or died mid-way) answers 409 and changes nothing. Money actions
//! (adjustments, holds, reversals, closing) use the domain's idempotency keys instead.

use std::future::Future;

pub use super::model::FormClaim;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// How long a form's claim is kept (the table's TTL removes it afterwards).
pub const FORM_CLAIM_TTL_S: u64 = 86_400;

/// A form key: `form_` and 32 hex digits, as the pages make them.
pub fn form_key(raw: Option<&str>) -> Result<String, ValidationError> {
    match raw {
        Some(key)
            if key.len() == 37
                && key.starts_with("form_")
                && key[5..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(key.to_owned())
        }
        _ => Err(ValidationError::new(
            "invalid_idempotency_key",
            "this form has no valid idempotency key: reload the page and try again",
        )),
    }
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Runs `work` once per form key of the business: answers the result (a location) of the
    /// first submission that did it. `work` must change nothing when it fails.
    pub async fn once_per_form<F, Fut>(
        &self,
        business_id: &BusinessId,
        raw_key: Option<&str>,
        work: F,
    ) -> DomainResult<String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = DomainResult<String>>,
    {
        let key = form_key(raw_key)?;
        let expires_s = self.now().unix_ms / 1_000 + FORM_CLAIM_TTL_S;
        match self
            .store()
            .claim_form(business_id, &key, expires_s)
            .await?
        {
            FormClaim::Done(result) => Ok(result),
            FormClaim::Started => Err(DomainError::Contention),
            FormClaim::New => match work().await {
                Ok(result) => {
                    self.store().finish_form(business_id, &key, &result).await?;
                    Ok(result)
                }
                Err(error) => {
                    // Nothing changed: the form may be corrected and sent again.
                    if let Err(release) = self.store().release_form(business_id, &key).await {
                        tracing::warn!(%release, "could not release a failed form's claim");
                    }
                    Err(error)
                }
            },
        }
    }
}
