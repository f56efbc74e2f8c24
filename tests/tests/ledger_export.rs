//! `GET /reports/ledger-entries` on DynamoDB Local: customers with entries before, inside and
//! after the period (some with none, some in two currencies), paged with small pages through the
//! `Link` header, as JSON lines and as CSV. The concatenated pages are exactly the period's
//! entries (count, ids and order: by customer id, then ledger position), the CSV pages are one
//! CSV with one header, and another business's entries never appear.

use std::time::Duration;

use integration_tests::{Harness, Route};
use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::Body;
use serde_json::{json, Value};
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::Timestamp;

fn text(body: &Body) -> String {
    match body {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        _ => String::new(),
    }
}

/// The `cursor` of a `Link: <?...&cursor=...>; rel="next"` header, if any.
fn next_cursor(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().unwrap();
    assert!(
        link.starts_with("<?") && link.ends_with(">; rel=\"next\""),
        "{link}"
    );
    let cursor = link.split("&cursor=").nth(1)?.split('>').next()?;
    Some(cursor.to_owned())
}

/// A moment strictly between what was written before and what is written after.
async fn instant() -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let now = Timestamp::now().rfc3339();
    tokio::time::sleep(Duration::from_millis(5)).await;
    now
}

async fn entries(h: &Harness, customer: &str, currencies: &[&str]) {
    for (k, currency) in currencies.iter().enumerate() {
        let body = json!({"amount": 10 + k, "currency": currency, "entry_type": "credit"});
        let reply = h.entry(customer, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
}

/// The export's pages followed through `Link`: each page's body, in order.
async fn pages(h: &Harness, period: (&str, &str), page_size: usize, how: &str) -> Vec<String> {
    let (mut cursor, mut bodies) = (None::<String>, Vec::new());
    loop {
        let mut request = h.request(Route::GetLedgerEntriesReport).queries(&[
            ("from", period.0),
            ("to", period.1),
            ("page_size", &page_size.to_string()),
        ]);
        request = match how {
            "accept" => request.header("accept", "text/csv"),
            "csv" => request.query("format", "csv"),
            "jsonl" => request.query("format", "jsonl"),
            _ => request,
        };
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let page = request.send_raw().await;
        let body = text(page.body());
        assert_eq!(page.status(), StatusCode::OK, "{body}");
        let csv = how == "accept" || how == "csv";
        let expected_type = if csv {
            "text/csv; charset=utf-8"
        } else {
            "application/x-ndjson"
        };
        assert_eq!(page.headers()["content-type"], expected_type);
        let header = usize::from(csv && bodies.is_empty());
        assert!(body.lines().count() <= page_size + header, "{body}");
        bodies.push(body);
        cursor = next_cursor(page.headers());
        if cursor.is_none() {
            return bodies;
        }
    }
}

/// The customer's entries written in `[from, to)`, oldest first: (customer, entry id).
async fn expected_in(h: &Harness, customer: &str, (from, to): (u64, u64)) -> Vec<(String, String)> {
    let mut all = h.all_entries(customer, None).await;
    all.reverse();
    all.iter()
        .filter(|e| {
            let at = parse_instant("t", e["created_at"].as_str().unwrap(), Round::Down).unwrap();
            (from..to).contains(&at)
        })
        .map(|e| (customer.to_owned(), e["id"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_pages_concatenate_to_exactly_the_periods_entries_once_each_in_a_stable_order() {
    let h = Harness::new().await;
    let other = h.other_business().await;
    let mut customers = Vec::new();
    for _ in 0..7 {
        customers.push(h.customer().await);
    }
    let stranger = other.customer().await;
    let c = &customers;
    // Before the period.
    entries(&h, &c[0], &["USD", "INR"]).await;
    entries(&h, &c[2], &["USD", "USD", "USD"]).await;
    entries(&h, &c[5], &["USD"]).await;
    let from = instant().await;
    // Inside.
    entries(&h, &c[0], &["USD", "INR", "USD"]).await;
    entries(&h, &c[3], &["USD", "USD", "INR", "USD", "USD"]).await;
    entries(&h, &c[5], &["INR", "USD"]).await;
    entries(&h, &c[6], &["USD"]).await;
    entries(&other, &stranger, &["USD", "USD"]).await;
    let to = instant().await;
    // After.
    entries(&h, &c[0], &["USD"]).await;
    entries(&h, &c[4], &["USD", "INR"]).await;
    entries(&h, &c[6], &["USD"]).await;
    entries(&other, &stranger, &["USD"]).await;
    // c[1] has no entries at all.
    let bounds = (
        parse_instant("from", &from, Round::Up).unwrap(),
        parse_instant("to", &to, Round::Up).unwrap(),
    );
    let mut sorted = customers.clone();
    sorted.sort();
    let mut expected = Vec::new();
    for customer in &sorted {
        expected.extend(expected_in(&h, customer, bounds).await);
    }
    assert_eq!(expected.len(), 3 + 5 + 2 + 1, "{expected:?}");
    let strangers: Vec<String> = other
        .all_entries(&stranger, None)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let period = (from.as_str(), to.as_str());

    for (page_size, how) in [(2, "default"), (3, "jsonl"), (1000, "jsonl")] {
        let bodies = pages(&h, period, page_size, how).await;
        let found: Vec<(String, String)> = bodies
            .concat()
            .lines()
            .map(|line| {
                let entry: Value = serde_json::from_str(line).unwrap();
                let field = |name: &str| entry[name].as_str().unwrap().to_owned();
                assert_eq!(field("business_id"), h.business_id);
                (field("customer_id"), field("id"))
            })
            .collect();
        assert_eq!(found, expected, "JSON lines, {page_size} a page ({how})");
        assert!(bodies.len() >= expected.len().div_ceil(page_size));
        assert!(found.iter().all(|(_, id)| !strangers.contains(id)));
    }

    for (page_size, how) in [(3, "csv"), (4, "accept")] {
        let bodies = pages(&h, period, page_size, how).await;
        let file = bodies.concat();
        let mut lines = file.lines();
        assert_eq!(
            lines.next(),
            Some(api::routes::exports::CSV_HEADER),
            "one header, first"
        );
        let found: Vec<(String, String)> = lines
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                assert_eq!(cells.len(), 13, "{line}");
                (cells[1].to_owned(), cells[0].to_owned())
            })
            .collect();
        assert_eq!(found, expected, "CSV, {page_size} a page ({how})");
        assert!(bodies.len() >= expected.len().div_ceil(page_size));
    }

    // The other business's export holds its own entry of the period only.
    let theirs = pages(&other, period, 1000, "jsonl").await.concat();
    let ids: Vec<String> = theirs
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| strangers.contains(id)));

    // The cost of one page of 1,000 over the 7 customers (docs/performance.md).
    h.take_usage();
    let bodies = pages(&h, period, 1000, "jsonl").await;
    let usage = h.take_usage();
    eprintln!(
        "ledger export, {} page(s), 7 customers, {} entries: {} calls, {} read units",
        bodies.len(),
        expected.len(),
        usage.calls,
        usage.read_units
    );
    // A next page that resumes in the middle of a customer's entries: its wallet set (the cursor
    // checked against it) and one query.
    let mut cursor = None::<String>;
    let cursor = loop {
        let mut request = h.request(Route::GetLedgerEntriesReport).queries(&[
            ("from", &from),
            ("to", &to),
            ("page_size", "1"),
        ]);
        if let Some(cursor) = &cursor {
            request = request.query("cursor", cursor);
        }
        let next = next_cursor(request.send_raw().await.headers()).unwrap();
        // `x1.<from>.<to>.<next>.<end>.<customer>`: in the middle when next <= end.
        let parts: Vec<u64> = next
            .split('.')
            .skip(3)
            .take(2)
            .map(|p| p.parse().unwrap())
            .collect();
        if parts[0] <= parts[1] {
            break next;
        }
        cursor = Some(next);
    };
    h.take_usage();
    let second = h
        .request(Route::GetLedgerEntriesReport)
        .queries(&[
            ("from", &from),
            ("to", &to),
            ("page_size", "1"),
            ("cursor", &cursor),
        ])
        .send_raw()
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let usage = h.take_usage();
    eprintln!(
        "ledger export, a next page of 1 in the middle of a customer: {} calls, {} read units",
        usage.calls, usage.read_units
    );
    // The wallet set and one query; at most the API key's cached lookup (every 5 s) and its
    // use record (every minute) besides: O(page), not the customers before it.
    assert!(usage.calls <= 4, "{} calls", usage.calls);
}

#[tokio::test]
async fn bad_periods_page_sizes_formats_and_cursors_are_422() {
    let h = Harness::new().await;
    let now = Timestamp::now();
    let later = Timestamp::from_unix_ms(now.unix_ms + 60_000).rfc3339();
    let to = now.rfc3339();
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("to", &to)], "missing_query"),
        (&[("from", &to), ("to", &to)], "invalid_period"),
        (
            &[("from", "2020-01-01T00:00:00Z"), ("to", &later)],
            "timestamp_in_future",
        ),
        (
            &[
                ("from", "2020-01-01T00:00:00Z"),
                ("to", &to),
                ("page_size", "1001"),
            ],
            "invalid_page_size",
        ),
        (
            &[
                ("from", "2020-01-01T00:00:00Z"),
                ("to", &to),
                ("format", "xml"),
            ],
            "invalid_query",
        ),
        (
            &[
                ("from", "2020-01-01T00:00:00Z"),
                ("to", &to),
                ("cursor", "x1.1.2.1.1.cus_a"),
            ],
            "invalid_cursor",
        ),
        (
            &[
                ("from", "2020-01-01T00:00:00Z"),
                ("to", &to),
                ("cursor", "nonsense"),
            ],
            "invalid_cursor",
        ),
    ];
    for (query, code) in cases {
        let reply = h
            .request(Route::GetLedgerEntriesReport)
            .queries(query)
            .send()
            .await;
        integration_tests::assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
}
