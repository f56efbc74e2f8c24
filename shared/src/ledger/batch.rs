//! Batches of ledger entries: up to [`BATCH_ITEMS_MAX`] credits and debits for the business's
//! customers in one request. Each item is its own ledger entry (before and after balances,
//! numbered in its customer's chain) with its own idempotency key; a customer's items are
//! applied in request order and merged into as few transactions as DynamoDB allows (100 items
//! each: the wallet set, then an entry and a key claim per item), customers side by side.
//!
//! An item never half-applies: its entry and its key claim are written in the same transaction
//! as the balance. Each item ends applied, refused by the rules (insufficient balance, closed
//! wallet, ...: judged on the state its transaction committed on, or on a consistent read when
//! nothing of the customer's was written), or a duplicate of an earlier request (or of an
//! earlier item) with the same key, answered with the original. A retried batch applies nothing
//! twice: every applied item's key is claimed.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};

use super::model::{CustomerWallets, EntryCommand, LedgerEntry};
use super::rules::{apply_entry, check_event_type};
use crate::access::model::Tenant;
use crate::change::model::{Change, Write};
use crate::change::{backoff, ATTEMPTS_MAX, CONTENTION_BUDGET};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::ids::change_token;
use crate::kernel::{Clock, CustomerId, EntryId, IdempotencyKey, ValidationError};
use crate::ports::Store;
use crate::service::Service;

/// Items one batch may hold.
pub const BATCH_ITEMS_MAX: usize = 1_000;
/// Items in one DynamoDB transaction.
pub const TRANSACTION_ITEMS_MAX: usize = 100;
/// Items a keyed entry adds to a transaction: the entry, its copy in its currency's ledger (the
/// store's, for listing one currency), its idempotency record. With the wallet set, 33 entries
/// fill a transaction.
pub const ITEMS_PER_KEYED_ENTRY: usize = 3;
/// Customers whose items are applied at once.
const CUSTOMERS_AT_ONCE: usize = 8;
/// Look-ups of refused items' keys at once.
const KEY_LOOKUPS_AT_ONCE: usize = 16;

/// One item of a batch, parsed: whose wallet, and the entry.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub customer_id: CustomerId,
    pub command: EntryCommand,
}

/// What became of one item: its entry, or why there is none (the error it would have had
/// alone: `InsufficientBalance`, `IdempotencyKeyReused` with the original, a 422 or 404 ...).
pub type ItemOutcome = DomainResult<LedgerEntry>;

