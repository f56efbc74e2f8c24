//! Customer fields parsed from caller input ("parse, don't validate"), and patching. Pure.

use super::model::{Customer, CustomerPatch, Metadata, SavedPaymentMethod};
use crate::kernel::text::bounded_text;
use crate::kernel::ValidationError;

pub const EMAIL_LENGTH_MAX: usize = 254;
pub const NAME_LENGTH_MAX: usize = 255;
pub const PHONE_LENGTH_MAX: usize = 32;
pub const REASON_LENGTH_MAX: usize = 500;
pub const REFERENCE_LENGTH_MAX: usize = 255;
pub const METADATA_KEYS_MAX: usize = 50;
pub const METADATA_KEY_LENGTH_MAX: usize = 40;
pub const METADATA_VALUE_LENGTH_MAX: usize = 500;
/// Metadata as JSON, at most: keeps a page of 100 customers far below Lambda's 6 MB response
/// limit (a page of the largest customers is about 1 MB, 2 MB in API Gateway's envelope).
pub const METADATA_JSON_LENGTH_MAX: usize = 8 * 1024;

/// Locales Dodo accepts for `preferred_locale`.
pub const LOCALES: &[&str] = &[
    "ar", "ca", "de", "en", "es", "fr", "he", "id", "it", "ja", "ka", "ko", "ms", "nl", "pl", "pt",
    "ro", "ru", "sv", "th", "tr", "zh",
];

pub fn preferred_locale(raw: &str) -> Result<String, ValidationError> {
    if !LOCALES.contains(&raw) {
        return Err(ValidationError::new(
            "invalid_locale",
            format!(
                "preferred_locale must be one of {}; got `{raw}`",
                LOCALES.join(", ")
            ),
        ));
    }
    Ok(raw.to_owned())
}

pub fn email(raw: &str) -> Result<String, ValidationError> {
    let email = bounded_text("email", raw, EMAIL_LENGTH_MAX)?;
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !valid {
        return Err(ValidationError::new(
            "invalid_email",
            format!("`{raw}` is not an email address"),
        ));
    }
    Ok(email)
}

pub fn name(raw: &str) -> Result<String, ValidationError> {
    let name = bounded_text("name", raw, NAME_LENGTH_MAX)?;
    if name.trim().is_empty() {
        return Err(ValidationError::new(
            "invalid_name",
            "name must not be empty",
        ));
    }
    Ok(name)
}

pub fn phone_number(raw: &str) -> Result<String, ValidationError> {
    let phone = bounded_text("phone_number", raw, PHONE_LENGTH_MAX)?;
    if phone.is_empty()
        || !phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(ValidationError::new(
            "invalid_phone_number",
            "phone_number may hold only digits, spaces and + - ( ) .",
        ));
    }
    Ok(phone)
}

/// Metadata: at most 50 keys; values are strings, finite numbers or booleans.
pub fn metadata(raw: Metadata) -> Result<Metadata, ValidationError> {
    if raw.len() > METADATA_KEYS_MAX {
        return Err(ValidationError::new(
            "invalid_metadata",
            format!("metadata may have at most {METADATA_KEYS_MAX} keys"),
        ));
    }
    for (key, value) in &raw {
        if key.is_empty() || key.len() > METADATA_KEY_LENGTH_MAX {
            return Err(ValidationError::new(
                "invalid_metadata",
                format!("metadata keys must be 1 to {METADATA_KEY_LENGTH_MAX} bytes"),
            ));
        }
        let valid = match value {
            serde_json::Value::String(s) => s.len() <= METADATA_VALUE_LENGTH_MAX,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => true,
            _ => false,
        };
        if !valid {
            return Err(ValidationError::new(
                "invalid_metadata",
                format!("metadata `{key}` must be a string of at most {METADATA_VALUE_LENGTH_MAX} bytes, a number or a boolean"),
            ));
        }
    }
    let json_length = serde_json::to_string(&raw)
        .expect("metadata serialises")
        .len();
    if json_length > METADATA_JSON_LENGTH_MAX {
        return Err(ValidationError::new(
            "invalid_metadata",
            format!("metadata must be at most {METADATA_JSON_LENGTH_MAX} bytes as JSON; got {json_length}"),
        ));
    }
    Ok(raw)
}

