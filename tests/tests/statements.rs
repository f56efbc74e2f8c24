//! Balances at an instant (`as_of`) and statements, on DynamoDB Local, across a ledger chunk
//! boundary: the customer's first 99,997 USD entries are written straight to the table (their
//! currency copies, as the store writes them, one a millisecond), the rest through the API.
//! That test has a table of its own without the stream, deleted at its end: 99,997 stream records
//! would slow every later call to a table made after them about tenfold (docs/testing.md).

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use integration_tests::{assert_error, Harness, Route};
use lambda_http::http::HeaderMap;
use lambda_http::http::StatusCode;
use lambda_http::Body;
use serde_json::Value;
use shared::adapters::dynamo::keys::{currency_pk, currency_sk, key_of, LEDGER_CHUNK};
use shared::kernel::{BusinessId, Currency, CustomerId, EntryId, Timestamp};
use shared::ledger::model::{EventType, LedgerEntry};

/// The table of the chunk-boundary test: its own, without the stream.
const SEEDED_TABLE: &str = "customer-wallets-test-statements";
/// Entries written straight to the table: the chunk boundary is 3 entries after them.
const SEEDED: u64 = LEDGER_CHUNK - 3;
/// Entries then made through the API, across the boundary.
const MADE: i64 = 6;

/// A seeded entry at `position`: a debit of 1 (`payment`) every fourth, else a credit of 2
/// (`refund`) or 1 (`merchant_adjustment`), written at `start_ms + position`.
fn seeded_entry(
    b: &BusinessId,
    c: &CustomerId,
    position: u64,
    before: i64,
    start_ms: u64,
) -> LedgerEntry {
    let (is_credit, amount, event_type) = match position % 4 {
        0 => (false, 1, EventType::Payment),
        1 => (true, 2, EventType::Refund),
        _ => (true, 1, EventType::MerchantAdjustment),
    };
    let created_at = Timestamp::from_unix_ms(start_ms + position);
    LedgerEntry {
        id: EntryId::generate_at(created_at.unix_ms),
        customer_id: c.clone(),
        business_id: b.clone(),
        currency: Currency::USD,
        amount,
        is_credit,
        before_balance: before,
        after_balance: if is_credit {
            before + amount
        } else {
            before - amount
        },
        event_type,
        reason: None,
        reference_object_id: Some(format!("obj_{position}")),
        idempotency_key: None,
        created_at,
        customer_seq: position,
        currency_seq: position,
        created_by: None,
    }
}

/// Writes the currency copies of the customer's USD entries 1..=[`SEEDED`], 25 an item batch,
/// 16 batches at once; answers (created ms, after balance) of each, by position from 1.
async fn seed(h: &Harness, customer: &str, start_ms: u64) -> Vec<(u64, i64)> {
    let (b, c) = (
        BusinessId::parse(&h.business_id).unwrap(),
        CustomerId::parse(customer).unwrap(),
    );
    let mut balance = 0;
    let mut items = Vec::new();
    let mut chain = Vec::new();
    for position in 1..=SEEDED {
        let entry = seeded_entry(&b, &c, position, balance, start_ms);
        balance = entry.after_balance;
        chain.push((entry.created_at.unix_ms, balance));
        let mut item = key_of(
            currency_pk(&b, &c, Currency::USD, position / LEDGER_CHUNK),
            &currency_sk(Currency::USD, position),
        );
        item.insert(
            "doc".into(),
            AttributeValue::S(serde_json::to_string(&entry).unwrap()),
        );
        items.push(
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build(),
        );
    }
    let batches: Vec<Vec<WriteRequest>> = items.chunks(25).map(<[_]>::to_vec).collect();
    let lanes: Vec<Vec<Vec<WriteRequest>>> = (0..16)
        .map(|lane| batches.iter().skip(lane).step_by(16).cloned().collect())
        .collect();
    let tasks = lanes.into_iter().map(|lane| {
        let client = h.dynamodb_client().clone();
        let table = h.table_name().to_owned();
        tokio::spawn(async move {
            for mut batch in lane {
                while !batch.is_empty() {
                    let out = client
                        .batch_write_item()
                        .request_items(&table, batch)
                        .send()
                        .await
                        .expect("batch write");
                    batch = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(&table))
                        .unwrap_or_default();
                }
            }
        })
    });
    for task in tasks.collect::<Vec<_>>() {
        task.await.unwrap();
    }
    let balance_after = balance;
    h.rewrite_wallets(customer, |wallets| {
        wallets.entry_count = SEEDED;
        let usd = wallets.wallets.get_mut(&Currency::USD).unwrap();
        usd.entry_count = SEEDED;
        usd.balance = balance_after;
        usd.created_at = Timestamp::from_unix_ms(start_ms - 10);
    })
    .await;
    chain
}

