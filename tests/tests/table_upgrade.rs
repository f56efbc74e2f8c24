//! A table made by an earlier version (kept in `.local/data`) gets the indexes and the stream it
//! lacks.

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
        .set_local_secondary_indexes(Some(table::local_secondary_indexes()))
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
