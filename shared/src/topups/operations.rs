//! Settings, and running a wallet's auto top-up.
//!
//! A top-up is three steps, each its own conditional change of the wallet set: claim an attempt
//! (its id is the gateway's idempotency key), charge, then record the outcome (the credit and
//! the attempt's end in one transaction, guarded by the attempt still being the wallet's). A
//! worker that dies after the charge leaves the attempt claimed; when its lease ends the next
//! worker resumes it with the same id, and the gateway answers the charge already made instead
//! of making another. So one need is charged at most once and credited at most once.

use crate::access::model::Tenant;
use crate::change::model::{Plan, Write};
use crate::error::{DomainError, DomainResult, Original};
use crate::kernel::{
    Amount, BusinessId, Clock, Currency, CustomerId, EntryId, IdempotencyKey, Timestamp,
    ValidationError,
};
use crate::ledger::model::{CurrencyWallet, EntryCommand, EntryType, EventType, WalletStatus};
use crate::ledger::rules::{apply_entry, next_version, wallet_of};
use crate::ports::Store;
use crate::service::Service;

use super::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use super::model::{AutoTopUp, TopUpAttempt};
use super::rules::{self, Step, LEASE_MS};

/// A validated change of one wallet's settings: `None` leaves a setting, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    pub low_balance_threshold: Option<Option<i64>>,
    pub auto_top_up: Option<Option<AutoTopUp>>,
}

/// What one run of a wallet's top-up did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopUpRun {
    /// Nothing was due, or another worker holds the attempt.
    Nothing,
    /// Charged and credited.
    Credited {
        payment_intent_id: String,
        amount: i64,
    },
    /// Declined: nothing credited.
    Declined { decline_code: String },
    /// The gateway's answer is unknown: the attempt stays claimed and is resumed later.
    Unknown { error: String },
}

/// The key a top-up's credit claims: `auto_top_up_<attempt id>` in the service's own namespace,
/// which no request reaches (a request's `auto_top_up_<attempt id>` is another key), so no
/// client can take it first. Only this attempt's credit ever claims it.
fn credit_key(attempt: &TopUpAttempt) -> IdempotencyKey {
    IdempotencyKey::internal(format!("auto_top_up_{}", attempt.id))
}

impl<S: Store, C: Clock> Service<S, C> {
    /// Changes one wallet's settings; answers the wallet after.
    pub async fn update_settings(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        currency: Currency,
        patch: &SettingsPatch,
    ) -> DomainResult<CurrencyWallet> {
        self.change(&tenant.business_id, None, |now| async move {
            let current = self.wallets_of(tenant, customer_id).await?;
            let wallet = wallet_of(&current, currency)?;
            if wallet.status == WalletStatus::Closed {
                return Err(ValidationError::new(
                    "wallet_closed",
                    format!("the {currency} wallet is closed: it takes no settings"),
                )
                .into());
            }
            let next = next_version(&current, currency, now, |wallet| {
                wallet.settings.updated_by = crate::access::actor::current();
                if let Some(threshold) = patch.low_balance_threshold {
                    wallet.settings.low_balance_threshold = threshold;
                }
                if let Some(auto) = &patch.auto_top_up {
                    wallet.settings.auto_top_up = auto.clone();
                    // A new or re-enabled setting starts afresh: no pause, no pending retry.
                    wallet.top_up.consecutive_failures = 0;
                    wallet.top_up.retry_at = None;
                }
            });
            let answer = next.wallet_in(currency);
            Ok(Plan::Commit(vec![Write::Wallets(next)], answer))
        })
        .await
    }

    /// Runs the top-up of one wallet if one is due at `at` (the caller's now; the sweep's run
    /// time): claims it, charges, records the outcome.
    pub async fn run_top_up<G: PaymentGateway>(
        &self,
        gateway: &G,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Currency,
        at: Timestamp,
    ) -> DomainResult<TopUpRun> {
        let run = self.run_top_up_as_is(gateway, business_id, customer_id, currency, at);
        crate::access::actor::or_process("auto-top-up", run).await
    }

