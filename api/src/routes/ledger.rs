//! `/customers/{id}/wallets` and its ledger entries (Dodo's wallet routes).

use serde::{Deserialize, Serialize};
use shared::kernel::clock::{parse_instant, Round};
use shared::kernel::text::{reason, reference_object_id};
use shared::kernel::{Amount, Clock, Currency, CustomerId, IdempotencyKey, Timestamp};
use shared::ledger::model::{CurrencyWallet, EntryCommand, EntryType, EventType};
use shared::ports::Store;
use shared::ValidationError;

use crate::http::request::{body, body_up_to, currency, customer_id, page, query};
use crate::http::{json, Answer, ApiError, Call, Page};
use crate::views::{EntryView, WalletAtView, WalletView};
use shared::ledger::batch::{BatchItem, ItemOutcome};
use shared::DomainError;

/// Largest body of a batch of ledger entries (1,000 items of about 250 bytes fit).
pub const BATCH_BODY_LENGTH_MAX: usize = 1024 * 1024;

/// The wallets of a customer and their sum in USD (Dodo's wallet list).
#[derive(Debug, Serialize)]
struct WalletsView<'a> {
    items: Vec<WalletView<'a>>,
    total_balance_usd: i64,
}

/// Optional free-text and key fields shared by the bodies that move money.
pub fn optional_key(raw: Option<&str>) -> Result<Option<IdempotencyKey>, ValidationError> {
    raw.map(IdempotencyKey::parse).transpose()
}

pub fn optional_reason(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    raw.map(reason).transpose()
}

pub fn optional_reference(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    raw.map(reference_object_id).transpose()
}

#[derive(Deserialize)]
struct LedgerEntryBody {
    amount: i64,
    currency: String,
    entry_type: EntryType,
    reason: Option<String>,
    idempotency_key: Option<String>,
    event_type: Option<EventType>,
    reference_object_id: Option<String>,
}

impl LedgerEntryBody {
    fn parse(self) -> Result<EntryCommand, ValidationError> {
        Ok(EntryCommand {
            currency: Currency::parse(&self.currency)?,
            amount: Amount::new(self.amount)?,
            entry_type: self.entry_type,
            event_type: self.event_type.unwrap_or(EventType::MerchantAdjustment),
            reason: optional_reason(self.reason.as_deref())?,
            reference_object_id: optional_reference(self.reference_object_id.as_deref())?,
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
        })
    }
}

/// The wallets of a customer at an instant, from the ledger.
#[derive(Debug, Serialize)]
struct WalletsAtView<'a> {
    items: Vec<WalletAtView<'a>>,
    total_balance_usd: i64,
    as_of: Timestamp,
}

/// The wallets now, or with `as_of` as they stood then (`Service::wallets_at`).
pub async fn list_wallets<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    if let Some(raw) = query(request, "as_of") {
        let at = Timestamp::from_unix_ms(parse_instant("as_of", &raw, Round::Down)?);
        let found = app.wallets_at(tenant, &customer_id(request)?, at).await?;
        return json(&WalletsAtView {
            items: found
                .wallets
                .iter()
                .map(|w| WalletAtView::of(&found, w))
                .collect(),
            total_balance_usd: found.total_balance_usd,
            as_of: found.as_of,
        });
    }
    let found = app.list_wallets(tenant, &customer_id(request)?).await?;
    let wallets: Vec<CurrencyWallet> = found
        .wallets
        .wallets
        .keys()
        .map(|c| found.wallets.wallet_in(*c))
        .collect();
    json(&WalletsView {
        items: wallets.iter().map(WalletView::of).collect(),
        total_balance_usd: found.total_balance_usd,
    })
}

pub async fn create_entry<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let command = body::<LedgerEntryBody>(request)?.parse()?;
    let wallet = app
        .create_entry(tenant, &customer_id(request)?, command)
        .await?;
    json(&WalletView::of(&wallet))
}

#[derive(Deserialize)]
struct BatchBody {
    items: Vec<serde_json::Value>,
}

/// One item of a batch: a ledger entry's body and whose wallet it is for.
#[derive(Deserialize)]
struct BatchItemBody {
    customer_id: String,
    #[serde(flatten)]
    entry: LedgerEntryBody,
}

/// An item as parsed, or the 422 (or 404) it would have had alone.
fn batch_item(raw: serde_json::Value) -> Result<BatchItem, DomainError> {
    let item: BatchItemBody = serde_json::from_value(raw).map_err(|e| {
        DomainError::from(ValidationError::new(
            "invalid_body",
            format!("batch item is not valid: {e}"),
        ))
    })?;
    let customer_id = CustomerId::parse(&item.customer_id)
        .map_err(|_| DomainError::CustomerNotFound(item.customer_id.clone()))?;
    Ok(BatchItem {
        customer_id,
        command: item.entry.parse()?,
    })
}

/// One item's outcome: `applied` with its entry, or `insufficient_balance`, `duplicate` (with
/// the original entry as `original`) or `invalid`, each with the `{code, message}` it would have
/// had alone.
fn batch_item_view(index: usize, outcome: ItemOutcome) -> serde_json::Value {
    let error = match outcome {
        Ok(entry) => {
            return serde_json::json!({
                "index": index,
                "status": "applied",
                "ledger_entry": EntryView::of(&entry),
            })
        }
        Err(error) => error,
    };
    let status = match &error {
        DomainError::InsufficientBalance { .. } => "insufficient_balance",
        DomainError::IdempotencyKeyReused { .. } => "duplicate",
        _ => "invalid",
    };
    let error = ApiError::from(error);
    let mut view = serde_json::json!({
        "index": index,
        "status": status,
        "code": error.code,
        "message": error.message,
    });
    if let Some((_, original)) = error.extra {
        view["original"] = original;
    }
    view
}

pub async fn create_entries<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let batch: BatchBody = body_up_to(request, BATCH_BODY_LENGTH_MAX)?;
    if !batch.items.iter().all(serde_json::Value::is_object) {
        return Err(ApiError::invalid(
            "invalid_body",
            "every item of `items` must be a JSON object",
        ));
    }
    let items = batch.items.into_iter().map(batch_item).collect();
    let outcomes = app.create_entries(tenant, items).await?;
    let applied = outcomes.iter().filter(|o| o.is_ok()).count();
    let items: Vec<serde_json::Value> = outcomes
        .into_iter()
        .enumerate()
        .map(|(at, outcome)| batch_item_view(at, outcome))
        .collect();
    json(&serde_json::json!({ "items": items, "applied": applied }))
}

pub async fn list_entries<S: Store, C: Clock>(call: Call<'_, S, C>) -> Answer {
    let (app, tenant, request) = (call.app, call.tenant, call.request);
    let (page, currency) = (page(request)?, currency(request)?);
    let entries = app
        .list_entries(tenant, &customer_id(request)?, currency, page)
        .await?;
    json(&Page::of(&entries, EntryView::of))
}
