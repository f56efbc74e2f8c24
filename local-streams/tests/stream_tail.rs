//! The tail of a table made by `shared`'s `create_table`, against DynamoDB Local: its changes come
//! out as Lambda's DynamoDB event. Needs `DYNAMODB_ENDPOINT` (set by `infra/test.sh`).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use local_streams::{Event, StartingPosition, StreamTail};
use shared::adapters::dynamo::table;

async fn sdk_config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect(
        "this test needs DynamoDB Local: run ./infra/test.sh (it starts it and sets DYNAMODB_ENDPOINT)",
    );
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var(name).is_err() {
            // SAFETY: set before any thread of this test reads the environment.
            unsafe { std::env::set_var(name, value) };
        }
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Batches until `count` records came out, or fails after a while.
async fn records(tail: &mut StreamTail, count: usize) -> Event {
    let mut all = Event::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while all.records.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} records",
            all.records.len()
        );
        let batch = tail.next_batch(100).await.expect("a batch");
        if batch.records.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        all.records.extend(batch.records);
    }
    all
}

#[tokio::test]
async fn an_insert_and_a_modify_come_out_as_lambdas_dynamodb_event() {
    let config = sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = format!("streams-{}", ulid::Ulid::new().to_string().to_lowercase());
    assert!(table::create_table(&client, &name).await.expect("table"));

    let mut tail = StreamTail::new(&config, &name, StartingPosition::Latest);
    tail.open().await.expect("the stream opens");
    let nothing = tail.next_batch(100).await.expect("a batch");
    assert!(nothing.records.is_empty(), "{nothing:?}");

    let s = |v: &str| AttributeValue::S(v.to_owned());
    client
        .put_item()
        .table_name(&name)
        .item(table::PK, s("P#1"))
        .item(table::SK, s("S#1"))
        .item("balance", AttributeValue::N("10".into()))
        .item("tags", AttributeValue::Ss(vec!["a".into()]))
        .item("raw", AttributeValue::B(vec![1, 2, 3].into()))
        .send()
        .await
        .expect("put");
    client
        .update_item()
        .table_name(&name)
        .key(table::PK, s("P#1"))
        .key(table::SK, s("S#1"))
        .update_expression("SET balance = :b, note = :n")
        .expression_attribute_values(":b", AttributeValue::N("25".into()))
        .expression_attribute_values(":n", AttributeValue::Null(true))
        .send()
        .await
        .expect("update");

    let event = records(&mut tail, 2).await;
    let arn = tail.stream_arn().expect("opened").to_owned();
    assert_eq!(event.records.len(), 2, "{event:?}");
    let (insert, modify) = (&event.records[0], &event.records[1]);
    for record in [insert, modify] {
        assert_eq!(record.event_source.as_deref(), Some("aws:dynamodb"));
        assert_eq!(record.event_source_arn.as_deref(), Some(arn.as_str()));
        assert_eq!(record.aws_region, "us-east-1");
        assert!(!record.event_id.is_empty());
        assert!(record.event_version.is_some());
        let change = &record.change;
        assert_eq!(change.keys.len(), 2);
        assert!(change.sequence_number.is_some());
        assert!(change.size_bytes > 0);
        assert_eq!(
            change.stream_view_type.as_ref().map(ToString::to_string),
            Some("NEW_AND_OLD_IMAGES".to_owned())
        );
        assert!(change.approximate_creation_date_time.timestamp() > 1_600_000_000);
    }
    // In order: sequence numbers are decimal strings of up to 40 digits.
    let sequence = |r: &aws_lambda_events::dynamodb::EventRecord| {
        let s = r.change.sequence_number.clone().unwrap();
        (s.len(), s)
    };
    assert!(sequence(insert) < sequence(modify));

    assert_eq!(insert.event_name, "INSERT");
    assert!(insert.change.old_image.is_empty());
    let new: serde_json::Value = serde_json::to_value(&insert.change.new_image).unwrap();
    assert_eq!(new["balance"], serde_json::json!({"N": "10"}));
    assert_eq!(new["tags"], serde_json::json!({"SS": ["a"]}));
    assert_eq!(new["raw"], serde_json::json!({"B": "AQID"}));

    assert_eq!(modify.event_name, "MODIFY");
    let old: serde_json::Value = serde_json::to_value(&modify.change.old_image).unwrap();
    let new: serde_json::Value = serde_json::to_value(&modify.change.new_image).unwrap();
    assert_eq!(old["balance"], serde_json::json!({"N": "10"}));
    assert_eq!(new["balance"], serde_json::json!({"N": "25"}));
    assert_eq!(new["note"], serde_json::json!({"NULL": true}));
    assert!(old.get("note").is_none());

    // Read: nothing more.
    assert!(tail.next_batch(100).await.unwrap().records.is_empty());
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn trim_horizon_reads_what_was_written_before_in_order_and_in_batches() {
    let config = sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = format!("streams-{}", ulid::Ulid::new().to_string().to_lowercase());
    assert!(table::create_table(&client, &name).await.expect("table"));
    for i in 0..150 {
        client
            .put_item()
            .table_name(&name)
            .item(table::PK, AttributeValue::S("P".into()))
            .item(table::SK, AttributeValue::S(format!("{i:03}")))
            .send()
            .await
            .expect("put");
    }

    let mut tail = StreamTail::new(&config, &name, StartingPosition::TrimHorizon);
    let first = tail.next_batch(100).await.expect("a batch");
    assert_eq!(first.records.len(), 100);
    let rest = records(&mut tail, 50).await;
    let sks: Vec<String> = first
        .records
        .iter()
        .chain(&rest.records)
        .map(|r| serde_json::to_value(&r.change.keys).unwrap()[table::SK]["S"].to_string())
        .collect();
    let expected: Vec<String> = (0..150).map(|i| format!("\"{i:03}\"")).collect();
    assert_eq!(sks, expected);
    assert!(tail.next_batch(100).await.unwrap().records.is_empty());
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}
