//! Ledger operations: reading wallets, writing one entry, listing entries.

use super::model::{CurrencyWallet, CustomerWallets, EntryCommand, LedgerEntry, WalletsWithTotal};
use super::rules::{apply_entry, check_event_type, entry_range};
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::paging::PageRequest;
use crate::kernel::{Clock, Currency, CustomerId, EntryId};
use crate::ports::Store;
use crate::service::Service;

impl<S: Store, C: Clock> Service<S, C> {
    /// The customer's wallets, read consistently; 404 when the customer does not exist.
    pub(crate) async fn wallets_of(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<CustomerWallets> {
        self.store()
            .get_wallets(&tenant.business_id, customer_id)
            .await?
            .ok_or_else(|| DomainError::CustomerNotFound(customer_id.to_string()))
    }

    /// The customer's wallets and their sum in USD.
    pub async fn list_wallets(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
    ) -> DomainResult<WalletsWithTotal> {
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let total_balance_usd = self
            .config()
            .rates
            .total_usd_cents(wallets.wallets.iter().map(|(c, w)| (*c, w.balance)));
        Ok(WalletsWithTotal {
            wallets,
            total_balance_usd,
        })
    }

    /// Writes one ledger entry and returns the wallet after it. A repeated
    /// idempotency key answers with the original entry. Plans from the wallets this process saw
    /// last when it saw them lately (`hints.rs`), else reads them; this process's requests for
    /// one customer take turns.
    pub async fn create_entry(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: EntryCommand,
    ) -> DomainResult<CurrencyWallet> {
        check_event_type(&command)?;
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        let key = command.idempotency_key.as_ref();
        let _turn = self.hints().lane(&tenant.business_id, customer_id).await;
        self.change(&tenant.business_id, key, |now| async move {
            let rule = |current: &CustomerWallets| {
                apply_entry(current, &tenant.business_id, command, entry_id.clone(), now)
            };
            let ruled = match self.hints().get(&tenant.business_id, customer_id) {
                // A hint may be stale: only a consistent read may refuse.
                Some(hinted) => match rule(&hinted) {
                    Ok(applied) => Ok(applied),
                    Err(_) => rule(&self.wallets_of(tenant, customer_id).await?),
                },
                None => rule(&self.wallets_of(tenant, customer_id).await?),
            };
            Ok(Plan::from_rules(ruled, |applied| {
                let answer = applied.next.wallet_in(command.currency);
                let claim = key.map(|key| Write::ClaimKey {
                    key: key.clone(),
                    original: Original::Entry(applied.entry.clone()),
                });
                let mut writes = vec![Write::Wallets(applied.next), Write::NewEntry(applied.entry)];
                writes.extend(claim);
                (writes, answer)
            }))
        })
        .await
    }

    /// One page of the customer's ledger (or of one currency's), newest first; costs one wallet
    /// read and one query of at most `page.size` entries, whatever the page number.
    pub async fn list_entries(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        currency: Option<Currency>,
        page: PageRequest,
    ) -> DomainResult<Vec<LedgerEntry>> {
        let wallets = self.wallets_of(tenant, customer_id).await?;
        let Some(range) = entry_range(&wallets, currency, page) else {
            return Ok(Vec::new());
        };
        let entries = self
            .store()
            .list_entries(&tenant.business_id, customer_id, range)
            .await?;
        debug_assert_eq!(
            entries.len() as u64,
            range.newest - range.oldest + 1,
            "a committed range has no gaps"
        );
        Ok(entries)
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
