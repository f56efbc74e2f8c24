//! The one way the domain changes state: read, plan a list of typed writes, commit them in one
//! conditional transaction, and on a race read again and retry with jittered backoff.
//!
//! The types of a change (`model.rs`) import no port; this loop imports them and the store port.

pub mod model;

use std::future::Future;
use std::time::{Duration, Instant};

use self::model::{Change, Plan, Rejection, Write};
use crate::error::{DomainError, DomainResult};
use crate::kernel::ids::change_token;
use crate::kernel::{BusinessId, Clock, IdempotencyKey, Timestamp};
use crate::ledger::model::EntryRange;
use crate::ports::Store;
use crate::service::Service;

/// Attempts before a contended write gives up with a retryable 409 (never a 5xx).
pub const ATTEMPTS_MAX: u32 = 400;
/// Time a contended write keeps trying before it gives up with a retryable 409, inside the
/// function's 29 s timeout (the longest the former 400 attempts of at most 50 ms could take).
pub const CONTENTION_BUDGET: Duration = Duration::from_secs(20);
/// A commit that failed with its outcome unknown (the store timed out or failed, maybe after
/// writing) is tried again with the same token while this little time has passed since it was
/// first sent; after that the request answers 503 and the client retries with its key.
pub const UNKNOWN_OUTCOME_RETRY_WITHIN: Duration = Duration::from_secs(1);
/// Tries of one commit whose outcome stays unknown.
pub const UNKNOWN_OUTCOME_TRIES_MAX: u32 = 3;
const BACKOFF_BASE_MS: u64 = 2;
const BACKOFF_CAP_MS: u64 = 50;

/// Why the store refused a commit, when that is no error for the request.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Another change came first: read again and retry.
    Raced,
    /// This request's own earlier attempt had landed: answer as if this one did.
    OwnEarlierAttempt,
}

/// A receipt for a change that writes a customer's wallets and no record of its own that
/// [`Service::landed`] could tell from another request's (issue 24.6). An invoice payment that
/// applied nothing writes no entry, and two such payments of one invoice planned in the same
/// millisecond are equal record for record: one request would take the other's payment for its
/// own (the simulation met it, both answering 200).
fn receipt_for(writes: &[Write], token: &str) -> Option<Write> {
    let tells = writes.iter().any(|write| {
        matches!(
            write,
            Write::NewEntry(_)
                | Write::NewHold(_)
                | Write::ResolveHold(_)
                | Write::ReverseInvoicePayment { .. }
                | Write::ClaimKey { .. }
                | Write::NewTopUpLink(_)
                | Write::ReplaceTopUpLink(_)
                | Write::TopUpLinkPaid(_)
        )
    });
    let customer_id = writes.iter().find_map(|write| match write {
        Write::Wallets(wallets) => Some(&wallets.customer_id),
        _ => None,
    })?;
    (!tells).then(|| Write::Receipt {
        customer_id: customer_id.clone(),
        token: token.to_owned(),
    })
}

/// [`receipt_for`], for the tests of other modules.
#[cfg(test)]
pub(crate) fn receipt_for_tests(writes: &[Write], token: &str) -> Option<Write> {
    receipt_for(writes, token)
}

/// The customer whose wallets `change` writes, if it writes them.
fn wallets_customer(change: &Change) -> Option<&crate::kernel::CustomerId> {
    change.writes.iter().find_map(|write| match write {
        Write::Wallets(wallets) => Some(&wallets.customer_id),
        _ => None,
    })
}

