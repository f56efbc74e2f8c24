//! Finance's pages: the business's liability per day (the totals the stream keeps), drawn as a
//! chart beside the day's volume with the figures in a table; and a customer's statement of one
//! currency over a period, laid out to print. Both read what the API's report routes read.

use maud::html;
use shared::kernel::{Clock, Currency, CustomerId, Timestamp};
use shared::ledger::statement::{StatementCursor, StatementQuery, STATEMENT_PAGE_MAX};
use shared::ports::Store;
use shared::reports::rules::{day_of, parse_day};
use shared::ValidationError;
use time::{Date, Duration};

use super::Cx;
use crate::forms::{query_string, Fields};
use crate::layout::{self, money, time as when};
use crate::respond::{page, Answer, PageError};

/// Days a liability page shows when none are asked for.
const DEFAULT_DAYS: i64 = 30;

/// The currency asked (`?currency=`), else USD when the service has it, else its first.
fn currency_of<S: Store, C: Clock>(
    cx: &Cx<'_, S, C>,
    query: &Fields,
) -> Result<Currency, PageError> {
    match query.get("currency") {
        Some(code) => Ok(Currency::parse(code)?),
        None => {
            let enabled = &cx.app.config().currencies;
            Ok(if enabled.contains(&Currency::USD) {
                Currency::USD
            } else {
                enabled[0]
            })
        }
    }
}

fn today<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Result<Date, PageError> {
    Ok(parse_day("to", &day_of(cx.app.now()))?)
}

/// `?name=` as a day, or `default`.
fn day_or(query: &Fields, name: &str, default: Date) -> Result<Date, ValidationError> {
    query
        .get(name)
        .map_or(Ok(default), |raw| parse_day(name, raw))
}

fn currency_select<S: Store, C: Clock>(cx: &Cx<'_, S, C>, chosen: Currency) -> maud::Markup {
    html! {
        label { "Currency"
            select name="currency" {
                @for currency in &cx.app.config().currencies {
                    option value=(currency.code()) selected[*currency == chosen] { (currency.code()) }
                }
            }
        }
    }
}

pub async fn liability<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    let query = crate::forms::query(cx.request);
    let currency = currency_of(cx, &query)?;
    let to = day_or(&query, "to", today(cx)?)?;
    let from = day_or(&query, "from", to - Duration::days(DEFAULT_DAYS - 1))?;
    let days = cx
        .app
        .liability_report(&signed_in.tenant, currency, from, to)
        .await?;
    let last = days.last();
    let body = html! {
        h1 { "Liability" }
        p { "What the business owes its customers in " (currency.code()) ": the sum of every wallet's balance at the end of each day, and the money that moved." }
        form.row method="get" action="/dashboard/reports/liability" {
            (currency_select(cx, currency))
            label { "From" input type="date" name="from" value=(from.to_string()) required; }
            label { "To" input type="date" name="to" value=(to.to_string()) required; }
            button.secondary type="submit" { "Show" }
        }
        @if let Some(last) = last {
            div.cards {
                div.card { h2 { "Owed at the end of " (last.day) } div.big { (money(last.closing_balance, currency)) } }
                div.card { h2 { "Open wallets" } div.big { (last.wallets) } }
            }
        }
        (crate::chart::liability_chart(currency, &days))
        div.scroll role="region" aria-label="Liability per day" tabindex="0" {
            table {
                thead { tr {
                    th scope="col" { "Day" } th.num scope="col" { "Credits" } th.num scope="col" { "Debits" }
                    th.num scope="col" { "Closing balance" } th.num scope="col" { "Wallets" }
                } }
                tbody { @for day in days.iter().rev() { tr {
                    td { (day.day) }
                    td.num { (money(day.credits, currency)) }
                    td.num { (money(day.debits, currency)) }
                    td.num { (money(day.closing_balance, currency)) }
                    td.num { (day.wallets) }
                } } }
            }
        }
    };
    page(layout::page("Liability", &signed_in, body))
}

