//! The portal's operations: a session's magic link (Dodo's `customer-portal/session`), opening
//! and revoking links, the business's portal settings, and the attempt counters of the rate
//! limits.

use super::mail::{portal_link_mail, Mailer};
use super::model::{PortalClaims, PortalLink, PortalSettings, PortalSettingsPatch};
use super::rules;
use super::tokens::{self, PortalToken, SigningKey};
use crate::access::model::Tenant;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, CustomerId, Timestamp, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// Portal link emails a customer may be sent per hour (a business's script gone wrong must not
/// flood an inbox).
pub const PORTAL_MAILS_PER_HOUR: u32 = 10;
/// Reads and writes of a settings change before it gives up to a stream of concurrent changes.
const SETTINGS_TRIES_MAX: u32 = 20;

impl<S: Store, C: Clock> Service<S, C> {
    fn signing_key(&self) -> DomainResult<&SigningKey> {
        self.config().portal.signing_key.as_ref().ok_or_else(|| {
            DomainError::NotConfigured("PORTAL_SIGNING_KEY is not set: no portal links".into())
        })
    }

    /// A magic link to the customer's portal, valid for the business's `session_ttl_seconds`
    /// (24 h unless set shorter); with `send_email`, also mailed to the customer (422
    /// `customer_has_no_email` when they have none).
    pub async fn create_portal_session(
        &self,
        mailer: &impl Mailer,
        tenant: &Tenant,
        customer_id: &CustomerId,
        return_url: Option<String>,
        send_email: bool,
    ) -> DomainResult<PortalLink> {
        let key = self.signing_key()?;
        // PUBLIC_BASE_URL, or else the address this request came to (`origin`).
        let base = self
            .config()
            .portal
            .public_base_url
            .clone()
            .or_else(super::origin::current)
            .ok_or_else(|| {
                DomainError::NotConfigured("PUBLIC_BASE_URL is not set: no portal links".into())
            })?;
        let return_url = return_url.as_deref().map(rules::return_url).transpose()?;
        let customer = self.get_customer(tenant, customer_id).await?;
        if send_email && customer.email.trim().is_empty() {
            return Err(ValidationError::new(
                "customer_has_no_email",
                "the customer has no email address: set one, or create the session without send_email",
            )
            .into());
        }
        let settings = self.portal_settings(tenant).await?;
        let now = self.now();
        let ttl_ms = settings
            .session_ttl_seconds
            .min(super::model::SESSION_TTL_SECONDS_MAX)
            * 1_000;
        let token = PortalToken::new(
            tenant.business_id.clone(),
            customer_id.clone(),
            now.unix_ms,
            now.unix_ms + ttl_ms,
            return_url,
        );
        let expires_at = Timestamp::from_unix_ms(token.expires_at_ms);
        // The token is URL-safe as it is (base64url and a dot).
        let link = format!(
            "{base}/portal/session?token={}",
            tokens::sign_portal_token(key, &token)
        );
        if send_email {
            let scope = format!("portal-mail:{}:{}", tenant.business_id, customer_id);
            self.take_attempt(&scope, PORTAL_MAILS_PER_HOUR, 3_600)
                .await?;
            let mail = portal_link_mail(&customer.email, &customer.name, &link, expires_at);
            mailer.send(&mail).await?;
        }
        Ok(PortalLink { link, expires_at })
    }

    /// Whose portal a token opens. One error, `portal_session_invalid`, for a token that is
    /// malformed, tampered with, of another key, expired or revoked; it never says which.
    pub async fn open_portal(&self, token: &str) -> DomainResult<PortalClaims> {
        let key = self.signing_key()?;
        let now = self.now();
        let token = tokens::verify_portal_token(key, token, now.unix_ms)
            .ok_or(DomainError::PortalSessionInvalid)?;
        let revoked = self
            .store()
            .portal_revoked_at(&token.business_id, &token.customer_id)
            .await?;
        if revoked.is_some_and(|at| token.issued_at_ms <= at.unix_ms) {
            return Err(DomainError::PortalSessionInvalid);
        }
        Ok(PortalClaims {
            business_id: token.business_id,
            customer_id: token.customer_id,
            return_url: token.return_url,
            expires_at: Timestamp::from_unix_ms(token.expires_at_ms),
        })
    }

    /// Ends every portal link (and portal session, which holds one) of the customer issued until
    /// now. Answers the instant of the revocation.
    pub async fn revoke_portal_sessions(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<Timestamp> {
        self.get_customer(tenant, customer_id).await?;
        let now = self.now();
        self.store()
            .revoke_portal(&tenant.business_id, customer_id, now)
            .await?;
        Ok(now)
    }

    /// The business's portal settings (the defaults until it sets them).
    pub async fn portal_settings(&self, tenant: &Tenant) -> DomainResult<PortalSettings> {
        Ok(self
            .store()
            .get_portal_settings(&tenant.business_id)
            .await?
            .unwrap_or_default())
    }

    /// Applies `patch` to the business's portal settings; concurrent patches never lose each
    /// other's fields (each is written on condition of the version it read).
    pub async fn update_portal_settings(
        &self,
        tenant: &Tenant,
        patch: &PortalSettingsPatch,
    ) -> DomainResult<PortalSettings> {
        patch.validate()?;
        for _ in 0..SETTINGS_TRIES_MAX {
            let read = self.portal_settings(tenant).await?;
            let mut next = patch.apply(&read);
            next.version = read.version + 1;
            next.updated_at = Some(self.now());
            next.updated_by = crate::access::actor::current();
            if self
                .store()
                .put_portal_settings(&tenant.business_id, &next)
                .await?
            {
                return Ok(next);
            }
        }
        Err(DomainError::Contention)
    }

    /// Takes one of `limit` attempts of `scope` in the current window of `window_secs` (fixed
    /// windows on the clock); `rate_limited` (429, with the seconds until the window ends) when
    /// they are all taken. A scope names what is limited, e.g. `portal:<business>:<customer>`:
    /// never a token or other secret.
    pub async fn take_attempt(
        &self,
        scope: &str,
        limit: u32,
        window_secs: u64,
    ) -> DomainResult<()> {
        rules::attempt_scope(scope, limit, window_secs)?;
        let now_s = self.now().unix_ms / 1_000;
        let window = now_s / window_secs;
        let window_end_s = (window + 1) * window_secs;
        // Kept a minute past its window (the table's TTL removes it later still).
        let taken = self
            .store()
            .take_attempt(scope, window, limit, window_end_s + 60)
            .await?;
        if taken {
            Ok(())
        } else {
            Err(DomainError::RateLimited {
                retry_after_s: (window_end_s - now_s).max(1),
            })
        }
    }

    /// The token of a top-up link's page, `/pay/<token>` (`portal::tokens::sign_link_token` with
    /// the configured key).
    pub fn sign_link_token(&self, business_id: &BusinessId, link_id: &str) -> DomainResult<String> {
        Ok(tokens::sign_link_token(
            self.signing_key()?,
            business_id,
            link_id,
        ))
    }

    /// The business and link id of a link token; `portal_session_invalid` for anything else.
    pub fn verify_link_token(&self, token: &str) -> DomainResult<(BusinessId, String)> {
        tokens::verify_link_token(self.signing_key()?, token)
            .ok_or(DomainError::PortalSessionInvalid)
    }
}
