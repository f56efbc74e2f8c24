//! The day totals of a [`FaultyStore`]: the same faults before each call as every other port.

use super::faulty::FaultyStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, Currency};
use crate::ports::TotalsStore;
use crate::reports::model::{Day, DayTotals, Movement};

impl<S: TotalsStore> TotalsStore for FaultyStore<S> {
    async fn apply_movement(&self, movement: &Movement) -> DomainResult<bool> {
        self.before_call().await?;
        self.inner().apply_movement(movement).await
    }

    async fn day_totals(
        &self,
        business_id: &BusinessId,
        currency: Currency,
        to: &Day,
    ) -> DomainResult<Vec<DayTotals>> {
        self.before_call().await?;
        self.inner().day_totals(business_id, currency, to).await
    }
}
