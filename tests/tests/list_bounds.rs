//! Issue 24.10: a caller cannot make one list request read without bound. Customer and hold lists
//! skip item by item to a page and filter as they read; each request examines at most
//! `LIST_EXAMINED_MAX` items and says so with a 422.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use integration_tests::{assert_error, Harness, Route, TEST_TABLE};
use lambda_http::http::StatusCode;
use shared::kernel::paging::LIST_EXAMINED_MAX;

#[tokio::test]
async fn a_deep_page_of_customers_or_holds_is_refused_before_anything_is_read() {
    let h = Harness::new().await;
    let customer = h.customer().await;
    let deep = h
        .request(Route::ListCustomers)
        .query("page_number", "50")
        .query("page_size", "100")
        .send()
        .await;
    assert_error(&deep, StatusCode::UNPROCESSABLE_ENTITY, "page_too_deep");
    let last = h
        .request(Route::ListCustomers)
        .query("page_number", "49")
        .query("page_size", "100")
        .send()
        .await;
    assert_eq!(last.status, StatusCode::OK, "{}", last.body);
    let holds = h
        .request(Route::ListHolds)
        .customer(&customer)
        .query("page_number", "5000")
        .query("page_size", "1")
        .send()
        .await;
    assert_error(&holds, StatusCode::UNPROCESSABLE_ENTITY, "page_too_deep");
}

/// A name filter that matches none of a business's 5,050 customers: refused once the bound is
/// reached (a short page would say "no more"), where before it read every customer.
#[tokio::test]
async fn a_filter_matching_nothing_among_many_customers_is_refused_at_the_bound() {
    let h = Harness::new().await;
    let one = h.customer().await;
    let got = h
        .dynamodb_client()
        .get_item()
        .table_name(TEST_TABLE)
        .key("pk", AttributeValue::S(format!("BIZ#{}", h.business_id)))
        .key("sk", AttributeValue::S(format!("CUS#{one}")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let copies: Vec<WriteRequest> = (0..LIST_EXAMINED_MAX + 50)
        .map(|_| {
            let mut item = got.clone();
            let id = shared::kernel::CustomerId::generate();
            item.insert("sk".into(), AttributeValue::S(format!("CUS#{id}")));
            item.remove("email_key"); // not in the email index
            let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for chunk in copies.chunks(25) {
        let mut requests = chunk.to_vec();
        while !requests.is_empty() {
            let out = h
                .dynamodb_client()
                .batch_write_item()
                .request_items(TEST_TABLE, requests)
                .send()
                .await
                .unwrap();
            requests = out
                .unprocessed_items
                .and_then(|mut left| left.remove(TEST_TABLE))
                .unwrap_or_default();
        }
    }
    let broad = h
        .request(Route::ListCustomers)
        .query("name", "zzz-nobody")
        .send()
        .await;
    assert_error(&broad, StatusCode::UNPROCESSABLE_ENTITY, "query_too_broad");
    // A filter that matches, and a plain page, still answer.
    let plain = h
        .request(Route::ListCustomers)
        .query("page_size", "100")
        .send()
        .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_eq!(plain.body["items"].as_array().unwrap().len(), 100);
}
