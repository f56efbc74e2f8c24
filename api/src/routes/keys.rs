//! `/api-keys`: the business's API keys (an extension; Dodo manages keys in its dashboard).
//! Any full key of a business may manage the business's keys; a read-only key may list them
//! (`api::respond` refuses it the other routes; creating and rotating refuse it in the domain
//! too).

use serde::{Deserialize, Serialize};
use shared::access::model::{ApiKey, Scope};
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::{BusinessId, Clock, KeyId, Timestamp};
use shared::ports::Store;
use shared::DomainError;

use crate::http::request::{optional_body, path_parameter};
use crate::http::{json, Answer, ApiError, Call, Page, Request};

/// A key as the API shows it: never its secret or hash.
#[derive(Debug, Serialize)]
pub struct KeyView<'a> {
    id: &'a KeyId,
    business_id: &'a BusinessId,
    name: &'a str,
    prefix: &'a str,
    /// `full` or `read_only`.
    scope: &'static str,
    /// `active`, `expired` or `revoked`.
    status: &'static str,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
}

impl<'a> KeyView<'a> {
    pub fn of(key: &'a ApiKey) -> KeyView<'a> {
        KeyView {
            id: &key.id,
            business_id: &key.business_id,
            name: &key.name,
            prefix: &key.prefix,
            scope: key.scope.as_str(),
            status: if key.revoked_at.is_some() {
                "revoked"
            } else if key.valid_at(Timestamp::now()) {
                "active"
            } else {
                "expired"
            },
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A new key: the view and, this once, the secret.
#[derive(Debug, Serialize)]
struct NewKeyView<'a> {
    #[serde(flatten)]
    key: KeyView<'a>,
    key_secret: &'a str,
}

#[derive(Debug, Serialize)]
struct RotatedView<'a> {
    new_key: NewKeyView<'a>,
    old_key: KeyView<'a>,
}

#[derive(Deserialize, Default)]
struct CreateBody {
    name: Option<String>,
    expires_at: Option<String>,
    /// `full` (the default) or `read_only`.
    scope: Option<String>,
}

#[derive(Deserialize, Default)]
struct RotateBody {
    grace_period_seconds: Option<i64>,
}

fn key_id(request: &Request) -> Result<KeyId, ApiError> {
    let raw = path_parameter(request, "key_id");
    KeyId::parse(&raw).map_err(|_| DomainError::KeyNotFound(raw).into())
}

pub async fn create<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let raw = optional_body::<CreateBody>(request)?;
    let expires_at = raw
        .expires_at
        .as_deref()
        .map(|at| parse_instant("expires_at", at, Round::Down).map(Timestamp::from_unix_ms))
        .transpose()?;
    let scope = raw
        .scope
        .as_deref()
        .map(Scope::parse)
        .transpose()?
        .unwrap_or_default();
    let (key, secret) = app
        .create_key(
            tenant,
            Some(call.key),
            raw.name.as_deref(),
            expires_at,
            scope,
        )
        .await?;
    json(&NewKeyView {
        key: KeyView::of(&key),
        key_secret: &secret,
    })
}

pub async fn list<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let keys = call.app.list_keys(call.tenant).await?;
    json(&Page::of(&keys, KeyView::of))
}

pub async fn revoke<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let key = call
        .app
        .revoke_key(call.tenant, &key_id(call.request)?)
        .await?;
    json(&KeyView::of(&key))
}

pub async fn rotate<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let raw = optional_body::<RotateBody>(request)?;
    let grace = raw
        .grace_period_seconds
        .map(|s| {
            u64::try_from(s).map_err(|_| {
                ApiError::invalid(
                    "invalid_grace_period",
                    "grace_period_seconds must be 0 or more",
                )
            })
        })
        .transpose()?;
    let ((new, secret), old) = app
        .rotate_key(tenant, Some(call.key), &key_id(request)?, grace)
        .await?;
    json(&RotatedView {
        new_key: NewKeyView {
            key: KeyView::of(&new),
            key_secret: &secret,
        },
        old_key: KeyView::of(&old),
    })
}