/// A customer whose USD ledger crosses the first chunk boundary: [`SEEDED`] entries from
/// `start_ms`, then [`MADE`] credits through the API. Answers the customer and every entry's
/// (created ms, after balance), by position from 1.
async fn crossing_ledger(h: &Harness) -> (String, u64, Vec<(u64, i64)>) {
    let customer = h.customer().await;
    let start_ms = Timestamp::now().unix_ms - 2 * SEEDED;
    let mut chain = seed(h, &customer, start_ms).await;
    for amount in 1..=MADE {
        h.credit(&customer, amount * 100).await;
    }
    let newest = h
        .request(Route::ListLedgerEntries)
        .customer(&customer)
        .queries(&[("currency", "USD"), ("page_size", "6")])
        .send()
        .await;
    for entry in newest.body["items"].as_array().unwrap().iter().rev() {
        let at = shared::kernel::clock::parse_instant(
            "t",
            entry["created_at"].as_str().unwrap(),
            shared::kernel::clock::Round::Down,
        )
        .unwrap();
        chain.push((at, entry["after_balance"].as_i64().unwrap()));
    }
    assert_eq!(chain.len() as u64, SEEDED + MADE as u64);
    (customer, start_ms, chain)
}

/// The balance after the last entry written at or before `ms`.
fn expected_at(chain: &[(u64, i64)], ms: u64) -> i64 {
    chain
        .iter()
        .rev()
        .find(|(at, _)| *at <= ms)
        .map_or(0, |(_, b)| *b)
}

fn rfc3339(ms: u64) -> String {
    Timestamp::from_unix_ms(ms).rfc3339()
}

async fn usd_as_of(h: &Harness, customer: &str, ms: u64) -> Value {
    let reply = h
        .request(Route::ListWallets)
        .customer(customer)
        .query("as_of", &rfc3339(ms))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["as_of"], rfc3339(ms));
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["currency"] == "USD")
        .unwrap()
        .clone()
}

/// One seeded ledger for both checks: seeding takes most of a minute on DynamoDB Local.
#[tokio::test]
async fn across_a_ledger_chunk_boundary_as_of_and_statements_agree_with_the_entries() {
    let h = Harness::on_table_without_stream(SEEDED_TABLE).await;
    let described = h
        .dynamodb_client()
        .describe_table()
        .table_name(SEEDED_TABLE)
        .send()
        .await
        .unwrap();
    let stream = described.table().and_then(|t| t.stream_specification());
    assert!(
        !stream.is_some_and(|s| s.stream_enabled()),
        "the seeded table has no stream: {stream:?}"
    );
    let (customer, start_ms, chain) = crossing_ledger(&h).await;
    as_of_matches_the_entries_in_log_n_reads(&h, &customer, start_ms, &chain).await;
    // From seeded entry 99,990 to now: 8 seeded entries and the 6 made, across the boundary.
    let from = start_ms + SEEDED - 7;
    let to = Timestamp::now().unix_ms;
    let expected = (expected_at(&chain, from - 1), expected_at(&chain, to), 14);
    assert_eq!(json_statement(&h, &customer, from, to).await, expected);
    assert_eq!(
        csv_statement(&h, &customer, from, to, false).await,
        expected
    );
    assert_eq!(csv_statement(&h, &customer, from, to, true).await, expected);
    h.delete_table().await;
}

