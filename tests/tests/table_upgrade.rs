//! A table made by an earlier version (kept in `.local/data`, or deployed) gets the indexes and
//! the stream it lacks; one of the earlier key layout (ledger in the customer's partition with
//! the local index `by_currency`) is refused by `create-table` and upgraded by a copy.

use integration_tests::Harness;
use shared::adapters::dynamo::table::{self, GSI_EXPIRY};

#[tokio::test]
async fn create_table_adds_a_missing_global_index_and_the_stream_to_an_existing_table() {
    let h = Harness::new().await;
    let client = h.dynamodb_client();
    let name = format!("legacy-{}", shared::kernel::CustomerId::generate());
    let older: Vec<_> = table::global_secondary_indexes()
        .into_iter()
        .filter(|i| i.index_name() != GSI_EXPIRY)
        .collect();
    client
        .create_table()
        .table_name(&name)
        .billing_mode(table::BILLING_MODE)
        .set_attribute_definitions(Some(
            table::attribute_definitions()
                .into_iter()
                .filter(|a| {
                    ![table::GSI_EXPIRY_PK, table::GSI_EXPIRY_SK].contains(&a.attribute_name())
                })
                .collect(),
        ))
        .set_key_schema(Some(table::key_schema()))
        .set_global_secondary_indexes(Some(older))
        .send()
        .await
        .expect("an older table");

    let created = table::create_table(client, &name).await.expect("upgrade");
    assert!(!created, "the table existed");
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let mut indexes: Vec<String> = described
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .map(|i| i.index_name().unwrap().to_owned())
        .collect();
    indexes.sort();
    let mut expected: Vec<String> = table::global_secondary_indexes()
        .iter()
        .map(|i| i.index_name().to_owned())
        .collect();
    expected.sort();
    assert_eq!(indexes, expected);
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let table_description = described.table().unwrap();
    let stream = table_description
        .stream_specification()
        .expect("the stream was turned on");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&table::STREAM_VIEW_TYPE));
    assert!(table_description.latest_stream_arn().is_some());
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, KeySchemaElement, KeyType, LocalSecondaryIndex,
    Projection, ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use integration_tests::{json, TEST_TABLE};
use shared::adapters::dynamo::upgrade;

type Item = HashMap<String, AttributeValue>;

