//! Recording a committed change into the day totals (the dispatcher, once per change) and the
//! liability report.

use super::model::LiabilityDay;
use super::rules::{check_period, day, entries_disagree, entries_written, movement_of, report};
use crate::access::model::Tenant;
use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};

use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Clock, Currency, CustomerId};
use crate::ledger::model::{CustomerWallets, EntryRange};
use crate::ports::Store;
use crate::Service;

/// One stream record's change of a wallet set: its position in the batch, the business, the set
/// before (`None`: new) and after.
pub type WalletsChange = (usize, BusinessId, Option<CustomerWallets>, CustomerWallets);

/// Customers whose changes of one stream batch are added at once.
pub const CUSTOMERS_AT_ONCE: usize = 16;

impl<S: Store, C: Clock> Service<S, C> {
    /// Adds the change of a customer's wallet set from `old` to `new` (a stream record's images)
    /// into the day totals, once: `false` when nothing is written (the change moved nothing the
    /// totals count, or it or a later change of the customer was already added).
    pub async fn record_totals(
        &self,
        business_id: &BusinessId,
        old: Option<&CustomerWallets>,
        new: &CustomerWallets,
    ) -> DomainResult<bool> {
        let entries = match entries_written(old, new) {
            Some((oldest, newest)) => {
                let range = EntryRange {
                    currency: None,
                    oldest,
                    newest,
                };
                self.store()
                    .list_entries(business_id, &new.customer_id, range)
                    .await?
            }
            None => Vec::new(),
        };
        let wrong = entries_disagree(old, new, &entries);
        if !wrong.is_empty() {
            tracing::error!(customer = %new.customer_id, version = new.version, ?wrong,
                "entries do not add up to the balance change; the totals count the balance");
        }
        let movement = movement_of(business_id, old, new, &entries);
        if movement.days.is_empty() {
            return Ok(false); // a hold, a settings patch, a top-up's state: nothing to add
        }
        self.store().apply_movement(&movement).await
    }

    /// Adds a stream batch's changes of wallet sets (`(position in the batch, business, old,
    /// new)`, in stream order) into the day totals: each customer's in order, customers
    /// [`CUSTOMERS_AT_ONCE`] at a time. On failure, the smallest position that failed: a
    /// customer's changes after its failure are not added, and what other customers added after
    /// that position is skipped when the batch comes again from there.
    pub async fn record_batch_totals(
        &self,
        changes: Vec<WalletsChange>,
    ) -> Result<(), (usize, DomainError)> {
        let mut groups: BTreeMap<(BusinessId, CustomerId), Vec<WalletsChange>> = BTreeMap::new();
        for change in changes {
            let key = (change.1.clone(), change.3.customer_id.clone());
            groups.entry(key).or_default().push(change);
        }
        let mut runs = stream::iter(groups.into_values().map(|group| {
            Box::pin(async move {
                for (at, business_id, old, new) in &group {
                    self.record_totals(business_id, old.as_ref(), new)
                        .await
                        .map_err(|e| (*at, e))?;
                }
                Ok::<(), (usize, DomainError)>(())
            })
        }))
        .buffer_unordered(CUSTOMERS_AT_ONCE);
        let mut first_failure: Option<(usize, DomainError)> = None;
        while let Some(run) = runs.next().await {
            if let Err((at, error)) = run {
                if first_failure.as_ref().is_none_or(|(first, _)| at < *first) {
                    first_failure = Some((at, error));
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// The business's liability in `currency`, day by day from `from` to `to` (UTC days).
    pub async fn liability_report(
        &self,
        tenant: &Tenant,
        currency: Currency,
        from: time::Date,
        to: time::Date,
    ) -> DomainResult<Vec<LiabilityDay>> {
        check_period(from, to)?;
        let stored = self
            .store()
            .day_totals(&tenant.business_id, currency, &day(to))
            .await?;
        Ok(report(&stored, from, to))
    }
}
