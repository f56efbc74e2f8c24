//! Dashboard sessions: one item each, `SES#<sha256 of the session id>` / `#SESSION`, holding the
//! session as a document, its last use (`seen`, ms) and the table's TTL (`ttl`, s: the idle limit
//! after the last use). Dashboard forms' claims (`access::forms`) too.

use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{from_doc, number, to_doc, DOC, TTL};
use super::errors::storage;
use super::keys::{form_pk, key_of, session_pk, Item, FORM_SK, SESSION_SK};
use super::meter::{consumed_capacity, Call};
use super::DynamoStore;
use crate::access::model::FormClaim;
use crate::access::model::Session;
use crate::error::{DomainError, DomainResult};
use crate::kernel::{BusinessId, Timestamp};

/// The session's last use (ms).
pub const SEEN: &str = "seen";

fn session_item(session: &Session) -> Item {
    let mut item = key_of(session_pk(&session.id_hash), SESSION_SK);
    item.insert(DOC.to_owned(), to_doc(session));
    item.insert(SEEN.to_owned(), number(session.seen_at.unix_ms));
    item.insert(TTL.to_owned(), number(session.expires_at_s()));
    item
}

fn session_from(id_hash: &str, item: &Item) -> DomainResult<Session> {
    let mut session: Session = from_doc(item)?;
    session.id_hash = id_hash.to_owned();
    session.seen_at = item
        .get(SEEN)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .map(Timestamp::from_unix_ms)
        .ok_or_else(|| DomainError::Storage("corrupt item: session without seen".into()))?;
    Ok(session)
}

impl DynamoStore {
    pub(super) async fn put_session_item(&self, session: &Session) -> DomainResult<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(session)))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        if self.written(result, |o| o.consumed_capacity(), "put session")? {
            Ok(())
        } else {
            Err(DomainError::Storage("a session with this id exists".into()))
        }
    }

    pub(super) async fn session_item(&self, id_hash: &str) -> DomainResult<Option<Session>> {
        self.get_as(key_of(session_pk(id_hash), SESSION_SK), true, |item| {
            session_from(id_hash, item)
        })
        .await
    }

    pub(super) async fn touch_session_item(
        &self,
        session: &Session,
        every_ms: u64,
    ) -> DomainResult<()> {
        let cutoff = session.seen_at.unix_ms.saturating_sub(every_ms);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(session_pk(&session.id_hash), SESSION_SK)))
            .update_expression("SET #seen = :seen, #ttl = :ttl")
            .condition_expression("attribute_exists(pk) AND #seen <= :cutoff")
            .expression_attribute_names("#seen", SEEN)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":seen", number(session.seen_at.unix_ms))
            .expression_attribute_values(":ttl", number(session.expires_at_s()))
            .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string()))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        // A failed condition: another request recorded a use within the minute, or the session
        // was ended meanwhile. Either way nothing to do.
        self.written(result, |o| o.consumed_capacity(), "touch session")
            .map(|_| ())
    }

    pub(super) async fn end_session_item(&self, id_hash: &str) -> DomainResult<()> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(session_pk(id_hash), SESSION_SK)))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await
            .map_err(|e| storage("end session", e))?;
        self.record(Call::Write(out.consumed_capacity()));
        Ok(())
    }
}

/// A dashboard form's claim: `FORM#<business>#<key>` / `#FORM`, with `result` once done and the
/// table's TTL.
pub const FORM_RESULT: &str = "result";

fn form_key_of(business_id: &BusinessId, key: &str) -> Item {
    key_of(form_pk(business_id, key), FORM_SK)
}

impl DynamoStore {
    pub(super) async fn claim_form_item(
        &self,
        business_id: &BusinessId,
        key: &str,
        expires_s: u64,
    ) -> DomainResult<FormClaim> {
        let mut item = form_key_of(business_id, key);
        item.insert(TTL.to_owned(), number(expires_s));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        if self.written(result, |o| o.consumed_capacity(), "claim form")? {
            return Ok(FormClaim::New);
        }
        let earlier = self.get(form_key_of(business_id, key), true).await?;
        Ok(
            match earlier
                .as_ref()
                .and_then(|i| i.get(FORM_RESULT))
                .and_then(|v| v.as_s().ok())
            {
                Some(result) => FormClaim::Done(result.clone()),
                None => FormClaim::Started,
            },
        )
    }

    pub(super) async fn finish_form_item(
        &self,
        business_id: &BusinessId,
        key: &str,
        result: &str,
    ) -> DomainResult<()> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(form_key_of(business_id, key)))
            .update_expression("SET #result = :result")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#result", FORM_RESULT)
            .expression_attribute_values(":result", AttributeValue::S(result.to_owned()))
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await
            .map_err(|e| storage("finish form", e))?;
        self.record(Call::Write(out.consumed_capacity()));
        Ok(())
    }

    pub(super) async fn release_form_item(
        &self,
        business_id: &BusinessId,
        key: &str,
    ) -> DomainResult<()> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(form_key_of(business_id, key)))
            .condition_expression("attribute_not_exists(#result)")
            .expression_attribute_names("#result", FORM_RESULT)
            .return_consumed_capacity(consumed_capacity(self.meter()))
            .send()
            .await;
        self.written(out, |o| o.consumed_capacity(), "release form")
            .map(|_| ())
    }
}
