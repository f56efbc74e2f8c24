//! A [`Change`] in memory: each write's condition checked against the stored records, then all
//! of them written or none, as one DynamoDB transaction named by the change's token; and the
//! injected conflicts and lost answers of the tests.

use std::collections::HashSet;

use super::keys::item_key;
use super::table::{revision_of, Tables};
use super::{MemoryStore, State};
use crate::change::model::{Change, Rejection, Write};
use crate::error::{DomainError, DomainResult};
use crate::holds::model::HoldStatus;
use crate::kernel::BusinessId;

/// Writes one DynamoDB transaction may hold.
const TRANSACTION_WRITES_MAX: usize = 100;

impl Tables {
    /// Whether the stored state meets the condition `write` documents.
    fn allows(&self, business_id: &BusinessId, write: &Write) -> bool {
        match write {
            Write::NewBusiness(business) => !self.businesses.contains_key(&business.business_id),
            Write::NewApiKey(key) => !self.api_keys.contains_key(&key.key_hash),
            Write::NewCustomer(customer) => self
                .customer(&customer.business_id, &customer.customer_id)
                .is_none(),
            Write::ReplaceCustomer { customer, revision } => self
                .customer(&customer.business_id, &customer.customer_id)
                .is_some_and(|stored| revision_of(stored) == *revision),
            Write::NewWallets(wallets) => self.wallets(business_id, &wallets.customer_id).is_none(),
            Write::Wallets(wallets) => {
                let read = wallets
                    .version
                    .checked_sub(1)
                    .expect("a changed wallet set has a version above zero");
                self.wallets(business_id, &wallets.customer_id)
                    .is_some_and(|stored| stored.version == read)
            }
            Write::NewEntry(entry) => self
                .partition(&entry.business_id, &entry.customer_id)
                .is_none_or(|p| !p.entries.contains_key(&entry.customer_seq)),
            Write::NewHold(hold) => self
                .hold(&hold.business_id, &hold.customer_id, &hold.id)
                .is_none(),
            Write::ResolveHold(hold) => self
                .hold(&hold.business_id, &hold.customer_id, &hold.id)
                .is_some_and(|stored| stored.status == HoldStatus::Pending),
            Write::NewInvoicePayment(payment) => self
                .invoice(
                    &payment.business_id,
                    &payment.customer_id,
                    &payment.invoice_id,
                )
                .is_none(),
            Write::ReverseInvoicePayment {
                payment,
                reversed_before,
            } => self
                .invoice(
                    &payment.business_id,
                    &payment.customer_id,
                    &payment.invoice_id,
                )
                .is_some_and(|stored| stored.reversed == *reversed_before),
            Write::NewCardTopUp(top_up) => self
                .card_top_up(&top_up.business_id, &top_up.customer_id, &top_up.id)
                .is_none(),
            Write::CardTopUp(top_up) => self
                .card_top_up(&top_up.business_id, &top_up.customer_id, &top_up.id)
                .is_some_and(|stored| stored.version + 1 == top_up.version),
            Write::ClaimKey { key, .. } => !self
                .claims
                .contains_key(&(business_id.clone(), key.clone())),
            Write::Receipt { customer_id, token } => self
                .partition(business_id, customer_id)
                .is_none_or(|p| !p.receipts.contains(token)),
            Write::NewTopUpLink(link) => !self
                .top_up_links
                .contains_key(&(link.business_id.clone(), link.id.clone())),
            Write::ReplaceTopUpLink(link) | Write::TopUpLinkPaid(link) => self
                .top_up_links
                .get(&(link.business_id.clone(), link.id.clone()))
                .is_some_and(|stored| stored.version + 1 == link.version),
        }
    }

    /// Notes on each new entry of `change` its currency's pending charges as the change's
    /// wallets leave them, as the DynamoDB adapter writes `w_after` on the entry item.
    fn note_pending_after(&mut self, change: &Change) {
        let wallets = change.writes.iter().find_map(|write| match write {
            Write::Wallets(wallets) | Write::NewWallets(wallets) => Some(wallets),
            _ => None,
        });
        for write in &change.writes {
            if let (Write::NewEntry(entry), Some(wallets)) = (write, wallets) {
                if let Some(wallet) = wallets.wallets.get(&entry.currency) {
                    self.partition_mut(&entry.business_id, &entry.customer_id)
                        .pending_after
                        .insert(entry.customer_seq, wallet.pending_charges);
                }
            }
        }
    }

