//! Top-up link operations: the merchant's (create, list, get, cancel), the pay path's (read by
//! token, claim, release, the write that marks a link paid in the credit's transaction), and
//! the sweep's step that expires lapsed links.

use super::links::{TopUpLink, TopUpLinkCommand, TopUpLinkQuery, TopUpLinkRef};
use super::links_rules::{
    cancel, claim, create, expire, lapsed_claim, mark_paid, payable, release,
};
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::{BusinessId, Clock, CustomerId, Timestamp, TopUpLinkId};
use crate::ports::Store;
use crate::service::Service;
use crate::sweep::{self, Step};

impl<S: Store, C: Clock> Service<S, C> {
    /// The page that pays `link` (`<PUBLIC_BASE_URL>/pay/<token>`, else at the address the
    /// request came to, `request_origin`); `None` where the portal has no signing key.
    pub fn top_up_link_url(
        &self,
        link: &TopUpLink,
        request_origin: Option<&str>,
    ) -> Option<String> {
        let portal = &self.config().portal;
        let base = portal.public_base_url.as_deref().or(request_origin)?;
        let key = portal.signing_key.as_ref()?;
        Some(super::links_url::link_url(base, key, link))
    }

    /// Makes a link for the customer to top up their wallet of `command.currency`.
    pub async fn create_top_up_link(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: TopUpLinkCommand,
    ) -> DomainResult<TopUpLink> {
        let (command, id) = (&command, &TopUpLinkId::generate_at(self.now().unix_ms));
        let key = command.idempotency_key.as_ref();
        self.change(&tenant.business_id, key, |now| async move {
            let wallets = self.wallets_of(tenant, customer_id).await?;
            let ruled = create(&wallets, &tenant.business_id, command, id, now);
            Ok(Plan::from_rules(ruled, |link| {
                let claim = key.map(|key| Write::ClaimKey {
                    key: key.clone(),
                    original: Original::TopUpLink(Box::new(link.clone())),
                });
                let mut writes = vec![Write::NewTopUpLink(link.clone())];
                writes.extend(claim);
                (writes, link)
            }))
        })
        .await
    }

    /// The business's link, if it exists.
    async fn stored_link(
        &self,
        business_id: &BusinessId,
        link_id: &TopUpLinkId,
    ) -> DomainResult<TopUpLink> {
        self.store()
            .get_top_up_link(business_id, link_id)
            .await?
            .ok_or_else(|| DomainError::TopUpLinkNotFound(link_id.to_string()))
    }

    /// The customer's link; another customer's (or business's) is not found.
    pub async fn get_top_up_link(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        link_id: &TopUpLinkId,
    ) -> DomainResult<TopUpLink> {
        match self
            .store()
            .get_top_up_link(&tenant.business_id, link_id)
            .await?
        {
            Some(link) if link.customer_id == *customer_id => Ok(link),
            // An unknown customer answers as such, not as an unknown link.
            _ => {
                self.wallets_of(tenant, customer_id).await?;
                Err(DomainError::TopUpLinkNotFound(link_id.to_string()))
            }
        }
    }

    /// The customer's links, newest first.
    pub async fn list_top_up_links(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        query: TopUpLinkQuery,
    ) -> DomainResult<Vec<TopUpLink>> {
        query.page.check_depth("top-up link")?;
        self.wallets_of(tenant, customer_id).await?;
        self.store()
            .list_top_up_links(&tenant.business_id, customer_id, &query)
            .await
    }

    /// Cancels an active link (a top-up being charged through it may still be credited and
    /// marks it paid). Cancelling a cancelled link answers it.
    pub async fn cancel_top_up_link(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        link_id: &TopUpLinkId,
    ) -> DomainResult<TopUpLink> {
        self.change(&tenant.business_id, None, |now| async move {
            let link = self.get_top_up_link(tenant, customer_id, link_id).await?;
            Ok(match cancel(&link, now) {
                Ok(Some(next)) => Plan::Commit(vec![Write::ReplaceTopUpLink(next.clone())], next),
                Ok(None) => Plan::Answer(link),
                Err(refused) => Plan::Refused(refused),
            })
        })
        .await
    }

