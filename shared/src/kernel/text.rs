//! Free text from callers: bounded in length, no control characters.

use super::codes::ValidationError;

pub const REASON_LENGTH_MAX: usize = 500;
pub const REFERENCE_LENGTH_MAX: usize = 255;

/// No control characters.
pub fn printable(s: &str) -> bool {
    s.chars().all(|c| !c.is_control())
}

/// Free text bounded in length with no control characters (reasons, names, references).
pub fn bounded_text(field: &str, raw: &str, length_max: usize) -> Result<String, ValidationError> {
    if raw.len() > length_max {
        return Err(ValidationError::new(
            "field_too_long",
            format!(
                "`{field}` must be at most {length_max} bytes; got {}",
                raw.len()
            ),
        ));
    }
    if !printable(raw) {
        return Err(ValidationError::new(
            "invalid_characters",
            format!("`{field}` must not contain control characters"),
        ));
    }
    Ok(raw.to_owned())
}

/// Why a balance changed, in the caller's words.
pub fn reason(raw: &str) -> Result<String, ValidationError> {
    bounded_text("reason", raw, REASON_LENGTH_MAX)
}

/// The caller's id of the object a change refers to (a payment, refund, invoice, payout).
pub fn reference_object_id(raw: &str) -> Result<String, ValidationError> {
    bounded_text("reference_object_id", raw, REFERENCE_LENGTH_MAX)
}
