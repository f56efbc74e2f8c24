//! Issue 24.11: what the docs tell receivers and operators must not make them lose events.
//! (Issue 19 moved these passages from README.md to docs/webhooks.md and docs/operations.md.)

const WEBHOOKS: &str = include_str!("../../docs/webhooks.md");
const OPERATIONS: &str = include_str!("../../docs/operations.md");

fn paragraph_with(doc: &str, needle: &str) -> String {
    doc.split("\n\n")
        .find(|p| p.contains(needle))
        .unwrap_or_else(|| panic!("no paragraph with {needle:?}"))
        .replace('\n', " ")
}

/// The text of the section under `heading` (a `## ` line), up to the next `## ` heading.
fn section(doc: &str, heading: &str) -> String {
    let start = doc
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?}"));
    let body = &doc[start + heading.len() + 5..];
    let end = body.find("\n## ").unwrap_or(body.len());
    body[..end].replace('\n', " ")
}

/// One commit's events share a `sequence` (a capture's three events, a batch's 33 entries): a
/// receiver told to drop an event whose sequence it applied would drop real events.
#[test]
fn receivers_deduplicate_on_webhook_id_not_on_sequence() {
    let envelope = paragraph_with(
        WEBHOOKS,
        "`sequence` is the version of the customer's wallets",
    );
    assert!(
        !envelope.contains("drops an event whose sequence"),
        "docs/webhooks.md tells receivers to drop events by sequence: {envelope}"
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
    let upgrade = section(OPERATIONS, "Upgrading a table of an earlier version");
    let drain = upgrade
        .find("drain the old table's stream")
        .expect("the procedure drains the old stream");
    let switch = upgrade
        .find("deploy with `TableName=<new table>`")
        .expect("the procedure switches tables");
    assert!(drain < switch, "drained before the switch: {upgrade}");
}