    /// The link a payer's token names, if it may be paid: else `top_up_link_used`,
    /// `top_up_link_expired`, `top_up_link_cancelled`, or not found (a token that is not one).
    pub async fn top_up_link_by_token(&self, token: &str) -> DomainResult<TopUpLink> {
        let not_found = || DomainError::TopUpLinkNotFound("named by this token".to_owned());
        let key = self
            .config()
            .portal
            .signing_key
            .as_ref()
            .ok_or_else(not_found)?;
        let (business_id, link_id) = super::links_url::verify(key, token).ok_or_else(not_found)?;
        let link = self
            .store()
            .get_top_up_link(&business_id, &link_id)
            .await?
            .ok_or_else(not_found)?;
        payable(&link, self.now())?;
        Ok(link)
    }

    /// Claims the link for the card top-up `top_up_id` of `amount` before its card is charged:
    /// for a single-use link exactly one claim wins (conditional on the link's version); a
    /// second tab gets `top_up_link_in_use` while the first's lease lasts. A claim whose top-up
    /// was released, or whose lease ended, may be taken. The same top-up claiming again keeps
    /// its claim.
    pub async fn claim_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &TopUpLinkId,
        top_up_id: &str,
        amount: i64,
    ) -> DomainResult<TopUpLink> {
        self.change(business_id, None, |now| async move {
            let link = self.stored_link(business_id, link_id).await?;
            let lapsed_charged = match lapsed_claim(&link, top_up_id, now) {
                Some(earlier) => {
                    self.top_up_charged(business_id, &link.customer_id, earlier)
                        .await?
                }
                None => false,
            };
            Ok(match claim(&link, top_up_id, amount, now, lapsed_charged) {
                Ok(Some(next)) => Plan::Commit(vec![Write::ReplaceTopUpLink(next.clone())], next),
                Ok(None) => Plan::Answer(link),
                Err(refused) => Plan::Refused(refused),
            })
        })
        .await
    }

    /// Whether the card top-up `top_up_id`, whose claim of a link lapsed, charged the card (or
    /// may have: a PaymentIntent exists and did not fail). Then its claim stands, as its credit
    /// will mark the link paid, and no second payer is let through.
    ///
    /// GLUE (issue 21, at merge): card top-ups are H-pay's records; until they are here this
    /// answers `false` (a lapsed claim may be taken). The lead replaces the body with a read of
    /// the `CardTopUp`: charged unless absent or `failed`, i.e.
    /// `Ok(self.store().get_card_top_up(business_id, customer_id, top_up_id).await?
    ///     .is_some_and(|t| t.status != CardTopUpStatus::Failed))`.
    async fn top_up_charged(
        &self,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        top_up_id: &str,
    ) -> DomainResult<bool> {
        Ok(self
            .store()
            .get_card_top_up(business_id, customer_id, top_up_id)
            .await?
            .is_some_and(|t| t.status != super::model::CardTopUpStatus::Failed))
    }

    /// Gives back `top_up_id`'s claim of the link (its card declined), so that the payer may
    /// try again; a top-up that holds no claim changes nothing.
    pub async fn release_top_up_link(
        &self,
        business_id: &BusinessId,
        link_id: &TopUpLinkId,
        top_up_id: &str,
    ) -> DomainResult<TopUpLink> {
        self.change(business_id, None, |now| async move {
            let link = self.stored_link(business_id, link_id).await?;
            Ok(match release(&link, top_up_id, now) {
                Some(next) => Plan::Commit(vec![Write::ReplaceTopUpLink(next.clone())], next),
                None => Plan::Answer(link),
            })
        })
        .await
    }

    /// The write that marks the link paid by `top_up_id` (credited `amount`), for the card
    /// top-up's settle to add to the transaction that credits it (`link_id` as the top-up's
    /// `TopUpSource::Link` holds it); `None` when the link is not that top-up's to mark (then
    /// the credit goes on alone: money that moved is credited). Read inside the settle's plan,
    /// so a race re-reads it.
    pub async fn top_up_link_paid(
        &self,
        business_id: &BusinessId,
        link_id: &str,
        top_up_id: &str,
        amount: i64,
    ) -> DomainResult<Option<Write>> {
        let Ok(link_id) = TopUpLinkId::parse(link_id) else {
            tracing::warn!(
                link_id,
                top_up_id,
                "a top-up paid through a link id that is none"
            );
            return Ok(None);
        };
        let link_id = &link_id;
        let Some(link) = self.store().get_top_up_link(business_id, link_id).await? else {
            tracing::warn!(%link_id, top_up_id, "a top-up paid through a link that is not there");
            return Ok(None);
        };
        let paid = mark_paid(&link, top_up_id, amount, self.now());
        if paid.is_none() {
            tracing::warn!(%link_id, top_up_id, "a top-up credited without the link's claim");
        }
        Ok(paid.map(Write::TopUpLinkPaid))
    }

    /// Marks at most `limit` lapsed links expired; answers how many, or the first error.
    pub async fn expire_top_up_links(&self, now: Timestamp, limit: usize) -> DomainResult<usize> {
        let no_budget = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
        self.expire_top_up_links_within(now, limit, no_budget)
            .await?
            .strict()
    }

    /// The sweep's step: marks at most `limit` active links whose expiry is at or before `now`
    /// expired, fairly across businesses among those the index shows, starting none after
    /// `stop_at`. A link that fails is logged and counted, and the step goes on.
    pub async fn expire_top_up_links_within(
        &self,
        now: Timestamp,
        limit: usize,
        stop_at: tokio::time::Instant,
    ) -> DomainResult<Step> {
        let step = async {
            let found = self
                .store()
                .expired_top_up_links(now.unix_ms, sweep::examined(limit))
                .await?;
            let mut step = Step::default();
            for found in sweep::fair_share(found, |l| &l.business_id, limit) {
                if tokio::time::Instant::now() >= stop_at {
                    step.stopped_early = true;
                    break;
                }
                match self.expire_top_up_link(now, &found).await {
                    Ok(expired) => step.done += usize::from(expired),
                    Err(error) => {
                        let item = format!("{}/{}", found.business_id, found.link_id);
                        sweep::item_failed("top-up-link-expiry", &item, &error);
                        step.errors.push(error);
                    }
                }
            }
            Ok(step)
        };
        crate::access::actor::or_process("top-up-link-expiry", step).await
    }

    /// Expires one link the index found, if it is still active and lapsed. The customer's
    /// wallets are written with it (their version only), so its event carries the wallet and a
    /// sequence of its own, as every event does.
    async fn expire_top_up_link(&self, now: Timestamp, found: &TopUpLinkRef) -> DomainResult<bool> {
        let business_id = &found.business_id;
        self.change(business_id, None, |_| async move {
            let Some(link) = self
                .store()
                .get_top_up_link(business_id, &found.link_id)
                .await?
            else {
                return Ok(Plan::Answer(false));
            };
            let Some(expired) = expire(&link, now) else {
                return Ok(Plan::Answer(false)); // paid, cancelled, claimed or expired meanwhile
            };
            let mut writes = Vec::new();
            if let Some(mut wallets) = self
                .store()
                .get_wallets(business_id, &link.customer_id)
                .await?
            {
                wallets.version += 1;
                writes.push(Write::Wallets(wallets));
            }
            writes.push(Write::ReplaceTopUpLink(expired));
            Ok(Plan::Commit(writes, true))
        })
        .await
    }
}
