//! The day totals, as `adapters::dynamo::totals` keeps them: a marker per customer (the last
//! wallet-set version added) and the totals per business, currency and day, changed together.

use std::collections::{BTreeMap, HashMap};

use super::MemoryStore;
use crate::error::DomainResult;
use crate::kernel::{BusinessId, Currency, CustomerId};
use crate::ports::TotalsStore;
use crate::reports::model::{Day, DayMovement, DayTotals, Movement};

#[derive(Default)]
pub(super) struct TotalsTables {
    /// Per customer: the wallet-set version last added (the DynamoDB `#TOTALS` item).
    markers: HashMap<(BusinessId, CustomerId), u64>,
    days: BTreeMap<(BusinessId, Currency, Day), DayMovement>,
}

impl TotalsStore for MemoryStore {
    async fn apply_movement(&self, movement: &Movement) -> DomainResult<bool> {
        tokio::task::yield_now().await;
        let mut state = self.lock();
        let totals = &mut state.totals;
        let key = (movement.business_id.clone(), movement.customer_id.clone());
        // A record is added once: none of this customer's at or after it was added.
        if totals
            .markers
            .get(&key)
            .is_some_and(|added| *added >= movement.version)
        {
            return Ok(false);
        }
        totals.markers.insert(key, movement.version);
        for ((currency, day), change) in &movement.days {
            let key = (movement.business_id.clone(), *currency, day.clone());
            totals.days.entry(key).or_default().add(change);
        }
        Ok(true)
    }

    async fn day_totals(
        &self,
        business_id: &BusinessId,
        currency: Currency,
        to: &Day,
    ) -> DomainResult<Vec<DayTotals>> {
        tokio::task::yield_now().await;
        let state = self.lock();
        Ok(state
            .totals
            .days
            .iter()
            .filter(|((b, c, day), _)| b == business_id && *c == currency && day <= to)
            .map(|((_, _, day), movement)| DayTotals {
                day: day.clone(),
                movement: movement.clone(),
            })
            .collect())
    }
}