    async fn run_top_up_as_is<G: PaymentGateway>(
        &self,
        gateway: &G,
        business_id: &BusinessId,
        customer_id: &CustomerId,
        currency: Currency,
        at: Timestamp,
    ) -> DomainResult<TopUpRun> {
        let tenant = &Tenant {
            business_id: business_id.clone(),
        };
        let claimed = self
            .change(business_id, None, |now| async move {
                let now = now.max(at);
                let current = match self.wallets_of(tenant, customer_id).await {
                    Ok(current) => current,
                    Err(DomainError::CustomerNotFound(_)) => return Ok(Plan::Answer(None)),
                    Err(other) => return Err(other),
                };
                let Ok(wallet) = wallet_of(&current, currency) else {
                    return Ok(Plan::Answer(None));
                };
                let lease_until = Timestamp::from_unix_ms(now.unix_ms + LEASE_MS);
                let attempt = match rules::next_step(wallet, now) {
                    Step::Nothing | Step::Busy => return Ok(Plan::Answer(None)),
                    Step::Start(amount) => {
                        let setting = wallet
                            .settings
                            .auto_top_up
                            .as_ref()
                            .expect("a step needs a setting");
                        TopUpAttempt {
                            id: format!(
                                "tpa_{}",
                                crate::kernel::ids::change_token(now.unix_ms).to_lowercase()
                            ),
                            amount,
                            started_at: now,
                            payment_method: setting.payment_method.clone(),
                            lease_until,
                        }
                    }
                    Step::Resume(attempt) => TopUpAttempt {
                        lease_until,
                        ..attempt
                    },
                };
                let next = next_version(&current, currency, now, |w| {
                    rules::claim(w, attempt.clone())
                });
                Ok(Plan::Commit(vec![Write::Wallets(next)], Some(attempt)))
            })
            .await?;
        let Some(attempt) = claimed else {
            return Ok(TopUpRun::Nothing);
        };
        let request = ChargeRequest {
            amount: Amount::new(attempt.amount)?,
            currency,
            gateway_customer_id: attempt.payment_method.gateway_customer_id.clone(),
            payment_method_id: attempt.payment_method.payment_method_id.clone(),
            business_id: business_id.to_string(),
            customer_id: customer_id.to_string(),
            attempt_id: attempt.id.clone(),
            attempt_started_at: attempt.started_at,
            idempotency_key: attempt.id.clone(),
            description: format!("Wallet auto top-up ({currency})"),
            metadata: [
                ("business_id".to_owned(), business_id.to_string()),
                ("customer_id".to_owned(), customer_id.to_string()),
            ]
            .into(),
        };
        match gateway.charge(&request).await {
            ChargeOutcome::Succeeded { payment_intent_id } => {
                self.credit_top_up(
                    tenant,
                    customer_id,
                    currency,
                    &attempt,
                    &payment_intent_id,
                    at,
                )
                .await?;
                Ok(TopUpRun::Credited {
                    payment_intent_id,
                    amount: attempt.amount,
                })
            }
            ChargeOutcome::Declined {
                payment_intent_id,
                decline_code,
                message,
            } => {
                let (code, pi) = (&decline_code, payment_intent_id.as_deref());
                let message = &message;
                let attempt = &attempt;
                self.change(business_id, None, |now| async move {
                    let now = now.max(at);
                    let current = self.wallets_of(tenant, customer_id).await?;
                    let wallet = wallet_of(&current, currency)?;
                    if wallet.top_up.attempt.as_ref().map(|a| &a.id) != Some(&attempt.id) {
                        return Ok(Plan::Answer(())); // ended by another worker
                    }
                    let next = next_version(&current, currency, now, |w| {
                        rules::declined(w, attempt, pi, code, message, now)
                    });
                    Ok(Plan::Commit(vec![Write::Wallets(next)], ()))
                })
                .await?;
                Ok(TopUpRun::Declined { decline_code })
            }
            ChargeOutcome::Unknown { error } => {
                tracing::warn!(attempt = %attempt.id, %error, "top-up charge outcome unknown; it is resumed when its lease ends");
                Ok(TopUpRun::Unknown { error })
            }
        }
    }

    /// Credits a charged top-up once: the entry, its key (derived from the attempt) and the
    /// attempt's end commit together, and only while the attempt is still the wallet's. Finding
    /// the key taken means another worker credited this attempt: credited.
    async fn credit_top_up(
        &self,
        tenant: &Tenant,
        customer_id: &CustomerId,
        currency: Currency,
        attempt: &TopUpAttempt,
        payment_intent_id: &str,
        at: Timestamp,
    ) -> DomainResult<()> {
        let key = credit_key(attempt);
        let command = &EntryCommand {
            currency,
            amount: Amount::new(attempt.amount)?,
            entry_type: EntryType::Credit,
            event_type: EventType::MerchantAdjustment,
            reason: Some("auto top-up".to_owned()),
            reference_object_id: Some(payment_intent_id.to_owned()),
            // The entry shows the key's text, as it always did.
            idempotency_key: IdempotencyKey::parse(key.as_str()).ok(),
        };
        let entry_id = &EntryId::generate_at(self.now().unix_ms);
        let key = &key;
        let credited = self.change(&tenant.business_id, None, |now| async move {
            let now = now.max(at);
            let current = self.wallets_of(tenant, customer_id).await?;
            let wallet = wallet_of(&current, currency)?;
            if wallet.top_up.attempt.as_ref().map(|a| &a.id) != Some(&attempt.id) {
                return Ok(Plan::Answer(())); // credited (or ended) by another worker
            }
            let applied = match apply_entry(&current, &tenant.business_id, command, entry_id.clone(), now) {
                Ok(applied) => applied,
                Err(refused) => {
                    // Charged but not creditable (the wallet was closed or is full): end the
                    // attempt as failed and say so loudly; the charge needs a refund.
                    tracing::error!(attempt = %attempt.id, payment_intent_id, error = %refused, "top-up charged but not credited: refund it at the gateway");
                    let next = next_version(&current, currency, now, |w| {
                        rules::declined(w, attempt, Some(payment_intent_id), "credit_refused", &refused.to_string(), now)
                    });
                    return Ok(Plan::Commit(vec![Write::Wallets(next)], ()));
                }
            };
            let mut next = applied.next;
            let wallet = next.wallets.get_mut(&currency).expect("the wallet exists");
            rules::succeeded(wallet, attempt, payment_intent_id, now);
            let writes = vec![
                Write::Wallets(next),
                Write::NewEntry(applied.entry.clone()),
                Write::ClaimKey {
                    key: key.clone(),
                    original: Original::Entry(applied.entry),
                },
            ];
            Ok(Plan::Commit(writes, ()))
        })
        .await;
        match credited {
            // Two workers credited the attempt at once (the first one's lease ran out): the
            // other's commit landed first, with this attempt's credit.
            Err(DomainError::IdempotencyKeyReused {
                key: taken,
                original,
            }) if taken == key.as_str()
                && matches!(&*original, Original::Entry(entry) if entry.customer_id == *customer_id) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
#[path = "operations_tests.rs"]
mod tests;