impl<S: Store, C: Clock> Service<S, C> {
    /// Applies a batch; answers each item's outcome in request order. Fails as a whole only
    /// when the store does (503/500) or a customer stays contended past the attempt budget or
    /// past [`CONTENTION_BUDGET`] from the batch's start (409, retryable): then some customers' items may have landed, and the same batch sent
    /// again answers them as duplicates and applies the rest.
    pub async fn create_entries(
        &self,
        tenant: &Tenant,
        items: Vec<DomainResult<BatchItem>>,
    ) -> DomainResult<Vec<ItemOutcome>> {
        if items.is_empty() {
            return Err(
                ValidationError::new("empty_batch", "a batch holds at least one item").into(),
            );
        }
        if items.len() > BATCH_ITEMS_MAX {
            return Err(ValidationError::new(
                "too_many_items",
                format!("a batch holds at most {BATCH_ITEMS_MAX} items"),
            )
            .into());
        }
        let mut outcomes: Vec<Option<ItemOutcome>> = Vec::with_capacity(items.len());
        // The items still to apply (None: decided already).
        let mut parsed: Vec<Option<BatchItem>> = Vec::with_capacity(items.len());
        // Customer → its items' positions, in request order; a key repeated in the batch goes
        // to the item that used it first.
        let mut customers: Vec<(CustomerId, Vec<usize>)> = Vec::new();
        let mut first_with_key: HashMap<IdempotencyKey, usize> = HashMap::new();
        let mut repeats: Vec<(usize, usize, IdempotencyKey)> = Vec::new();
        for (at, item) in items.into_iter().enumerate() {
            let checked = item.and_then(|item| {
                check_event_type(&item.command)?;
                let key = item.command.idempotency_key.clone().ok_or_else(|| {
                    ValidationError::new(
                        "missing_idempotency_key",
                        "every batch item needs an idempotency_key (a retried batch then applies nothing twice)",
                    )
                })?;
                Ok((item, key))
            });
            let (item, key) = match checked {
                Ok(checked) => checked,
                Err(refused) => {
                    outcomes.push(Some(Err(refused)));
                    parsed.push(None);
                    continue;
                }
            };
            outcomes.push(None);
            if let Some(&first) = first_with_key.get(&key) {
                repeats.push((at, first, key));
                parsed.push(None);
                continue;
            }
            first_with_key.insert(key, at);
            match customers.iter_mut().find(|(c, _)| *c == item.customer_id) {
                Some((_, positions)) => positions.push(at),
                None => customers.push((item.customer_id.clone(), vec![at])),
            }
            parsed.push(Some(item));
        }
        let parsed = &parsed;
        // One time budget for the whole batch: its customers' groups run in waves.
        let give_up_at = tokio::time::Instant::now() + CONTENTION_BUDGET;
        let mut groups = stream::iter(customers.into_iter().map(|(customer_id, positions)| {
            let commands: Vec<(usize, &EntryCommand)> = positions
                .iter()
                .map(|&at| (at, &parsed[at].as_ref().expect("to apply").command))
                .collect();
            // Boxed: a customer's loop is a deep future.
            Box::pin(async move {
                self.apply_group(tenant, &customer_id, commands, give_up_at)
                    .await
            })
        }))
        .buffer_unordered(CUSTOMERS_AT_ONCE);
        while let Some(group) = groups.next().await {
            for (at, outcome) in group? {
                outcomes[at] = Some(outcome);
            }
        }
        for (at, first, key) in repeats {
            let key = key.as_str().to_owned();
            outcomes[at] = Some(match outcomes[first].as_ref().expect("decided") {
                Ok(entry) => Err(DomainError::IdempotencyKeyReused {
                    key,
                    original: Box::new(Original::Entry(entry.clone())),
                }),
                Err(DomainError::IdempotencyKeyReused { original, .. }) => {
                    Err(DomainError::IdempotencyKeyReused {
                        key,
                        original: original.clone(),
                    })
                }
                Err(_) => Err(ValidationError::new(
                    "idempotency_key_repeated",
                    "an earlier item of this batch has the same idempotency_key and was not applied",
                )
                .into()),
            });
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every item decided"))
            .collect())
    }

