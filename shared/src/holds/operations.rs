//! Hold operations, and the sweep's step that expires them.

use super::model::{CaptureCommand, Hold, HoldCommand, HoldQuery, HoldRef, HoldStatus};
use super::rules::{capture, create, release};
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::{Clock, CustomerId, EntryId, HoldId, Timestamp};
use crate::ledger::model::CustomerWallets;
use crate::ports::Store;
use crate::service::Service;
use crate::sweep::{self, Step};

impl<S: Store, C: Clock> Service<S, C> {
    /// Reserves part of a wallet's available balance until captured, released or expired.
    pub async fn create_hold(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: HoldCommand,
    ) -> DomainResult<Hold> {
        let (command, hold_id) = (&command, &HoldId::generate_at(self.now().unix_ms));
        let key = command.idempotency_key.as_ref();
        self.change(&tenant.business_id, key, |now| async move {
            let current = self.wallets_of(tenant, customer_id).await?;
            let ruled = create(&current, &tenant.business_id, command, hold_id, now);
            Ok(Plan::from_rules(ruled, |(next, hold)| {
                let claim = key.map(|key| Write::ClaimKey {
                    key: key.clone(),
                    original: Original::Hold(hold.clone()),
                });
                let mut writes = vec![Write::Wallets(next), Write::NewHold(hold.clone())];
                writes.extend(claim);
                (writes, hold)
            }))
        })
        .await
    }

    /// The customer's wallets and one of its holds, read consistently.
    async fn wallets_and_hold(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<(CustomerWallets, Hold)> {
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let hold = self
            .store()
            .get_hold(&tenant.business_id, customer_id, hold_id)
            .await?
            .ok_or_else(|| DomainError::HoldNotFound(hold_id.to_string()))?;
        Ok((wallets, hold))
    }

    pub async fn get_hold(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Hold> {
        match self
            .store()
            .get_hold(&tenant.business_id, customer_id, hold_id)
            .await?
        {
            Some(hold) => Ok(hold),
            // An unknown customer answers as such, not as an unknown hold.
            None => {
                self.wallets_of(tenant, customer_id).await?;
                Err(DomainError::HoldNotFound(hold_id.to_string()))
            }
        }
    }

    pub async fn list_holds(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        query: HoldQuery,
    ) -> DomainResult<Vec<Hold>> {
        query.page.check_depth("hold")?;
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let newest_chunk = super::model::newest_hold_chunk(wallets.hold_count);
        self.store()
            .list_holds(&tenant.business_id, customer_id, &query, newest_chunk)
            .await
    }

    /// Charges all or part of a pending hold as one debit and releases the rest.
    pub async fn capture_hold(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        hold_id: &HoldId,
        command: CaptureCommand,
    ) -> DomainResult<Hold> {
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        self.change(&tenant.business_id, None, |now| async move {
            let (current, hold) = self.wallets_and_hold(tenant, customer_id, hold_id).await?;
            let (applied, captured) = capture(&current, &hold, command, entry_id.clone(), now)?;
            let writes = vec![
                Write::Wallets(applied.next),
                Write::NewEntry(applied.entry),
                Write::ResolveHold(captured.clone()),
            ];
            Ok(Plan::Commit(writes, captured))
        })
        .await
    }

    /// Gives a pending hold back to the available balance.
    pub async fn release_hold(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        hold_id: &HoldId,
    ) -> DomainResult<Hold> {
        self.change(&tenant.business_id, None, |now| async move {
            let (current, hold) = self.wallets_and_hold(tenant, customer_id, hold_id).await?;
            let (next, released) = release(&current, &hold, HoldStatus::Released, now)?;
            let writes = vec![Write::Wallets(next), Write::ResolveHold(released.clone())];
            Ok(Plan::Commit(writes, released))
        })
        .await
    }

    /// Marks at most `limit` pending holds whose expiry is at or before `now` as expired,
    /// giving their amounts back; answers how many it expired, or the first hold's error (the
    /// others were still tried). See [`Self::expire_holds_within`].
    pub async fn expire_holds(&self, now: Timestamp, limit: usize) -> DomainResult<usize> {
        let no_budget = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
        self.expire_holds_within(now, limit, no_budget)
            .await?
            .strict()
    }

    /// The sweep's step: marks at most `limit` pending holds whose expiry is at or before `now`
    /// as expired, taken fairly across businesses among the due holds the index shows (see
    /// [`crate::sweep`]), starting none after `stop_at`. A hold that fails is logged and
    /// counted ([`Step::errors`]), and the step goes on. Fails only if the index cannot be
    /// read.
    pub async fn expire_holds_within(
        &self,
        now: Timestamp,
        limit: usize,
        stop_at: tokio::time::Instant,
    ) -> DomainResult<Step> {
        let step = self.expire_holds_as_is(now, limit, stop_at);
        crate::access::actor::or_process("hold-expiry", step).await
    }

    async fn expire_holds_as_is(
        &self,
        now: Timestamp,
        limit: usize,
        stop_at: tokio::time::Instant,
    ) -> DomainResult<Step> {
        let found = self
            .store()
            .expired_holds(now.unix_ms, sweep::examined(limit))
            .await?;
        let mut step = Step::default();
        for found in sweep::fair_share(found, |h| &h.business_id, limit) {
            if tokio::time::Instant::now() >= stop_at {
                step.stopped_early = true;
                break;
            }
            match self.expire_hold(now, &found).await {
                Ok(expired) => step.done += usize::from(expired),
                Err(error) => {
                    let item = format!(
                        "{}/{}/{}",
                        found.business_id, found.customer_id, found.hold_id
                    );
                    sweep::item_failed("hold-expiry", &item, &error);
                    step.errors.push(error);
                }
            }
        }
        Ok(step)
    }

    /// Expires one hold the index found, if it is still pending and past its expiry.
    async fn expire_hold(&self, now: Timestamp, found: &HoldRef) -> DomainResult<bool> {
        let tenant = &Tenant {
            business_id: found.business_id.clone(),
        };
        self.change(&tenant.business_id, None, |_| async move {
            let read = self
                .wallets_and_hold(tenant, &found.customer_id, &found.hold_id)
                .await;
            let (current, hold) = match read {
                Ok(read) => read,
                Err(DomainError::HoldNotFound(_) | DomainError::CustomerNotFound(_)) => {
                    return Ok(Plan::Answer(false))
                }
                Err(other) => return Err(other),
            };
            if hold.status != HoldStatus::Pending || hold.expires_at > now {
                return Ok(Plan::Answer(false)); // resolved meanwhile: nothing to do
            }
            let (next, lapsed) = release(&current, &hold, HoldStatus::Expired, now)?;
            let writes = vec![Write::Wallets(next), Write::ResolveHold(lapsed)];
            Ok(Plan::Commit(writes, true))
        })
        .await
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