    /// Stores what `write` writes, over whatever was there (its condition was checked).
    fn put(&mut self, business_id: &BusinessId, write: &Write) {
        match write {
            Write::NewBusiness(business) => {
                self.businesses
                    .insert(business.business_id.clone(), business.clone());
            }
            Write::NewApiKey(key) => {
                self.api_keys.insert(key.key_hash.clone(), key.clone());
            }
            Write::NewCustomer(customer) | Write::ReplaceCustomer { customer, .. } => {
                self.customers
                    .entry(customer.business_id.clone())
                    .or_default()
                    .insert(customer.customer_id.clone(), customer.clone());
            }
            Write::NewWallets(wallets) | Write::Wallets(wallets) => {
                self.partition_mut(business_id, &wallets.customer_id)
                    .wallets = Some(wallets.clone());
            }
            Write::NewEntry(entry) => {
                self.partition_mut(&entry.business_id, &entry.customer_id)
                    .entries
                    .insert(entry.customer_seq, entry.clone());
            }
            Write::NewHold(hold) | Write::ResolveHold(hold) => {
                self.partition_mut(&hold.business_id, &hold.customer_id)
                    .holds
                    .insert(hold.id.clone(), hold.clone());
            }
            Write::NewInvoicePayment(payment) | Write::ReverseInvoicePayment { payment, .. } => {
                self.partition_mut(&payment.business_id, &payment.customer_id)
                    .invoices
                    .insert(payment.invoice_id.clone(), payment.clone());
            }
            Write::NewCardTopUp(top_up) | Write::CardTopUp(top_up) => {
                self.partition_mut(&top_up.business_id, &top_up.customer_id)
                    .card_top_ups
                    .insert(top_up.id.clone(), top_up.clone());
            }
            Write::ClaimKey { key, original } => {
                self.claims
                    .insert((business_id.clone(), key.clone()), original.clone());
            }
            Write::Receipt { customer_id, token } => {
                self.partition_mut(business_id, customer_id)
                    .receipts
                    .insert(token.clone());
            }
            Write::NewTopUpLink(link)
            | Write::ReplaceTopUpLink(link)
            | Write::TopUpLinkPaid(link) => {
                self.top_up_links
                    .insert((link.business_id.clone(), link.id.clone()), link.clone());
            }
        }
    }
}

/// What DynamoDB refuses before looking at any condition: an empty or oversized transaction, or
/// two writes of one item.
fn malformed(change: &Change) -> Option<DomainError> {
    let writes = change.writes.len();
    if !(1..=TRANSACTION_WRITES_MAX).contains(&writes) {
        return Some(DomainError::Storage(format!(
            "commit: a transaction takes 1 to {TRANSACTION_WRITES_MAX} writes; got {writes}"
        )));
    }
    let mut items = HashSet::new();
    let repeated = change
        .writes
        .iter()
        .any(|write| !items.insert(item_key(&change.business_id, write)));
    repeated.then(|| {
        DomainError::Storage("commit: a transaction cannot write one item twice".to_owned())
    })
}

impl State {
    /// Another change of the wallets `change` wrote lands: their version moves on.
    fn move_wallets_on(&mut self, change: &Change) {
        for write in &change.writes {
            if let Write::Wallets(wallets) | Write::NewWallets(wallets) = write {
                let partition = self
                    .tables
                    .partition_mut(&change.business_id, &wallets.customer_id);
                if let Some(stored) = partition.wallets.as_mut() {
                    stored.version += 1;
                }
            }
        }
    }

    /// The answer to a commit that landed (now or under its token before): success, unless
    /// answers are to be lost.
    fn answer_landed(&mut self) -> DomainResult<Result<(), Rejection>> {
        if self.answers_to_lose > 0 {
            self.answers_to_lose -= 1;
            return Err(DomainError::Unavailable(
                "committed, then the answer was lost (injected)".to_owned(),
            ));
        }
        Ok(Ok(()))
    }
}

impl MemoryStore {
    /// Checks every write's condition, then writes all of them, or none and names every write
    /// whose condition failed.
    pub(super) async fn commit_change(
        &self,
        change: &Change,
    ) -> DomainResult<Result<(), Rejection>> {
        tokio::task::yield_now().await;
        if let Some(refused) = malformed(change) {
            return Err(refused);
        }
        let mut state = self.lock();
        if state.tokens.contains(&change.token) && !state.forget_tokens {
            return state.answer_landed();
        }
        let failed: Vec<usize> = if state.conflicts_to_inject > 0 {
            state.conflicts_to_inject -= 1;
            Vec::new()
        } else {
            let failed: Vec<usize> = (0..change.writes.len())
                .filter(|&at| !state.tables.allows(&change.business_id, &change.writes[at]))
                .collect();
            if failed.is_empty() {
                for write in &change.writes {
                    state.tables.put(&change.business_id, write);
                }
                state.tables.note_pending_after(change);
                state.commits.landed += 1;
                state.tokens.insert(change.token.clone());
                let answer = state.answer_landed();
                if answer.is_err() && state.move_wallets_after_lost_answer {
                    state.move_wallets_on(change);
                }
                return answer;
            }
            failed
        };
        state.commits.rejected += 1;
        // As DynamoDB answers with ReturnValuesOnConditionCheckFailure on the wallets' write.
        let wallets_now = failed.iter().find_map(|&at| match &change.writes[at] {
            Write::Wallets(wallets) => state
                .tables
                .wallets(&change.business_id, &wallets.customer_id)
                .cloned()
                .map(Box::new),
            _ => None,
        });
        Ok(Err(Rejection {
            failed,
            wallets_now,
        }))
    }
}

#[cfg(test)]
mod tests;
