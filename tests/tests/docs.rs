//! Issue 24.11: what the README tells receivers and operators must not make them lose events.

const README: &str = include_str!("../../README.md");

fn paragraph_with(needle: &str) -> String {
    README
        .split("\n\n")
        .find(|p| p.contains(needle))
        .unwrap_or_else(|| panic!("README has no paragraph with {needle:?}"))
        .replace('\n', " ")
}

/// One commit's events share a `sequence` (a capture's three events, a batch's 33 entries): a
/// receiver told to drop an event whose sequence it applied would drop real events.
#[test]
fn receivers_deduplicate_on_webhook_id_not_on_sequence() {
    let envelope = paragraph_with("`sequence` is the version of the customer's wallets");
    assert!(
        !envelope.contains("drops an event whose sequence"),
        "README tells receivers to drop events by sequence: {envelope}"
    );
    assert!(
        envelope.contains("Deduplicate on `webhook-id` only"),
        "{envelope}"
    );
}

/// Switching the stack to a new table moves the dispatcher off the old table's stream: what it
/// had not read yet is lost unless the stream is drained first.
#[test]
fn the_aws_table_upgrade_drains_the_old_stream_before_switching() {
    let upgrade = paragraph_with("**Upgrading a table of an earlier version**");
    let drain = upgrade
        .find("drain the old table's stream")
        .expect("the procedure drains the old stream");
    let switch = upgrade
        .find("deploy with `TableName=<new table>`")
        .expect("the procedure switches tables");
    assert!(drain < switch, "drained before the switch: {upgrade}");
}
