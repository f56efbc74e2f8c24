//! Identifiers and keys, each only constructible valid.

use super::codes::ValidationError;
use super::text::{bounded_text, printable, REFERENCE_LENGTH_MAX};

/// Largest millisecond a ULID can carry (48 bits).
pub const ULID_TIME_MAX_MS: u64 = (1 << 48) - 1;
/// Longest id or key accepted from a caller.
pub const ID_LENGTH_MAX: usize = 128;
/// Longest idempotency key accepted from a caller.
pub const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 255;

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("A ", $what, " id: `", $prefix, "` followed by a ULID.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> $name {
                $name::generate_at(super::clock::Timestamp::now().unix_ms)
            }

            /// A new id whose ULID carries the given millisecond, so ids sort by creation time.
            pub fn generate_at(unix_ms: u64) -> $name {
                let mut random = [0u8; 16];
                getrandom::fill(&mut random).expect("the operating system provides randomness");
                $name::from_ulid(ulid::Ulid::from_parts(unix_ms, u128::from_le_bytes(random)))
            }

            /// The smallest and the largest id created within `[from_ms, to_ms]`.
            pub fn bounds(from_ms: u64, to_ms: u64) -> ($name, $name) {
                let to_ms = to_ms.min(ULID_TIME_MAX_MS);
                (
                    $name::from_ulid(ulid::Ulid::from_parts(from_ms.min(to_ms), 0)),
                    $name::from_ulid(ulid::Ulid::from_parts(to_ms, u128::MAX)),
                )
            }

            fn from_ulid(ulid: ulid::Ulid) -> $name {
                $name(format!("{}{}", $prefix, ulid.to_string().to_lowercase()))
            }

            /// Accepts any id of the right shape; whether it exists is the store's question.
            pub fn parse(raw: &str) -> Result<$name, ValidationError> {
                let valid = raw.len() <= ID_LENGTH_MAX
                    && raw.starts_with($prefix)
                    && raw.len() > $prefix.len()
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if valid {
                    Ok($name(raw.to_owned()))
                } else {
                    Err(ValidationError::new(
                        "invalid_id",
                        format!(
                            concat!(
                                "`{}` is not a valid ",
                                $what,
                                " id (expected `",
                                $prefix,
                                "...`)"
                            ),
                            raw
                        ),
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        string_serde!($name);
    };
}

/// Serialises a validated string type as its text, and parses it back through `parse`.
macro_rules! string_serde {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<$name, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(BusinessId, "bus_", "business");
prefixed_id!(CustomerId, "cus_", "customer");
prefixed_id!(EntryId, "wle_", "ledger entry");
prefixed_id!(HoldId, "hld_", "hold");
prefixed_id!(EndpointId, "whk_", "webhook endpoint");
prefixed_id!(KeyId, "key_", "API key");
prefixed_id!(EventId, "evt_", "event");
prefixed_id!(TopUpLinkId, "tul_", "top-up link");

impl EndpointId {
    /// The id an idempotency key names: the same key of the same business gives the same id.
    pub fn derived(unix_ms: u64, seed: &str) -> EndpointId {
        EndpointId::from_ulid(ulid::Ulid::from_parts(unix_ms, seed_bits(seed)))
    }
}

impl EventId {
    /// The id of the event a stored change caused: the same change gives the same id however
    /// often its stream record is read, and ids sort by the change's time.
    pub fn derived(unix_ms: u64, seed: &str) -> EventId {
        EventId::from_ulid(ulid::Ulid::from_parts(unix_ms, seed_bits(seed)))
    }
}

fn seed_bits(seed: &str) -> u128 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(seed.as_bytes());
    u128::from_le_bytes(
        digest[..16]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

/// A fresh token that names one attempt of a change (26 characters, a ULID): the store applies
/// a change with the same token at most once.
pub fn change_token(unix_ms: u64) -> String {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    ulid::Ulid::from_parts(unix_ms, u128::from_le_bytes(random)).to_string()
}

/// An idempotency key, unique per business forever: a caller's (1 to 255 printable
/// characters, made only by [`IdempotencyKey::parse`], which is what every request's key and
/// every stored key go through), or one of the service's own ([`IdempotencyKey::internal`],
/// which only this crate can call). The two live in separate namespaces: a caller's key never
/// equals, nor is stored where, an internal key of the same text is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    text: String,
    internal: bool,
}

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<IdempotencyKey, ValidationError> {
        if raw.is_empty() || raw.len() > IDEMPOTENCY_KEY_LENGTH_MAX || !printable(raw) {
            return Err(ValidationError::new(
                "invalid_idempotency_key",
                format!("idempotency_key must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} bytes of printable characters"),
            ));
        }
        Ok(IdempotencyKey {
            text: raw.to_owned(),
            internal: false,
        })
    }

    /// A key of the service's own namespace (e.g. an auto top-up's credit), which no request
    /// can claim whatever key it sends.
    pub(crate) fn internal(text: String) -> IdempotencyKey {
        IdempotencyKey {
            text,
            internal: true,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a key of the service's own namespace.
    pub fn is_internal(&self) -> bool {
        self.internal
    }
}

string_serde!(IdempotencyKey);

/// An invoice id of the caller's billing system: 1 to 255 bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvoiceId(String);

impl InvoiceId {
    pub fn parse(raw: &str) -> Result<InvoiceId, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::new(
                "invalid_invoice_id",
                "invoice_id must not be empty",
            ));
        }
        bounded_text("invoice_id", raw, REFERENCE_LENGTH_MAX).map(InvoiceId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(InvoiceId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = CustomerId::generate();
        assert_eq!(CustomerId::parse(id.as_str()).unwrap(), id);
        assert!(id.as_str().starts_with("cus_"));
    }

    #[test]
    fn ids_sort_by_their_millisecond_and_bounds_enclose_them() {
        let (early, late) = (
            CustomerId::generate_at(1_000),
            CustomerId::generate_at(2_000),
        );
        assert!(early < late);
        let (low, high) = CustomerId::bounds(1_000, 1_999);
        assert!(low <= early && early <= high && high < late);
        let (low, high) = CustomerId::bounds(0, u64::MAX);
        assert!(low < early && late < high);
    }

    #[test]
    fn ids_of_the_wrong_shape_are_rejected() {
        for raw in [
            "",
            "cus_",
            "bus_01abc",
            "cus_../x",
            "cus_a b",
            &"cus_".repeat(40),
        ] {
            assert!(CustomerId::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn idempotency_keys_are_bounded_and_printable() {
        assert!(IdempotencyKey::parse("welcome_cus_1").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a\nb").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
    }

    #[test]
    fn an_internal_key_is_never_a_callers_key_of_the_same_text() {
        let internal = IdempotencyKey::internal("auto_top_up_tpa_1".into());
        let callers = IdempotencyKey::parse("auto_top_up_tpa_1").unwrap();
        assert_eq!(internal.as_str(), callers.as_str());
        assert_ne!(internal, callers);
        assert!(internal.is_internal() && !callers.is_internal());
        let read: IdempotencyKey = serde_json::from_str("\"auto_top_up_tpa_1\"").unwrap();
        assert!(
            !read.is_internal(),
            "a key read from a request is a caller's"
        );
    }
}