/// Makes `name` as versions before ledger chunks did: the local index `by_currency` on `csk`.
async fn create_earlier_table(client: &Client, name: &str) {
    let csk = AttributeDefinition::builder()
        .attribute_name("csk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap();
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let lsi = LocalSecondaryIndex::builder()
        .index_name(table::EARLIER_LSI)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("csk", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .unwrap();
    let mut attributes = table::attribute_definitions();
    attributes.push(csk);
    client
        .create_table()
        .table_name(name)
        .billing_mode(table::BILLING_MODE)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(table::key_schema()))
        .local_secondary_indexes(lsi)
        .set_global_secondary_indexes(Some(table::global_secondary_indexes()))
        .stream_specification(table::stream_specification())
        .send()
        .await
        .expect("an earlier table");
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item[name].as_s().unwrap()
}

/// Every item of one partition, by sort key.
async fn partition(client: &Client, table: &str, pk: &str) -> Vec<Item> {
    let out = client
        .query()
        .table_name(table)
        .consistent_read(true)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

/// A customer's items in `table` (wallet set, ledger chunk 0, the USD and INR copies, hold chunk
/// 0, one invoice payment), without the upgrade's marker.
async fn customer_items(client: &Client, table: &str, customer_pk: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for suffix in ["", "#LED#0", "#USD#0", "#INR#0", "#HLD#0", "#INV#inv-1"] {
        items.extend(partition(client, table, &format!("{customer_pk}{suffix}")).await);
    }
    for item in &mut items {
        item.remove("upg");
    }
    items
}

/// The items as the earlier layout stored them: entries in the customer's partition with `csk`,
/// no currency copies, holds and invoice payments in the customer's partition.
fn earlier_layout(items: &[Item], customer_pk: &str) -> Vec<Item> {
    let mut earlier = Vec::new();
    for item in items {
        let (pk, sk) = (text(item, "pk"), text(item, "sk"));
        let mut old = item.clone();
        if sk.starts_with("LED#") {
            let doc: serde_json::Value = serde_json::from_str(text(item, "doc")).unwrap();
            let csk = format!(
                "{}#{:020}",
                doc["currency"].as_str().unwrap(),
                doc["currency_seq"].as_u64().unwrap()
            );
            old.insert("csk".into(), AttributeValue::S(csk));
        } else if pk.ends_with("#USD#0") || pk.ends_with("#INR#0") {
            continue; // the earlier layout's index held these
        }
        old.insert("pk".into(), AttributeValue::S(customer_pk.to_owned()));
        earlier.push(old);
    }
    earlier
}

async fn put_all(client: &Client, table: &str, items: &[Item]) {
    for chunk in items.chunks(25) {
        let requests = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .unwrap();
    }
}

fn sorted(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by(|a, b| (text(a, "pk"), text(a, "sk")).cmp(&(text(b, "pk"), text(b, "sk"))));
    items
}

/// A customer with entries in two currencies, a hold and an invoice payment, written by the
/// service in the current layout; its items, and their earlier-layout twins.
async fn customer_in_both_layouts(
    h: &integration_tests::Harness,
) -> (String, Vec<Item>, Vec<Item>) {
    let customer = h.customer().await;
    h.credit(&customer, 1_000).await;
    let inr = h
        .entry(
            &customer,
            json!({"amount": 700, "currency": "INR", "entry_type": "credit", "idempotency_key": "up-1"}),
        )
        .await;
    assert_eq!(inr.status, 200, "{}", inr.body);
    h.hold(&customer, 100).await;
    let paid = h.pay_invoice(&customer, "inv-1", "USD", 250).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let customer_pk = format!("CUS#{}#{customer}", h.business_id);
    let current = sorted(customer_items(h.dynamodb_client(), TEST_TABLE, &customer_pk).await);
    let kinds: Vec<&str> = current.iter().map(|i| text(i, "sk")).collect();
    assert_eq!(
        current.len(),
        9,
        "wallets, hold, 3 entries, 3 copies, invoice: {kinds:?}"
    );
    let earlier = earlier_layout(&current, &customer_pk);
    (customer_pk, current, earlier)
}

#[tokio::test]
async fn create_table_refuses_a_table_of_the_earlier_layout_and_names_the_upgrade() {
    let h = Harness::new().await;
    let client = h.dynamodb_client();
    let name = format!("earlier-{}", shared::kernel::CustomerId::generate());
    create_earlier_table(client, &name).await;
    let refused = table::create_table(client, &name).await.unwrap_err();
    assert!(
        refused.to_string().contains("wallets-admin upgrade-table"),
        "{refused}"
    );
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_earlier_table_copied_to_a_new_one_holds_what_the_current_code_writes() {
    let h = Harness::new().await;
    let client = h.dynamodb_client();
    let (customer_pk, current, earlier) = customer_in_both_layouts(&h).await;
    let id = shared::kernel::CustomerId::generate();
    let (from, to) = (format!("earlier-{id}"), format!("upgraded-{id}"));
    create_earlier_table(client, &from).await;
    put_all(client, &from, &earlier).await;

    let copied = upgrade::copy_table(client, &from, &to).await.unwrap();
    assert_eq!(copied.read, 6, "wallets, hold, 3 entries, invoice");
    assert_eq!(copied.written, 9, "and a currency copy per entry");
    let upgraded = sorted(customer_items(client, &to, &customer_pk).await);
    assert_eq!(upgraded, current);
    assert!(!table::has_earlier_layout(client, &to).await.unwrap());
    for name in [&from, &to] {
        client.delete_table().table_name(name).send().await.unwrap();
    }
}

#[tokio::test]
async fn an_earlier_table_upgraded_in_place_keeps_its_name_and_a_second_run_does_nothing() {
    let h = Harness::new().await;
    let client = h.dynamodb_client();
    let (customer_pk, current, earlier) = customer_in_both_layouts(&h).await;
    let name = format!("earlier-{}", shared::kernel::CustomerId::generate());
    create_earlier_table(client, &name).await;
    put_all(client, &name, &earlier).await;

    let copied = upgrade::upgrade_in_place(client, &name).await.unwrap();
    assert_eq!(
        copied,
        Some(upgrade::Copied {
            read: 6,
            written: 9
        })
    );
    assert_eq!(
        sorted(customer_items(client, &name, &customer_pk).await),
        current
    );
    assert!(!table::has_earlier_layout(client, &name).await.unwrap());
    assert_eq!(
        upgrade::upgrade_in_place(client, &name).await.unwrap(),
        None
    );
    assert!(
        !table::create_table(client, &name).await.unwrap(),
        "it exists"
    );
    let temporary = client
        .describe_table()
        .table_name(format!("{name}-upgrade"))
        .send()
        .await;
    assert!(temporary.is_err(), "the temporary table is gone");
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}

/// Issue 24.5: an in-place upgrade killed while it copied back (the table made anew and partly
/// filled, the data in `<name>-upgrade`). Run again, it finishes the copy back, not "nothing to
/// upgrade" with the rest of the data left in the temporary table.
#[tokio::test]
async fn an_in_place_upgrade_interrupted_while_copying_back_is_finished_by_a_second_run() {
    let h = Harness::new().await;
    let client = h.dynamodb_client();
    let (customer_pk, current, earlier) = customer_in_both_layouts(&h).await;
    let name = format!("earlier-{}", shared::kernel::CustomerId::generate());
    let temporary = format!("{name}-upgrade");
    create_earlier_table(client, &name).await;
    put_all(client, &name, &earlier).await;
    // The first run's steps up to its death: copied out, the table deleted and made anew, one
    // item copied back.
    upgrade::copy_table(client, &name, &temporary)
        .await
        .unwrap();
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    table::create_table(client, &name).await.unwrap();
    put_all(client, &name, &current[..1]).await;

    let resumed = upgrade::upgrade_in_place(client, &name).await.unwrap();
    assert!(resumed.is_some(), "the second run finishes the upgrade");
    assert_eq!(
        sorted(customer_items(client, &name, &customer_pk).await),
        current
    );
    let gone = client.describe_table().table_name(&temporary).send().await;
    assert!(gone.is_err(), "the temporary table is gone");
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}
