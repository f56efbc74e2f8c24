//! `GET /reports/ledger-entries?from&to`: every ledger entry of the calling business in the
//! period (`from` included, `to` excluded), page by page, as JSON lines (`application/x-ndjson`,
//! the default, or `format=jsonl`) or as CSV (`Accept: text/csv` or `format=csv`). Each page
//! names the next in a `Link: <?...&cursor=...>; rel="next"` header; the last has none. A page
//! holds at most 1,000 entries (about 1 MB at worst, far under Lambda's 6 MB answer) and examines
//! at most 25 customers, so a page may be short or even empty and still name a next one. The
//! pages, concatenated in order, are one file: in CSV the first page carries the header.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::kernel::Clock;
use shared::ledger::export::{
    ExportCursor, ExportPage, ExportQuery, EXPORT_CUSTOMERS_MAX, EXPORT_PAGE_DEFAULT,
};
use shared::ledger::model::LedgerEntry;
use shared::ports::Store;

use super::statements::{encoded, field};
use crate::http::request::{instant_query, page_size_query, query, wants_csv};
use crate::http::{Answer, ApiError, Call, Request};
use crate::views::EntryView;

/// The CSV columns (`position`: the entry's place in its customer's ledger, all currencies).
pub const CSV_HEADER: &str = "entry_id,customer_id,currency,position,created_at,event_type,direction,amount,before_balance,after_balance,reason,reference_object_id,idempotency_key";

/// The query: `from` and `to` (RFC 3339), `page_size` (1-1000), `cursor`.
fn export_query(request: &Request) -> Result<ExportQuery, ApiError> {
    Ok(ExportQuery {
        from: instant_query(request, "from")?,
        to: instant_query(request, "to")?,
        page_size: page_size_query(request, EXPORT_PAGE_DEFAULT)?,
        customers_max: EXPORT_CUSTOMERS_MAX,
        cursor: query(request, "cursor")
            .map(|raw| ExportCursor::parse(&raw))
            .transpose()?,
    })
}

/// The `Link` header's value naming the next page: the same query, with its cursor.
fn next_link(page: &ExportPage, page_size: u64, csv: bool, cursor: &str) -> String {
    let mut query = format!(
        "from={}&to={}&page_size={page_size}",
        encoded(&page.from.rfc3339()),
        encoded(&page.to.rfc3339()),
    );
    if csv {
        query.push_str("&format=csv");
    }
    format!("<?{query}&cursor={}>; rel=\"next\"", encoded(cursor))
}

fn csv_row(entry: &LedgerEntry) -> String {
    let direction = if entry.is_credit { "credit" } else { "debit" };
    format!(
        "{},{},{},{},{},{},{direction},{},{},{},{},{},{}\n",
        entry.id,
        entry.customer_id,
        entry.currency,
        entry.customer_seq,
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

fn csv_page(page: &ExportPage) -> String {
    let mut out = String::new();
    if page.first_page {
        out.push_str(CSV_HEADER);
        out.push('\n');
    }
    for entry in &page.entries {
        out.push_str(&csv_row(entry));
    }
    out
}

fn jsonl_page(page: &ExportPage) -> String {
    let mut out = String::new();
    for entry in &page.entries {
        out.push_str(&serde_json::to_string(&EntryView::of(entry)).expect("entries serialise"));
        out.push('\n');
    }
    out
}

pub async fn ledger_entries<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let csv = wants_csv(request, "jsonl")?;
    let query = export_query(request)?;
    let page_size = query.page_size;
    let page = app.export_entries(tenant, query).await?;
    let (content_type, body) = if csv {
        ("text/csv; charset=utf-8", csv_page(&page))
    } else {
        ("application/x-ndjson", jsonl_page(&page))
    };
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type);
    if let Some(cursor) = &page.next {
        let link = next_link(&page, page_size, csv, &cursor.encode());
        response = response.header("link", link);
    }
    Ok(response.body(Body::from(body)).expect("headers are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_header_names_every_column_of_a_row() {
        assert_eq!(CSV_HEADER.split(',').count(), 13);
    }
}