/// "Full jitter": a uniformly random wait up to an exponentially growing, capped ceiling.
pub async fn backoff(attempt: u32) {
    let ceiling_ms = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(10));
    crate::kernel::wait::jittered(Duration::from_millis(ceiling_ms)).await;
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Runs `plan` (read, then decide) and commits what it decided, until the commit lands:
    /// a race is planned again after a wait within the customer's contention window (hints.rs),
    /// at most [`ATTEMPTS_MAX`] times or for [`CONTENTION_BUDGET`], then a retryable
    /// [`DomainError::Contention`]. A taken idempotency key or an invoice paid before
    /// answers with the original record.
    pub(crate) async fn change<T, F, Fut>(
        &self,
        business_id: &BusinessId,
        key: Option<&IdempotencyKey>,
        mut plan: F,
    ) -> DomainResult<T>
    where
        F: FnMut(Timestamp) -> Fut,
        Fut: Future<Output = DomainResult<Plan<T>>>,
    {
        // Tokio's clock: the time the backoffs sleep on.
        let started = tokio::time::Instant::now();
        for attempt in 0..ATTEMPTS_MAX {
            if attempt > 0 && started.elapsed() >= CONTENTION_BUDGET {
                break;
            }
            let (writes, answer) = match plan(self.now()).await? {
                Plan::Commit(writes, answer) => (writes, answer),
                Plan::Answer(answer) => return Ok(answer),
                Plan::Refused(refused) => {
                    return Err(match key {
                        Some(key) => self
                            .repeated_key(business_id, key)
                            .await?
                            .unwrap_or(refused),
                        None => refused,
                    })
                }
            };
            let mut change = Change {
                business_id: business_id.clone(),
                writes,
                token: change_token(self.now().unix_ms),
            };
            if let Some(receipt) = receipt_for(&change.writes, &change.token) {
                change.writes.push(receipt);
            }
            change.assert_entries_numbered();
            let (outcome, sent_again) = self.commit(&change).await?;
            let Err(rejection) = outcome else {
                for write in &change.writes {
                    if let Write::Wallets(wallets) | Write::NewWallets(wallets) = write {
                        self.hints().keep(business_id, wallets);
                    }
                }
                let entries = change
                    .writes
                    .iter()
                    .filter(|w| matches!(w, Write::NewEntry(_)))
                    .count();
                crate::stats::ledger_entries_written(entries as u32);
                if let Some(customer_id) = wallets_customer(&change) {
                    self.hints().landed(business_id, customer_id);
                }
                return Ok(answer);
            };
            // A change sent again after an unknown outcome may have been refused because its
            // first send landed: then it is done, and planning it again would apply it twice.
            if sent_again && self.landed(&change).await? {
                return Ok(answer);
            }
            if self.raced_or_original(&change, &rejection).await? == Refusal::OwnEarlierAttempt {
                return Ok(answer);
            }
            if let Some(wallets) = &rejection.wallets_now {
                self.hints().keep(business_id, wallets);
            }
            crate::stats::contention_retry();
            match wallets_customer(&change) {
                // A race on a customer's wallets: wait within the customer's window.
                Some(customer_id) => self.hints().contended(business_id, customer_id).await,
                None => backoff(attempt).await,
            }
        }
        Err(DomainError::Contention)
    }

    /// Commits `change`; one whose outcome is unknown is sent again with its token, which the
    /// store applies at most once, while that is quick (see [`UNKNOWN_OUTCOME_RETRY_WITHIN`]).
    /// Also says whether it was sent again.
    pub(crate) async fn commit(
        &self,
        change: &Change,
    ) -> DomainResult<(Result<(), Rejection>, bool)> {
        let first_sent = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.store().commit(change).await {
                Err(DomainError::Unavailable(detail))
                    if tries < UNKNOWN_OUTCOME_TRIES_MAX
                        && first_sent.elapsed() < UNKNOWN_OUTCOME_RETRY_WITHIN =>
                {
                    tracing::warn!(%detail, tries, "commit outcome unknown; sending it again");
                    backoff(tries).await;
                }
                outcome => return outcome.map(|outcome| (outcome, tries > 1)),
            }
        }
    }

    /// Whether `change` is in the store: its most telling write is there as it wrote it (a new
    /// record by its id, a changed one whole). Asked only after an unknown outcome.
    pub(crate) async fn landed(&self, change: &Change) -> DomainResult<bool> {
        let business_id = &change.business_id;
        let store = self.store();
        // A receipt first: it names this change alone. The wallets last: another change may have
        // moved them on since.
        let mut writes: Vec<&Write> = change.writes.iter().collect();
        writes.sort_by_key(|write| match write {
            Write::Receipt { .. } => 0,
            Write::Wallets(_) => 2,
            _ => 1,
        });
        for write in writes {
            let found = match write {
                Write::ClaimKey { key, original } => store
                    .original_for_key(business_id, key)
                    .await?
                    .is_some_and(|found| found.id() == original.id()),
                Write::NewEntry(entry) => {
                    let position = EntryRange {
                        currency: None,
                        oldest: entry.customer_seq,
                        newest: entry.customer_seq,
                    };
                    let at = store
                        .list_entries(business_id, &entry.customer_id, position)
                        .await?;
                    at.first().is_some_and(|stored| stored.id == entry.id)
                }
                Write::NewHold(hold) => store
                    .get_hold(business_id, &hold.customer_id, &hold.id)
                    .await?
                    .is_some(),
                Write::ResolveHold(hold) => store
                    .get_hold(business_id, &hold.customer_id, &hold.id)
                    .await?
                    .is_some_and(|stored| stored == *hold),
                Write::NewInvoicePayment(payment)
                | Write::ReverseInvoicePayment { payment, .. } => store
                    .get_invoice_payment(business_id, &payment.customer_id, &payment.invoice_id)
                    .await?
                    .is_some_and(|stored| stored == *payment),
                Write::NewCardTopUp(top_up) | Write::CardTopUp(top_up) => store
                    .get_card_top_up(business_id, &top_up.customer_id, &top_up.id)
                    .await?
                    .is_some_and(|stored| stored == *top_up),
                Write::Receipt { customer_id, token } => {
                    store.has_receipt(business_id, customer_id, token).await?
                }
                Write::NewTopUpLink(link) => store
                    .get_top_up_link(business_id, &link.id)
                    .await?
                    .is_some(),
                Write::ReplaceTopUpLink(link) | Write::TopUpLinkPaid(link) => store
                    .get_top_up_link(business_id, &link.id)
                    .await?
                    .is_some_and(|stored| stored == *link),
                Write::Wallets(wallets) => store
                    .get_wallets(business_id, &wallets.customer_id)
                    .await?
                    .is_some_and(|stored| stored == *wallets),
                // A creation planned again would make a second record under a new id.
                Write::NewCustomer(customer) => store
                    .get_customer(business_id, &customer.customer_id)
                    .await?
                    .is_some(),
                Write::NewApiKey(key) => store
                    .key_by_hash(&key.key_hash)
                    .await?
                    .is_some_and(|stored| stored.id == key.id),
                // Patches are not re-planned into a second effect.
                _ => continue,
            };
            return Ok(found);
        }
        Ok(false)
    }

    /// Why a commit was refused: a race (read again and retry), this request's own earlier
    /// attempt (it landed, though the store's answer was lost), or, as an error, the original
    /// record of a key or an invoice that another request took.
    async fn raced_or_original(
        &self,
        change: &Change,
        rejection: &Rejection,
    ) -> DomainResult<Refusal> {
        let failed = || rejection.failed.iter().map(|&at| &change.writes[at]);
        if let Some(Write::ClaimKey { key, original }) =
            failed().find(|w| matches!(w, Write::ClaimKey { .. }))
        {
            let found = self
                .store()
                .original_for_key(&change.business_id, key)
                .await?
                .expect("the key was taken, so its record exists");
            if found.id() == original.id() {
                return Ok(Refusal::OwnEarlierAttempt);
            }
            return Err(DomainError::IdempotencyKeyReused {
                key: key.as_str().to_owned(),
                original: Box::new(found),
            });
        }
        if let Some(Write::NewInvoicePayment(payment)) =
            failed().find(|w| matches!(w, Write::NewInvoicePayment(_)))
        {
            let original = self
                .store()
                .get_invoice_payment(
                    &change.business_id,
                    &payment.customer_id,
                    &payment.invoice_id,
                )
                .await?
                .expect("the invoice was taken, so its payment exists");
            return Err(DomainError::InvoiceAlreadyPaid {
                original: Box::new(original),
            });
        }
        Ok(Refusal::Raced)
    }

    /// The answer to a request that repeats an idempotency key, if the key was used (also each
    /// refused item of a batch: `ledger::batch`).
    pub(crate) async fn repeated_key(
        &self,
        business_id: &BusinessId,
        key: &IdempotencyKey,
    ) -> DomainResult<Option<DomainError>> {
        let original = self.store().original_for_key(business_id, key).await?;
        Ok(original.map(|original| DomainError::IdempotencyKeyReused {
            key: key.as_str().to_owned(),
            original: Box::new(original),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::fixtures::{entry, key, World};
    use crate::adapters::memory::Commits;
    use crate::kernel::Currency;
    use crate::ledger::model::EntryType;

    #[tokio::test(start_paused = true)]
    async fn a_conflict_is_read_again_and_retried_until_the_change_lands_once() {
        let w = World::new().await;
        let c = w.customer().await;
        let before = w.store.commits();
        w.store.fail_next_commits(3);
        let credited = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await
            .unwrap();
        assert_eq!(credited.wallet.balance, 100);
        assert_eq!(
            w.store.commits(),
            Commits {
                landed: before.landed + 1,
                rejected: before.rejected + 3
            }
        );
        let ledger = w.ledger(&c).await;
        assert_eq!(ledger.len(), 1);
        assert_eq!(
            (ledger[0].before_balance, ledger[0].after_balance),
            (0, 100)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn every_commit_conflicting_gives_up_with_contention_after_the_time_budget() {
        let w = World::new().await;
        let c = w.customer().await;
        let before = w.store.commits();
        w.store.fail_next_commits(ATTEMPTS_MAX);
        let started = tokio::time::Instant::now();
        let gave_up = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await;
        assert!(
            matches!(gave_up, Err(DomainError::Contention)),
            "{gave_up:?}"
        );
        let tried = w.store.commits().rejected - before.rejected;
        let took = started.elapsed();
        assert!(
            took >= CONTENTION_BUDGET && took < CONTENTION_BUDGET + crate::hints::WINDOW_MAX * 2,
            "{took:?}: it waited between attempts, and stopped at the budget"
        );
        assert!(
            tried > 10 && tried < u64::from(ATTEMPTS_MAX),
            "{tried} attempts"
        );
        w.store.fail_next_commits(0);
        assert_eq!(w.wallet(&c, Currency::USD).await.balance, 0);
        assert!(w.ledger(&c).await.is_empty());

        // The key was never claimed: the same request lands once the contention is gone.
        let credited = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await
            .unwrap();
        assert_eq!(credited.wallet.balance, 100);
    }

    #[tokio::test]
    async fn a_commit_whose_answer_is_lost_is_sent_again_with_its_token_and_lands_once() {
        let w = World::new().await;
        let c = w.customer().await;
        w.store.lose_next_answers(1);
        let credited = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, None))
            .await
            .unwrap();
        assert_eq!(credited.wallet.balance, 100);
        assert_eq!(w.ledger(&c).await.len(), 1, "landed once");
    }

    #[tokio::test]
    async fn a_request_that_finds_its_own_earlier_attempt_answers_it_not_409() {
        let w = World::new().await;
        let c = w.customer().await;
        w.store.forget_tokens();
        w.store.lose_next_answers(1);
        let credited = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await
            .unwrap();
        assert_eq!(credited.wallet.balance, 100);
        let ledger = w.ledger(&c).await;
        assert_eq!(ledger.len(), 1, "landed once");
        // Another request with the key is another request: it gets the original, as 409.
        let repeat = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await;
        assert!(
            matches!(&repeat, Err(DomainError::IdempotencyKeyReused { original, .. }) if original.id() == ledger[0].id.as_str()),
            "{repeat:?}"
        );
    }

    #[tokio::test]
    async fn a_commit_whose_answer_stays_lost_answers_503_and_the_key_then_gives_the_original() {
        let w = World::new().await;
        let c = w.customer().await;
        w.store.lose_next_answers(UNKNOWN_OUTCOME_TRIES_MAX);
        let lost = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await;
        assert!(matches!(lost, Err(DomainError::Unavailable(_))), "{lost:?}");
        let ledger = w.ledger(&c).await;
        assert_eq!(ledger.len(), 1, "it did land, once");
        let retried = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Credit, 100, key("k")))
            .await;
        assert!(
            matches!(&retried, Err(DomainError::IdempotencyKeyReused { original, .. }) if original.id() == ledger[0].id.as_str()),
            "{retried:?}"
        );
    }

    /// The store refuses the re-send of a change that had landed (here it forgot the token; the
    /// simulation found the same with a conflict on the re-send): the change is done, not planned
    /// and applied again.
    #[tokio::test]
    async fn a_change_refused_after_an_unknown_outcome_is_not_applied_again() {
        let w = World::new().await;
        let c = w.customer().await;
        w.credit(&c, 100).await;
        w.store.forget_tokens();
        w.store.lose_next_answers(1);
        let debited = w
            .service
            .create_entry(&w.tenant, &c, entry(EntryType::Debit, 30, None))
            .await
            .unwrap();
        assert_eq!(debited.wallet.balance, 70);
        assert_eq!(w.ledger(&c).await.len(), 2, "the credit and one debit");
        assert_eq!(w.wallet(&c, Currency::USD).await.balance, 70);
    }
}
