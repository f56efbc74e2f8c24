//! `GET /reports/liability?currency&from&to`: the calling business's liability in one currency,
//! day by day (UTC days, `YYYY-MM-DD`, both included), from the day totals the stream keeps.

use serde::Serialize;
use shared::kernel::{Clock, Currency};
use shared::ports::Store;
use shared::reports::model::{ByEventType, LiabilityDay};
use shared::reports::rules::parse_day;

use crate::http::request::required_query;
use crate::http::{json, Answer, Call};
use crate::views::MovementView;

#[derive(Debug, Serialize)]
struct DayView {
    date: String,
    credits: i64,
    debits: i64,
    by_event_type: Vec<MovementView>,
    /// The sum of the business's balances in this currency at the end of the day.
    closing_balance: i64,
    /// Open wallets at the end of the day.
    wallets: i64,
}

#[derive(Debug, Serialize)]
struct LiabilityView {
    currency: Currency,
    from: String,
    to: String,
    items: Vec<DayView>,
}

fn movements(credits: &ByEventType, debits: &ByEventType) -> Vec<MovementView> {
    let mut kinds: Vec<_> = credits.keys().chain(debits.keys()).copied().collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .map(|kind| MovementView {
            event_type: kind.as_str(),
            credits: credits.get(&kind).copied().unwrap_or(0),
            debits: debits.get(&kind).copied().unwrap_or(0),
        })
        .collect()
}

fn day_view(day: LiabilityDay) -> DayView {
    DayView {
        by_event_type: movements(&day.credits_by_event_type, &day.debits_by_event_type),
        date: day.day,
        credits: day.credits,
        debits: day.debits,
        closing_balance: day.closing_balance,
        wallets: day.wallets,
    }
}

pub async fn liability<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let currency = Currency::parse(&required_query(request, "currency")?)?;
    let (from, to) = (
        required_query(request, "from")?,
        required_query(request, "to")?,
    );
    let (from_day, to_day) = (parse_day("from", &from)?, parse_day("to", &to)?);
    let days = app
        .liability_report(tenant, currency, from_day, to_day)
        .await?;
    json(&LiabilityView {
        currency,
        from,
        to,
        items: days.into_iter().map(day_view).collect(),
    })
}