/// Most saved payment methods a customer orders.
pub const PAYMENT_METHODS_MAX: usize = 10;

/// A gateway id (`cus_...`, `pm_...`): 1 to 255 ASCII letters, digits and underscores.
pub fn gateway_id(field: &str, raw: &str) -> Result<String, ValidationError> {
    if raw.is_empty()
        || raw.len() > 255
        || !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ValidationError::new(
            "invalid_payment_methods",
            format!("{field} must be 1 to 255 ASCII letters, digits or underscores"),
        ));
    }
    Ok(raw.to_owned())
}

/// The ordered payment methods: at most [`PAYMENT_METHODS_MAX`], each id once, priorities from
/// 1 and unique.
pub fn payment_methods(
    raw: Vec<SavedPaymentMethod>,
) -> Result<Vec<SavedPaymentMethod>, ValidationError> {
    let invalid = |message: String| ValidationError::new("invalid_payment_methods", message);
    if raw.len() > PAYMENT_METHODS_MAX {
        return Err(invalid(format!(
            "payment_methods may have at most {PAYMENT_METHODS_MAX} entries"
        )));
    }
    let mut seen_ids = std::collections::BTreeSet::new();
    let mut seen_priorities = std::collections::BTreeSet::new();
    for method in &raw {
        gateway_id(
            "payment_methods[].payment_method_id",
            &method.payment_method_id,
        )?;
        if method.priority == 0 || method.priority > 1000 {
            return Err(invalid(
                "payment_methods[].priority must be 1 to 1000".into(),
            ));
        }
        if !seen_ids.insert(&method.payment_method_id) {
            return Err(invalid(format!(
                "payment method {} is listed twice",
                method.payment_method_id
            )));
        }
        if !seen_priorities.insert(method.priority) {
            return Err(invalid(format!(
                "priority {} is given twice",
                method.priority
            )));
        }
    }
    Ok(raw)
}

/// The customer with the patch's fields changed and the others as they were.
pub fn patched(customer: &Customer, patch: &CustomerPatch) -> Customer {
    let mut next = customer.clone();
    if let Some(email) = &patch.email {
        next.email = email.clone();
    }
    if let Some(name) = &patch.name {
        next.name = name.clone();
    }
    if let Some(phone_number) = &patch.phone_number {
        next.phone_number = phone_number.clone();
    }
    if let Some(metadata) = &patch.metadata {
        next.metadata = metadata.clone();
    }
    if let Some(locale) = &patch.preferred_locale {
        next.preferred_locale = locale.clone();
    }
    if let Some(gateway_customer_id) = &patch.gateway_customer_id {
        next.gateway_customer_id = gateway_customer_id.clone();
    }
    if let Some(methods) = &patch.payment_methods {
        next.payment_methods = methods.clone();
    }
    if let Some(auto_pay) = patch.auto_pay {
        next.auto_pay = auto_pay;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_one_at_and_no_spaces() {
        assert!(email("a@b.co").is_ok());
        for bad in [
            "",
            "ab",
            "a@",
            "@b",
            "a b@c",
            "a@b@c",
            &format!("{}@x.io", "a".repeat(260)),
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_rejects_nested_values_and_too_many_keys() {
        let nested: Metadata = serde_json::from_str(r#"{"a": {"b": 1}}"#).unwrap();
        assert!(metadata(nested).is_err());
        let flat: Metadata =
            serde_json::from_str(r#"{"plan": "pro", "seats": 3, "vip": true}"#).unwrap();
        assert!(metadata(flat).is_ok());
        let many: Metadata = (0..51)
            .map(|i| (format!("k{i}"), serde_json::Value::Bool(true)))
            .collect();
        assert!(metadata(many).is_err());
    }

    #[test]
    fn metadata_is_bounded_as_a_whole_including_json_escapes() {
        let values = |value: &str, keys: usize| -> Metadata {
            (0..keys)
                .map(|i| (format!("k{i}"), serde_json::Value::from(value)))
                .collect()
        };
        // 15 values of 500 bytes fit; 17 do not; 3 of 500 control characters (6 bytes each as
        // JSON) do not either.
        assert!(metadata(values(&"v".repeat(500), 15)).is_ok());
        assert!(metadata(values(&"v".repeat(500), 17)).is_err());
        assert!(metadata(values(&"\u{1}".repeat(500), 3)).is_err());
    }
}