    /// One customer's items, in order: planned on the wallets, written in transactions of at
    /// most [`TRANSACTION_ITEMS_MAX`] items, each conditional on the wallets' version. A
    /// conflict after `give_up_at` gives up with [`DomainError::Contention`].
    async fn apply_group(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        commands: Vec<(usize, &EntryCommand)>,
        give_up_at: tokio::time::Instant,
    ) -> DomainResult<Vec<(usize, ItemOutcome)>> {
        let business_id = &tenant.business_id;
        let _turn = self.hints().lane(business_id, customer_id).await;
        let now_ms = self.now().unix_ms;
        let mut pending: Vec<(usize, &EntryCommand, EntryId)> = commands
            .into_iter()
            .map(|(at, command)| (at, command, EntryId::generate_at(now_ms)))
            .collect();
        let mut decided: Vec<(usize, ItemOutcome)> = Vec::new();
        let mut known: Option<CustomerWallets> = None;
        let mut attempt = 0;
        while !pending.is_empty() {
            let current = match known.take() {
                Some(wallets) => wallets,
                None => match self.wallets_of(tenant, customer_id).await {
                    Ok(wallets) => wallets,
                    Err(DomainError::CustomerNotFound(id)) => {
                        let refused = || Err(DomainError::CustomerNotFound(id.clone()));
                        decided.extend(pending.iter().map(|(at, ..)| (*at, refused())));
                        break;
                    }
                    Err(other) => return Err(other),
                },
            };
            // Plan as many items as one transaction holds, in order, each on the state the
            // ones before it leave.
            let now = self.now();
            let (mut next, mut size) = (current.clone(), 1);
            let (mut applied, mut refused, mut planned) = (Vec::new(), Vec::new(), 0);
            for (at, command, entry_id) in &pending {
                if size + ITEMS_PER_KEYED_ENTRY > TRANSACTION_ITEMS_MAX {
                    break;
                }
                planned += 1;
                match apply_entry(&next, business_id, command, entry_id.clone(), now) {
                    Ok(done) => {
                        next = done.next;
                        applied.push((*at, done.entry));
                        size += ITEMS_PER_KEYED_ENTRY;
                    }
                    Err(rule) => refused.push((*at, *command, rule)),
                }
            }
            // A refused item whose key an earlier request claimed answers with that original,
            // as a single entry does: a batch sent again after its answer was lost must not
            // report an applied debit as refused because the debit itself emptied the wallet.
            let refused = self.originals_first(business_id, refused).await?;
            if applied.is_empty() {
                // Nothing to write: refused on the state as read (or as a refusal answered it).
                decided.extend(refused);
                pending.drain(..planned);
                known = Some(current);
                continue;
            }
            // Each entry's rule counted a version; the transaction is one change of the wallets.
            next.version = current.version + 1;
            let mut writes = vec![Write::Wallets(next.clone())];
            for (_, entry) in &applied {
                writes.push(Write::NewEntry(entry.clone()));
                writes.push(Write::ClaimKey {
                    key: entry
                        .idempotency_key
                        .clone()
                        .expect("batch items have keys"),
                    original: Original::Entry(entry.clone()),
                });
            }
            let change = Change {
                business_id: business_id.clone(),
                writes,
                token: change_token(now.unix_ms),
            };
            let (outcome, sent_again) = self.commit(&change).await?;
            let landed = match &outcome {
                Ok(()) => true,
                Err(_) => sent_again && self.landed(&change).await?,
            };
            if landed {
                crate::stats::ledger_entries_written(applied.len() as u32);
                self.hints().keep(business_id, &next);
                decided.extend(applied.into_iter().map(|(at, entry)| (at, Ok(entry))));
                decided.extend(refused);
                pending.drain(..planned);
                known = Some(next);
                attempt = 0;
                continue;
            }
            let rejection = outcome.expect_err("not landed");
            // Keys another request took: those items are duplicates; the rest is planned again.
            let mut taken = false;
            for &failed in &rejection.failed {
                let Write::ClaimKey { key, original } = &change.writes[failed] else {
                    continue;
                };
                let found = self.store().original_for_key(business_id, key).await?;
                let found = found.expect("the key was taken, so its record exists");
                debug_assert_ne!(
                    found.id(),
                    original.id(),
                    "an unknown outcome is checked above"
                );
                let at = pending
                    .iter()
                    .position(|(_, command, _)| command.idempotency_key.as_ref() == Some(key))
                    .expect("a claimed key is a pending item's");
                let (at, ..) = pending.remove(at);
                decided.push((
                    at,
                    Err(DomainError::IdempotencyKeyReused {
                        key: key.as_str().to_owned(),
                        original: Box::new(found),
                    }),
                ));
                taken = true;
            }
            known = rejection.wallets_now.map(|wallets| *wallets);
            if let Some(wallets) = &known {
                self.hints().keep(business_id, wallets);
            }
            if !taken {
                crate::stats::contention_retry();
                attempt += 1;
                if attempt >= ATTEMPTS_MAX || tokio::time::Instant::now() >= give_up_at {
                    return Err(DomainError::Contention);
                }
                backoff(attempt).await;
            } else if known.is_none() && !rejection.failed.contains(&0) {
                // Only keys failed: the wallets were as planned.
                known = Some(current);
            }
        }
        Ok(decided)
    }

    /// Each rule refusal, or the original of its key when an earlier request claimed the key.
    async fn originals_first(
        &self,
        business_id: &crate::kernel::BusinessId,
        refused: Vec<(usize, &EntryCommand, DomainError)>,
    ) -> DomainResult<Vec<(usize, ItemOutcome)>> {
        let lookups: Vec<(usize, IdempotencyKey, DomainError)> = refused
            .into_iter()
            .map(|(at, command, rule)| {
                let key = command.idempotency_key.clone();
                (at, key.expect("batch items have keys"), rule)
            })
            .collect();
        let mut answers = stream::iter(lookups)
            .map(|(at, key, rule)| self.original_or(business_id, at, key, rule))
            .buffered(KEY_LOOKUPS_AT_ONCE);
        let mut outcomes = Vec::new();
        while let Some(outcome) = answers.next().await {
            outcomes.push(outcome?);
        }
        Ok(outcomes)
    }

    /// Item `at`'s answer: the original of its key when an earlier request claimed the key (as
    /// [`Service::repeated_key`] answers a single request), else its rule's refusal.
    async fn original_or(
        &self,
        business_id: &crate::kernel::BusinessId,
        at: usize,
        key: IdempotencyKey,
        rule: DomainError,
    ) -> DomainResult<(usize, ItemOutcome)> {
        let refused = self.repeated_key(business_id, &key).await?.unwrap_or(rule);
        Ok((at, Err(refused)))
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