/// The instant at the start of `date` (UTC).
fn start_of(date: Date) -> Timestamp {
    let seconds = date.midnight().assume_utc().unix_timestamp();
    Timestamp::from_unix_ms(u64::try_from(seconds).unwrap_or(0) * 1_000)
}

pub async fn statement<S: Store, C: Clock>(cx: &Cx<'_, S, C>) -> Answer {
    let signed_in = cx.signed_in().await?;
    let id = CustomerId::parse(cx.param("customer_id")).map_err(|_| PageError::NotFound)?;
    let query = crate::forms::query(cx.request);
    let currency = currency_of(cx, &query)?;
    let now = cx.app.now();
    let today = today(cx)?;
    let to_day = day_or(&query, "to", today)?;
    let from_day = day_or(&query, "from", today.replace_day(1).unwrap_or(today))?;
    // The statement runs to the end of `to`, or to now when that is still to come.
    let end = start_of(to_day + Duration::days(1));
    let to = if end.unix_ms > now.unix_ms { now } else { end };
    let cursor = query
        .get("cursor")
        .map(StatementCursor::parse)
        .transpose()?;
    let statement_query = StatementQuery {
        currency,
        from: start_of(from_day),
        to,
        page_size: STATEMENT_PAGE_MAX,
        cursor,
    };
    let customer = cx.app.get_customer(&signed_in.tenant, &id).await?;
    let statement = cx
        .app
        .statement(&signed_in.tenant, &id, statement_query)
        .await?;
    let base = format!("/dashboard/customers/{id}/statement");
    let period = [
        ("currency", currency.code()),
        ("from", &from_day.to_string()),
        ("to", &to_day.to_string()),
    ];
    let body = html! {
        p.no-print { a href={"/dashboard/customers/" (id)} { "← Back to the customer" } }
        form.row.no-print method="get" action=(base) {
            (currency_select(cx, currency))
            label { "From" input type="date" name="from" value=(from_day.to_string()) required; }
            label { "To" input type="date" name="to" value=(to_day.to_string()) required; }
            button.secondary type="submit" { "Show" }
        }
        article.statement {
            h1 { "Statement, " (currency.code()) " wallet" }
            dl.facts {
                dt { "Customer" } dd { (customer.name) " <" (customer.email) ">" }
                dt { "Period" } dd { (when(statement.from)) " to " (when(statement.to)) }
                dt { "Opening balance" } dd { strong #opening { (money(statement.opening_balance, currency)) } }
                dt { "Closing balance" } dd { strong #closing { (money(statement.closing_balance, currency)) } }
                dt { "Entries" } dd { (statement.entry_count) }
            }
            @if statement.entries.is_empty() { p.muted { "No entries in this period." } } @else {
                table {
                    caption.skip { "Entries, oldest first" }
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Type" } th scope="col" { "Reason" }
                        th.num scope="col" { "Credit" } th.num scope="col" { "Debit" } th.num scope="col" { "Balance" }
                    } }
                    tbody { @for entry in &statement.entries { tr {
                        td { (when(entry.created_at)) }
                        td { (entry.event_type.as_str()) }
                        td { (entry.reason.as_deref().unwrap_or("")) }
                        td.num { @if entry.is_credit { (money(entry.amount, currency)) } }
                        td.num { @if !entry.is_credit { (money(entry.amount, currency)) } }
                        td.num { (money(entry.after_balance, currency)) }
                    } } }
                }
            }
            @if let Some(totals) = &statement.totals {
                h2 { "Totals" }
                table {
                    thead { tr { th scope="col" { "Type" } th.num scope="col" { "Credits" } th.num scope="col" { "Debits" } } }
                    tbody { @for (kind, moved) in totals { tr {
                        td { (kind.event_type().as_str()) }
                        td.num { (money(moved.credits, currency)) }
                        td.num { (money(moved.debits, currency)) }
                    } } }
                }
            }
            @if let Some(next) = &statement.next {
                p.no-print { a href={(base) "?" (query_string(&[period[0], period[1], period[2], ("cursor", &next.encode())]))} { "Next " (STATEMENT_PAGE_MAX) " entries →" } }
            }
        }
    };
    page(layout::page("Statement", &signed_in, body))
}
