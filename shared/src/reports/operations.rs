//! Recording a committed change into the day totals (the dispatcher, once per change) and the
//! liability report.

use super::model::LiabilityDay;
use super::rules::{check_period, day, entries_disagree, entries_written, movement_of, report};
use crate::access::model::Tenant;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, Clock, Currency};
use crate::ledger::model::{CustomerWallets, EntryRange};
use crate::ports::Store;
use crate::Service;

impl<S: Store, C: Clock> Service<S, C> {
    /// Adds the change of a customer's wallet set from `old` to `new` (a stream record's images)
    /// into the day totals, once: `false` when this change (or a later one of the customer) was
    /// already added, and nothing is written.
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
        self.store().apply_movement(&movement).await
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
