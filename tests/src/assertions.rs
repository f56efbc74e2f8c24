//! Checks and readings that tests share.

use lambda_http::http::StatusCode;
use serde_json::Value;

use crate::Reply;

/// Asserts an error reply: the status, a `code` and a non-empty `message`.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.body["code"], code, "body: {}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {}",
        reply.body
    );
}

/// Asserts that the entries chain (each before = the next older after) and sum to `balance`.
pub fn assert_chain(entries_newest_first: &[Value], balance: i64) {
    let mut expected_before = 0;
    let mut sum = 0;
    for entry in entries_newest_first.iter().rev() {
        let amount = entry["amount"].as_i64().expect("amount");
        let signed = if entry["is_credit"].as_bool().expect("is_credit") {
            amount
        } else {
            -amount
        };
        assert_eq!(
            entry["before_balance"].as_i64(),
            Some(expected_before),
            "chain broken at {entry}"
        );
        assert_eq!(
            entry["after_balance"].as_i64(),
            Some(expected_before + signed),
            "after != before + amount at {entry}"
        );
        expected_before += signed;
        sum += signed;
    }
    assert_eq!(sum, balance, "sum of entries differs from the balance");
}

/// Every reply is a success or one of the expected refusals; never a 5xx or a retryable 409.
pub fn assert_only(replies: &[Reply], refusals: &[(StatusCode, &str)]) {
    for reply in replies {
        let expected = reply.status == StatusCode::OK
            || refusals
                .iter()
                .any(|(status, code)| reply.status == *status && reply.body["code"] == *code);
        assert!(expected, "unexpected reply {} {}", reply.status, reply.body);
    }
}

/// The replies that succeeded (200).
pub fn successes(replies: &[Reply]) -> Vec<&Reply> {
    replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect()
}

/// A wallet's (balance, pending_charges, available_balance).
pub fn pending_and_available(wallet: &Value) -> (i64, i64, i64) {
    (
        wallet["balance"].as_i64().unwrap(),
        wallet["pending_charges"].as_i64().unwrap(),
        wallet["available_balance"].as_i64().unwrap(),
    )
}

/// One string field of every item of a list reply, in order (`customer_id`, `name`, …).
pub fn item_strings(reply: &Reply, field: &str) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}
