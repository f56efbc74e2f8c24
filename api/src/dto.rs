//! Request bodies as the Dodo SDKs send them, and their parsing into domain values.

use serde::{Deserialize, Deserializer};
use shared::clock::{parse_instant, Round};
use shared::ids::IdempotencyKey;
use shared::model::{
    CaptureCommand, CloseCommand, CustomerPatch, EntryCommand, EntryType, EventType, HoldCommand,
    InvoiceCommand, Metadata, ReversalCommand,
};
use shared::money::{Amount, Currency};
use shared::validation::{self, NewCustomer};
use shared::ValidationError;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
pub struct CreateCustomerBody {
    email: String,
    name: String,
    phone_number: Option<String>,
    metadata: Option<Metadata>,
    preferred_locale: Option<String>,
}

impl CreateCustomerBody {
    pub fn parse(self) -> Result<NewCustomer, ValidationError> {
        Ok(NewCustomer {
            email: validation::email(&self.email)?,
            name: validation::name(&self.name)?,
            phone_number: self
                .phone_number
                .as_deref()
                .map(validation::phone_number)
                .transpose()?,
            metadata: validation::metadata(self.metadata.unwrap_or_default())?,
            preferred_locale: self
                .preferred_locale
                .as_deref()
                .map(validation::preferred_locale)
                .transpose()?,
        })
    }
}

#[derive(Deserialize)]
pub struct UpdateCustomerBody {
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    metadata: Option<Option<Metadata>>,
    #[serde(default, deserialize_with = "nullable")]
    preferred_locale: Option<Option<String>>,
}

fn required(field: &str, value: Option<Option<String>>) -> Result<Option<String>, ValidationError> {
    match value {
        Some(None) => Err(ValidationError::new(
            "invalid_field",
            format!("`{field}` cannot be null; leave it out to keep it"),
        )),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// A field that `null` clears: absent stays absent, `null` clears, a value is parsed.
fn clearable(
    value: Option<Option<String>>,
    parse: fn(&str) -> Result<String, ValidationError>,
) -> Result<Option<Option<String>>, ValidationError> {
    value
        .map(|v| v.as_deref().map(parse).transpose())
        .transpose()
}

impl UpdateCustomerBody {
    pub fn parse(self) -> Result<CustomerPatch, ValidationError> {
        Ok(CustomerPatch {
            email: required("email", self.email)?
                .as_deref()
                .map(validation::email)
                .transpose()?,
            name: required("name", self.name)?
                .as_deref()
                .map(validation::name)
                .transpose()?,
            phone_number: clearable(self.phone_number, validation::phone_number)?,
            metadata: self
                .metadata
                .map(|m| validation::metadata(m.unwrap_or_default()))
                .transpose()?,
            preferred_locale: clearable(self.preferred_locale, validation::preferred_locale)?,
        })
    }
}

#[derive(Deserialize)]
pub struct LedgerEntryBody {
    amount: i64,
    currency: String,
    entry_type: EntryType,
    reason: Option<String>,
    idempotency_key: Option<String>,
    event_type: Option<EventType>,
    reference_object_id: Option<String>,
}

impl LedgerEntryBody {
    pub fn parse(self) -> Result<EntryCommand, ValidationError> {
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

fn optional_key(raw: Option<&str>) -> Result<Option<IdempotencyKey>, ValidationError> {
    raw.map(IdempotencyKey::parse).transpose()
}

fn optional_reason(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    raw.map(validation::reason).transpose()
}

fn optional_reference(raw: Option<&str>) -> Result<Option<String>, ValidationError> {
    raw.map(validation::reference_object_id).transpose()
}

#[derive(Deserialize)]
pub struct HoldBody {
    amount: i64,
    currency: String,
    reason: Option<String>,
    reference_object_id: Option<String>,
    idempotency_key: Option<String>,
    /// RFC 3339; default and maximum in `shared::holds`.
    expires_at: Option<String>,
}

impl HoldBody {
    pub fn parse(self) -> Result<HoldCommand, ValidationError> {
        Ok(HoldCommand {
            currency: Currency::parse(&self.currency)?,
            amount: Amount::new(self.amount)?,
            reason: optional_reason(self.reason.as_deref())?,
            reference_object_id: optional_reference(self.reference_object_id.as_deref())?,
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
            expires_at_ms: self
                .expires_at
                .as_deref()
                .map(|raw| parse_instant("expires_at", raw, Round::Down))
                .transpose()?,
        })
    }
}

/// Capture body; an empty body captures the whole hold.
#[derive(Deserialize, Default)]
pub struct CaptureBody {
    amount: Option<i64>,
    reason: Option<String>,
}

impl CaptureBody {
    pub fn parse(self) -> Result<CaptureCommand, ValidationError> {
        Ok(CaptureCommand {
            amount: self.amount.map(Amount::new).transpose()?,
            reason: optional_reason(self.reason.as_deref())?,
        })
    }
}

#[derive(Deserialize)]
pub struct InvoicePaymentBody {
    invoice_id: String,
    currency: String,
    amount_due: i64,
}

impl InvoicePaymentBody {
    pub fn parse(self) -> Result<InvoiceCommand, ValidationError> {
        Ok(InvoiceCommand {
            invoice_id: validation::invoice_id(&self.invoice_id)?,
            currency: Currency::parse(&self.currency)?,
            amount_due: Amount::new(self.amount_due).map_err(|e| ValidationError {
                message: e.message.replacen("amount", "amount_due", 1),
                ..e
            })?,
        })
    }
}

#[derive(Deserialize)]
pub struct ReversalBody {
    amount: i64,
    reason: Option<String>,
    idempotency_key: Option<String>,
}

impl ReversalBody {
    pub fn parse(self) -> Result<ReversalCommand, ValidationError> {
        Ok(ReversalCommand {
            amount: Amount::new(self.amount)?,
            reason: optional_reason(self.reason.as_deref())?,
            idempotency_key: optional_key(self.idempotency_key.as_deref())?,
        })
    }
}

#[derive(Deserialize)]
pub struct CloseBody {
    currency: String,
    reason: String,
    reference_object_id: Option<String>,
}

impl CloseBody {
    pub fn parse(self) -> Result<CloseCommand, ValidationError> {
        let reason = validation::reason(&self.reason)?;
        if reason.trim().is_empty() {
            return Err(ValidationError::new(
                "invalid_reason",
                "reason must say why the wallet is closed",
            ));
        }
        Ok(CloseCommand {
            currency: Currency::parse(&self.currency)?,
            reason,
            reference_object_id: optional_reference(self.reference_object_id.as_deref())?,
        })
    }
}
