//! The close operation.

use super::model::CloseCommand;
use super::rules::close;
use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::DomainResult;
use crate::kernel::{Clock, CustomerId, EntryId};
use crate::ledger::model::CurrencyWallet;
use crate::ports::Store;
use crate::service::Service;

impl<S: Store, C: Clock> Service<S, C> {
    /// Pays out a wallet's balance as one debit and closes it.
    pub async fn close_wallet(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        command: CloseCommand,
    ) -> DomainResult<CurrencyWallet> {
        let (command, entry_id) = (&command, &EntryId::generate_at(self.now().unix_ms));
        self.change(&tenant.business_id, None, |now| async move {
            let current = self.wallets_of(tenant, customer_id).await?;
            let (next, payout) = close(
                &current,
                &tenant.business_id,
                command,
                entry_id.clone(),
                now,
            )?;
            let answer = next.wallet_in(command.currency);
            let mut writes = vec![Write::Wallets(next)];
            writes.extend(payout.map(Write::NewEntry));
            Ok(Plan::Commit(writes, answer))
        })
        .await
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