async fn as_of_matches_the_entries_in_log_n_reads(
    h: &Harness,
    customer: &str,
    start_ms: u64,
    chain: &[(u64, i64)],
) {
    let (h, customer) = (h, customer);
    let made = &chain[SEEDED as usize..];
    let mut instants: Vec<u64> = made
        .iter()
        .flat_map(|(at, _)| [*at - 1, *at, *at + 1])
        .collect();
    instants.extend([
        start_ms - 20,
        start_ms,
        start_ms + 1,
        start_ms + 2,
        start_ms + 50_000,
        start_ms + SEEDED,
        start_ms + SEEDED + 1,
    ]);
    for ms in instants {
        let wallet = usd_as_of(h, customer, ms).await;
        assert_eq!(
            wallet["balance"],
            expected_at(chain, ms),
            "as_of {}",
            rfc3339(ms)
        );
    }
    // After a credit made through the API, no hold: nothing pending.
    let last = usd_as_of(h, customer, made[MADE as usize - 1].0).await;
    assert_eq!(
        (
            last["pending_charges"].as_i64(),
            last["available_balance"].as_i64()
        ),
        (Some(0), last["balance"].as_i64())
    );
    h.take_usage();
    let middle = usd_as_of(h, customer, start_ms + 77_777).await;
    assert_eq!(middle["balance"], expected_at(chain, start_ms + 77_777));
    let usage = h.take_usage();
    // Wallets, then per currency the newest entry, bisection (17 reads for 100,003 entries),
    // the pending charges' entry: USD at most 20, INR (no entries) none.
    eprintln!(
        "as_of over {} entries: {} calls, {} read units",
        chain.len(),
        usage.calls,
        usage.read_units
    );
    assert!(usage.calls <= 22, "{} calls", usage.calls);
}

