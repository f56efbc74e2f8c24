//! Key scopes on the memory store: what a read-only key may not do, what a rotation passes on,
//! and how a key stored before scopes reads.

use super::permit_change;
use crate::access::model::{ApiKey, Scope};
use crate::adapters::memory::fixtures::World;
use crate::error::DomainError;

fn refused<T: std::fmt::Debug>(result: Result<T, DomainError>, what: &str) {
    assert!(
        matches!(result, Err(DomainError::InsufficientScope)),
        "{what}: {result:?}"
    );
}

#[test]
fn only_a_full_scope_permits_a_change_and_scopes_parse_from_their_names() {
    assert!(permit_change(Scope::Full).is_ok());
    refused(permit_change(Scope::ReadOnly), "read-only");
    assert_eq!(DomainError::InsufficientScope.code(), "insufficient_scope");
    for scope in Scope::ALL {
        assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
    }
    assert!(Scope::Full.allows_changes() && !Scope::ReadOnly.allows_changes());
    for wrong in ["", "FULL", "read-only", "admin"] {
        assert_eq!(Scope::parse(wrong).unwrap_err().code, "invalid_scope");
    }
}

#[test]
fn a_key_document_without_a_scope_reads_as_full() {
    let stored = serde_json::json!({
        "id": "key_01kb0000000000000000000000", "business_id": "bus_01kb0000000000000000000000",
        "name": "old", "prefix": "cw_00000000", "created_at": "2026-11-23T12:00:00.000Z"
    });
    let key: ApiKey = serde_json::from_value(stored).unwrap();
    assert_eq!(key.scope, Scope::Full);
    let read_only = ApiKey {
        scope: Scope::ReadOnly,
        ..key
    };
    let written = serde_json::to_value(&read_only).unwrap();
    assert_eq!(written["scope"], "read_only");
    let back: ApiKey = serde_json::from_value(written).unwrap();
    assert_eq!(back.scope, Scope::ReadOnly);
}

#[tokio::test]
async fn a_read_only_caller_cannot_create_or_rotate_a_key() {
    let w = World::new().await;
    let (s, t) = (&w.service, &w.tenant);
    let (reader, _) = s
        .create_key(t, None, Some("reports"), None, Scope::ReadOnly)
        .await
        .unwrap();
    assert_eq!(reader.scope, Scope::ReadOnly);
    for scope in Scope::ALL {
        refused(
            s.create_key(t, Some(&reader), None, None, scope).await,
            scope.as_str(),
        );
    }
    refused(
        s.rotate_key(t, Some(&reader), &reader.id, None).await,
        "rotate",
    );
    let keys = s.list_keys(t).await.unwrap();
    assert_eq!(keys.len(), 2, "the first key and the reader: {keys:?}");
    assert!(keys
        .iter()
        .all(|k| k.revoked_at.is_none() && k.expires_at.is_none()));
}

#[tokio::test]
async fn a_rotated_key_keeps_its_scope_whoever_rotates_it() {
    let w = World::new().await;
    let (s, t) = (&w.service, &w.tenant);
    let (full, _) = s
        .create_key(t, None, Some("ops"), None, Scope::Full)
        .await
        .unwrap();
    for scope in Scope::ALL {
        let (key, _) = s
            .create_key(t, Some(&full), None, None, scope)
            .await
            .unwrap();
        let ((new, _), old) = s
            .rotate_key(t, Some(&full), &key.id, Some(0))
            .await
            .unwrap();
        assert_eq!((new.scope, old.scope), (scope, scope));
        let stored = s.list_keys(t).await.unwrap();
        let stored = stored.iter().find(|k| k.id == new.id).unwrap();
        assert_eq!(stored.scope, scope);
    }
}
