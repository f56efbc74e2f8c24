//! What the customer page reads from DynamoDB (issue 20, item 7: a page costs at most 1.5x the
//! JSON routes that read the same data). Its first ledger page is drawn from the reads its
//! charts make anyway (each currency's newest 100 entries), so it shows exactly the entries the
//! API's ledger page shows, in the same order, without a read of its own.

use integration_tests::dashboard::{self, Seed};
use integration_tests::{Harness, Route};
use lambda_http::http::StatusCode;

/// The reasons of the ledger table's rows, in order (the seed gives each entry its own reason,
/// `order #<n> for Ada` or `opening balance`).
fn table_reasons(html: &str) -> Vec<String> {
    let start = html
        .find("id=\"ledger-section\"")
        .expect("the ledger section");
    let end = html[start..]
        .find("id=\"holds\"")
        .expect("the holds section")
        + start;
    html[start..end]
        .split("<td>")
        .filter_map(|cell| {
            let text = &cell[..cell.find("</td>")?];
            (text.starts_with("order #") || text == "opening balance").then(|| text.to_owned())
        })
        .collect()
}

/// The reasons of the API's ledger page (`page_size` 20), in order.
async fn api_reasons(h: &Harness, customer: &str, query: &[(&str, &str)]) -> Vec<String> {
    let reply = h
        .request(Route::ListLedgerEntries)
        .customer(customer)
        .query("page_size", "20")
        .queries(query)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or("").to_owned())
        .collect()
}

const SMALL: Seed = Seed {
    other_customers: 0,
    entries: 60,
    holds: 2,
    webhooks: 0,
    keys: 0,
};

#[tokio::test]
async fn the_customer_page_shows_the_apis_ledger_page_with_no_read_of_its_own() {
    let h = Harness::new().await;
    let customer = dashboard::seed(&h, SMALL).await;
    let cookie = dashboard::session_cookie(&h).await;
    let path = format!("/dashboard/customers/{customer}");
    dashboard::page_html(&h, &cookie, &path).await; // warm: the key cache
    h.take_usage();
    let html = dashboard::page_html(&h, &cookie, &path).await;
    let calls = h.take_usage().calls;
    let reasons = table_reasons(&html);
    assert_eq!(reasons.len(), 20);
    assert_eq!(reasons, api_reasons(&h, &customer, &[]).await);
    // The session (1), the customer (1), the wallets (1), two charts (2 each: the wallet set and
    // the entries) and the pending holds (2); the ledger table reads nothing more.
    assert_eq!(calls, 9, "DynamoDB calls of the customer page");
}

#[tokio::test]
async fn a_filtered_or_later_ledger_page_shows_what_the_api_shows() {
    let h = Harness::new().await;
    let customer = dashboard::seed(&h, SMALL).await;
    let cookie = dashboard::session_cookie(&h).await;
    let path = format!("/dashboard/customers/{customer}");
    for (query, api) in [
        ("?currency=INR", vec![("currency", "INR")]),
        ("?currency=USD", vec![("currency", "USD")]),
        ("?ledger_page=1", vec![("page_number", "1")]),
        ("?ledger_page=2", vec![("page_number", "2")]),
        (
            "?currency=USD&ledger_page=1",
            vec![("currency", "USD"), ("page_number", "1")],
        ),
    ] {
        let html = dashboard::page_html(&h, &cookie, &format!("{path}{query}")).await;
        let reasons = table_reasons(&html);
        assert!(!reasons.is_empty(), "{query}");
        assert_eq!(reasons, api_reasons(&h, &customer, &api).await, "{query}");
    }
    // A currency the customer has no wallet (and no chart) in: the page reads its ledger.
    let html = dashboard::page_html(&h, &cookie, &format!("{path}?currency=EUR")).await;
    assert!(table_reasons(&html).is_empty());
    assert!(api_reasons(&h, &customer, &[("currency", "EUR")])
        .await
        .is_empty());
    // A customer with fewer entries than a page, and one with none.
    for entries in [0, 3] {
        let few = dashboard::seed(
            &h,
            Seed {
                entries,
                holds: 0,
                ..SMALL
            },
        )
        .await;
        let html = dashboard::page_html(&h, &cookie, &format!("/dashboard/customers/{few}")).await;
        let reasons = table_reasons(&html);
        assert_eq!(reasons.len(), entries);
        assert_eq!(reasons, api_reasons(&h, &few, &[]).await);
    }
}
