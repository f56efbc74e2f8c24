//! A stream record as the JSON Lambda passes to a DynamoDB stream function.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::Error;

/// One stream record as Lambda's DynamoDB event record.
pub fn lambda_record(
    record: &Record,
    stream_arn: &str,
    region: Option<&str>,
) -> Result<Value, Error> {
    let change = record
        .dynamodb()
        .ok_or_else(|| Error::Record("a record without its change".into()))?;
    let mut dynamodb = Map::new();
    if let Some(at) = change.approximate_creation_date_time() {
        // Lambda gives whole seconds as an integer.
        let value = if at.subsec_nanos() == 0 {
            json!(at.secs())
        } else {
            json!(at.as_secs_f64())
        };
        dynamodb.insert("ApproximateCreationDateTime".into(), value);
    }
    for (name, image) in [
        ("Keys", change.keys()),
        ("NewImage", change.new_image()),
        ("OldImage", change.old_image()),
    ] {
        if let Some(image) = image {
            dynamodb.insert(name.into(), item(image)?);
        }
    }
    if let Some(sequence) = change.sequence_number() {
        dynamodb.insert("SequenceNumber".into(), json!(sequence));
    }
    dynamodb.insert("SizeBytes".into(), json!(change.size_bytes().unwrap_or(0)));
    if let Some(view) = change.stream_view_type() {
        dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
    }

    let mut out = Map::new();
    out.insert("eventID".into(), json!(record.event_id().unwrap_or("")));
    out.insert(
        "eventName".into(),
        json!(record.event_name().map(|n| n.as_str()).unwrap_or("")),
    );
    out.insert(
        "eventVersion".into(),
        json!(record.event_version().unwrap_or("1.1")),
    );
    out.insert(
        "eventSource".into(),
        json!(record.event_source().unwrap_or("aws:dynamodb")),
    );
    out.insert(
        "awsRegion".into(),
        json!(region.or(record.aws_region()).unwrap_or("")),
    );
    out.insert("dynamodb".into(), Value::Object(dynamodb));
    out.insert("eventSourceARN".into(), json!(stream_arn));
    if let Some(identity) = record.user_identity() {
        // A TTL deletion: {"type": "Service", "principalId": "dynamodb.amazonaws.com"}.
        out.insert(
            "userIdentity".into(),
            json!({
                "type": identity.r#type().unwrap_or(""),
                "principalId": identity.principal_id().unwrap_or(""),
            }),
        );
    }
    Ok(Value::Object(out))
}

/// An item (or key) as DynamoDB JSON: `{"name": {"S": "..."}, ...}`.
fn item(image: &HashMap<String, AttributeValue>) -> Result<Value, Error> {
    image
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect::<Result<Map<String, Value>, Error>>()
        .map(Value::Object)
}

/// One attribute value as DynamoDB JSON (binary as standard base64, as the DynamoDB API sends it).
pub fn attribute(value: &AttributeValue) -> Result<Value, Error> {
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": base64(b.as_ref()) }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Ns(ns) => json!({ "NS": ns }),
        AttributeValue::Bs(bs) => {
            json!({ "BS": bs.iter().map(|b| base64(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::M(m) => json!({ "M": item(m)? }),
        AttributeValue::L(l) => {
            json!({ "L": l.iter().map(attribute).collect::<Result<Vec<_>, _>>()? })
        }
        AttributeValue::Null(is_null) => json!({ "NULL": is_null }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        other => return Err(Error::Record(format!("unknown attribute type: {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::dynamodb::Event;
    use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};
    use aws_sdk_dynamodbstreams::types::{OperationType, StreamRecord, StreamViewType};

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    #[test]
    fn every_attribute_type_reads_as_dynamodb_json() {
        let value = AttributeValue::M(HashMap::from([
            ("s".into(), s("text")),
            ("n".into(), AttributeValue::N("-1.5".into())),
            ("b".into(), AttributeValue::B(Blob::new(b"hi".to_vec()))),
            (
                "ss".into(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            ("ns".into(), AttributeValue::Ns(vec!["1".into()])),
            ("bs".into(), AttributeValue::Bs(vec![Blob::new(vec![0xff])])),
            (
                "l".into(),
                AttributeValue::L(vec![AttributeValue::Bool(true)]),
            ),
            ("null".into(), AttributeValue::Null(true)),
        ]));
        assert_eq!(
            attribute(&value).unwrap(),
            json!({"M": {
                "s": {"S": "text"}, "n": {"N": "-1.5"}, "b": {"B": "aGk="},
                "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]}, "bs": {"BS": ["/w=="]},
                "l": {"L": [{"BOOL": true}]}, "null": {"NULL": true},
            }})
        );
    }

    #[test]
    fn a_record_reads_as_lambdas_event_record() {
        let record = Record::builder()
            .event_id("e1")
            .event_name(OperationType::Modify)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("ddblocal")
            .dynamodb(
                StreamRecord::builder()
                    .approximate_creation_date_time(DateTime::from_secs(1_700_000_000))
                    .keys("pk", s("P"))
                    .keys("sk", s("S"))
                    .new_image("pk", s("P"))
                    .new_image("v", AttributeValue::N("2".into()))
                    .old_image("pk", s("P"))
                    .old_image("v", AttributeValue::N("1".into()))
                    .sequence_number("100")
                    .size_bytes(42)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build(),
            )
            .build();
        let value = lambda_record(&record, "arn:stream", Some("us-east-1")).unwrap();
        assert_eq!(
            value,
            json!({
                "eventID": "e1", "eventName": "MODIFY", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:stream",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"pk": {"S": "P"}, "sk": {"S": "S"}},
                    "NewImage": {"pk": {"S": "P"}, "v": {"N": "2"}},
                    "OldImage": {"pk": {"S": "P"}, "v": {"N": "1"}},
                    "SequenceNumber": "100", "SizeBytes": 42,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            })
        );
        let event: Event = serde_json::from_value(json!({ "Records": [value] })).unwrap();
        let change = &event.records[0].change;
        assert_eq!(event.records[0].event_name, "MODIFY");
        assert_eq!(change.new_image.len(), 2);
        assert_eq!(change.old_image.len(), 2);
        assert_eq!(
            change.approximate_creation_date_time.timestamp(),
            1_700_000_000
        );
    }
}
