//! `GET /customers/{id}/wallets/statements`: one currency's statement over a period, as JSON or
//! as CSV (`Accept: text/csv` or `format=csv`), a page an answer. Each page names the next in a
//! `Link: <?...&cursor=...>; rel="next"` header (and, in JSON, `next_cursor`), so a statement of
//! any length is fetched page after page, each far under Lambda's 6 MB answer, and nothing of it
//! is held whole on either side. The CSV pages, concatenated in order, are one CSV file: the
//! first carries the header and the opening row, the last the totals and the closing row.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::kernel::{Clock, Currency, Timestamp};
use shared::ledger::model::LedgerEntry;
use shared::ledger::statement::{
    Statement, StatementCursor, StatementQuery, Totals, STATEMENT_PAGE_DEFAULT,
};
use shared::ports::Store;

use crate::http::request::{
    customer_id, instant_query, page_size_query, query, required_query, wants_csv,
};
use crate::http::{Answer, ApiError, Call, Request};
use crate::views::{EntryView, MovementView};

/// A statement page as JSON.
#[derive(Debug, Serialize)]
struct StatementView<'a> {
    customer_id: &'a shared::kernel::CustomerId,
    currency: Currency,
    from: Timestamp,
    to: Timestamp,
    opening_balance: i64,
    closing_balance: i64,
    /// Entries in the whole period.
    entry_count: u64,
    /// On the last page only (`next_cursor` null): the period's totals.
    totals: Option<TotalsView>,
    items: Vec<EntryView<'a>>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct TotalsView {
    credits: i64,
    debits: i64,
    by_event_type: Vec<MovementView>,
}

fn totals_view(totals: &Totals) -> TotalsView {
    let by_event_type: Vec<MovementView> = totals
        .iter()
        .map(|(key, m)| MovementView {
            event_type: key.event_type().as_str(),
            credits: m.credits,
            debits: m.debits,
        })
        .collect();
    TotalsView {
        credits: by_event_type.iter().map(|m| m.credits).sum(),
        debits: by_event_type.iter().map(|m| m.debits).sum(),
        by_event_type,
    }
}

/// The statement's query: `currency`, `from` and `to` (RFC 3339), `page_size`, `cursor`.
fn statement_query(request: &Request) -> Result<StatementQuery, ApiError> {
    Ok(StatementQuery {
        currency: Currency::parse(&required_query(request, "currency")?)?,
        from: instant_query(request, "from")?,
        to: instant_query(request, "to")?,
        page_size: page_size_query(request, STATEMENT_PAGE_DEFAULT)?,
        cursor: query(request, "cursor")
            .map(|raw| StatementCursor::parse(&raw))
            .transpose()?,
    })
}

/// A query value percent-encoded (all but unreserved characters and `:`).
pub(crate) fn encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `Link` header's value naming the next page: the same query, with its cursor.
fn next_link(statement: &Statement, page_size: u64, csv: bool, cursor: &str) -> String {
    let mut query = format!(
        "currency={}&from={}&to={}&page_size={page_size}",
        statement.currency,
        encoded(&statement.from.rfc3339()),
        encoded(&statement.to.rfc3339()),
    );
    if csv {
        query.push_str("&format=csv");
    }
    format!("<?{query}&cursor={}>; rel=\"next\"", encoded(cursor))
}

/// The CSV columns.
pub const CSV_HEADER: &str = "row,entry_id,created_at,event_type,direction,amount,before_balance,after_balance,reason,reference_object_id,idempotency_key";

/// A CSV field: quoted when it holds a comma, quote or line break; a text that a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) starts with `'`.
pub(crate) fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn entry_row(entry: &LedgerEntry) -> String {
    let direction = if entry.is_credit { "credit" } else { "debit" };
    format!(
        "entry,{},{},{},{direction},{},{},{},{},{},{}\n",
        entry.id,
        entry.created_at,
        entry.event_type.as_str(),
        entry.amount,
        entry.before_balance,
        entry.after_balance,
        field(entry.reason.as_deref().unwrap_or("")),
        field(entry.reference_object_id.as_deref().unwrap_or("")),
        field(entry.idempotency_key.as_ref().map_or("", |k| k.as_str())),
    )
}

/// One page as CSV: the header and `opening` row first, `entry` rows, then (last page) one
/// `total` row per event type and direction that moved and the `closing` row.
fn csv_page(statement: &Statement) -> String {
    let mut out = String::new();
    if statement.first_page {
        out.push_str(CSV_HEADER);
        out.push('\n');
        out.push_str(&format!(
            "opening,,{},,,,,{},,,\n",
            statement.from, statement.opening_balance
        ));
    }
    for entry in &statement.entries {
        out.push_str(&entry_row(entry));
    }
    if let Some(totals) = &statement.totals {
        for (key, movement) in totals {
            let event_type = key.event_type().as_str();
            for (direction, amount) in [("credit", movement.credits), ("debit", movement.debits)] {
                if amount != 0 {
                    out.push_str(&format!("total,,,{event_type},{direction},{amount},,,,,\n"));
                }
            }
        }
        out.push_str(&format!(
            "closing,,{},,,,,{},,,\n",
            statement.to, statement.closing_balance
        ));
    }
    out
}

pub async fn get<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let csv = wants_csv(request, "json")?;
    let query = statement_query(request)?;
    let page_size = query.page_size;
    let statement = app.statement(tenant, &customer_id(request)?, query).await?;
    let next = statement.next.as_ref().map(StatementCursor::encode);
    let (content_type, body) = if csv {
        ("text/csv; charset=utf-8", csv_page(&statement))
    } else {
        let view = StatementView {
            customer_id: &statement.customer_id,
            currency: statement.currency,
            from: statement.from,
            to: statement.to,
            opening_balance: statement.opening_balance,
            closing_balance: statement.closing_balance,
            entry_count: statement.entry_count,
            totals: statement.totals.as_ref().map(totals_view),
            items: statement.entries.iter().map(EntryView::of).collect(),
            next_cursor: next.clone(),
        };
        (
            "application/json",
            serde_json::to_string(&view).expect("responses serialise"),
        )
    };
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type);
    if let Some(cursor) = &next {
        response = response.header("link", next_link(&statement, page_size, csv, cursor));
    }
    Ok(response.body(Body::from(body)).expect("headers are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed_and_formulas_are_defused() {
        assert_eq!(field("plain text"), "plain text");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(field("@cmd"), "'@cmd");
        assert_eq!(field("-1+1,x"), "\"'-1+1,x\"");
        assert_eq!(CSV_HEADER.split(',').count(), 11);
    }

    #[test]
    fn next_links_repeat_the_query_with_the_cursor_percent_encoded() {
        assert_eq!(
            encoded("2026-01-01T00:00:00.000Z"),
            "2026-01-01T00:00:00.000Z"
        );
        assert_eq!(encoded("a+b c&d"), "a%2Bb%20c%26d");
    }
}