#[tokio::test]
async fn as_of_is_zero_before_the_customer_counts_pending_holds_and_refuses_the_future() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    h.credit(&customer, 500).await;
    let wallet = usd_as_of(&h, &customer, Timestamp::now().unix_ms - 3_600_000).await;
    assert_eq!(
        (
            wallet["balance"].as_i64(),
            wallet["available_balance"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let now = usd_as_of(&h, &customer, Timestamp::now().unix_ms).await;
    assert_eq!(now["balance"], 500);
    // A hold, then an entry: the entry's `w_after` carries the pending charges.
    assert_eq!(h.hold(&customer, 200).await.status, StatusCode::OK);
    h.credit(&customer, 1).await;
    let held = usd_as_of(&h, &customer, Timestamp::now().unix_ms).await;
    let figures = ["balance", "pending_charges", "available_balance"].map(|f| held[f].as_i64());
    assert_eq!(figures, [Some(501), Some(200), Some(301)]);
    assert_eq!(held["last_entry_at"].as_str().map(str::len), Some(24));
    for (raw, code) in [
        (
            rfc3339(Timestamp::now().unix_ms + 3_600_000),
            "timestamp_in_future",
        ),
        ("yesterday".to_owned(), "invalid_timestamp"),
    ] {
        let reply = h
            .request(Route::ListWallets)
            .customer(&customer)
            .query("as_of", &raw)
            .send()
            .await;
        assert_error(&reply, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
}

/// A request for the page of the USD statement over `period` at `cursor`, 4 entries a page.
fn page_request<'h>(
    h: &'h Harness,
    customer: &str,
    (from, to): (u64, u64),
    cursor: Option<&str>,
) -> integration_tests::RequestBuilder<'h> {
    let request = h
        .request(Route::GetWalletStatement)
        .customer(customer)
        .queries(&[
            ("currency", "USD"),
            ("from", &rfc3339(from)),
            ("to", &rfc3339(to)),
            ("page_size", "4"),
        ]);
    match cursor {
        Some(cursor) => request.query("cursor", cursor),
        None => request,
    }
}

/// The statement's pages as JSON, 4 entries a page: checks each page and the chain of entries,
/// and that opening plus the movements, and the totals, make the closing balance. Answers
/// (opening, closing, entries).
async fn json_statement(h: &Harness, customer: &str, from: u64, to: u64) -> (i64, i64, usize) {
    let (mut cursor, mut entries) = (None::<String>, Vec::new());
    let last;
    loop {
        let page = page_request(h, customer, (from, to), cursor.as_deref())
            .send()
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        entries.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert!(
                    page.body["totals"].is_null(),
                    "totals come with the last page"
                );
                cursor = Some(next.to_owned());
            }
            None => {
                last = page.body;
                break;
            }
        }
    }
    let (opening, closing) = (
        last["opening_balance"].as_i64().unwrap(),
        last["closing_balance"].as_i64().unwrap(),
    );
    assert_eq!(last["entry_count"], entries.len());
    let mut balance = opening;
    for entry in &entries {
        assert_eq!(
            entry["before_balance"], balance,
            "the entries chain from the opening balance"
        );
        let amount = entry["amount"].as_i64().unwrap();
        balance += if entry["is_credit"] == true {
            amount
        } else {
            -amount
        };
        assert_eq!(entry["after_balance"], balance);
    }
    assert_eq!(balance, closing, "opening + movements = closing");
    let totals = &last["totals"];
    let by_type: i64 = totals["by_event_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["credits"].as_i64().unwrap() - m["debits"].as_i64().unwrap())
        .sum();
    assert_eq!(
        totals["credits"].as_i64().unwrap() - totals["debits"].as_i64().unwrap(),
        closing - opening
    );
    assert_eq!(by_type, closing - opening);
    let refunds = totals["by_event_type"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["event_type"] == "refund")
        .unwrap();
    assert_eq!(
        refunds["credits"], 4,
        "seeded refunds of 2 at 99,993 and 99,997"
    );
    (opening, closing, entries.len())
}

fn text(body: &Body) -> String {
    match body {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        Body::Empty => String::new(),
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

/// The statement's pages as CSV (`format=csv`, or `Accept: text/csv`), 4 entries a page,
/// followed through `Link`: the pages concatenated are one CSV file whose opening row plus its
/// entry rows, and whose total rows, make its closing row. Answers (opening, closing, entries).
async fn csv_statement(
    h: &Harness,
    customer: &str,
    from: u64,
    to: u64,
    accept: bool,
) -> (i64, i64, usize) {
    let (mut cursor, mut file) = (None::<String>, String::new());
    loop {
        let request = page_request(h, customer, (from, to), cursor.as_deref());
        let request = if accept {
            request.header("accept", "text/csv")
        } else {
            request.query("format", "csv")
        };
        let page = request.send_raw().await;
        assert_eq!(page.status(), StatusCode::OK, "{}", text(page.body()));
        assert_eq!(page.headers()["content-type"], "text/csv; charset=utf-8");
        file.push_str(&text(page.body()));
        cursor = next_cursor(page.headers());
        if cursor.is_none() {
            break;
        }
    }
    let mut lines = file.lines();
    assert_eq!(lines.next(), Some(api::routes::statements::CSV_HEADER));
    let (mut opening, mut closing, mut balance, mut totals, mut entries) = (None, None, 0, 0, 0);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 11, "{line}");
        let number = |at: usize| cells[at].parse::<i64>().unwrap();
        match cells[0] {
            "opening" => {
                assert!(opening.is_none() && entries == 0, "one opening row, first");
                opening = Some(number(7));
                balance = number(7);
            }
            "entry" => {
                assert_eq!(number(6), balance, "{line}");
                balance += if cells[4] == "credit" {
                    number(5)
                } else {
                    -number(5)
                };
                assert_eq!(number(7), balance, "{line}");
                entries += 1;
            }
            "total" => {
                totals += if cells[4] == "credit" {
                    number(5)
                } else {
                    -number(5)
                }
            }
            "closing" => closing = Some(number(7)),
            other => panic!("row {other}"),
        }
    }
    let (opening, closing) = (opening.unwrap(), closing.unwrap());
    assert_eq!(balance, closing, "opening + movements = closing");
    assert_eq!(
        totals,
        closing - opening,
        "the totals move opening to closing"
    );
    (opening, closing, entries)
}
