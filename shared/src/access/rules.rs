//! API keys: generated at random, shown once, stored only as a SHA-256 hash.

use sha2::{Digest, Sha256};

/// Prefix of every API key, so a leaked key is recognisable in logs and scanners.
pub const KEY_PREFIX: &str = "cw_";
/// Random bytes in a key (256 bits).
const KEY_RANDOM_BYTES: usize = 32;
/// Longest bearer token considered; anything longer cannot be a key of ours.
pub const KEY_LENGTH_MAX: usize = 128;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random API key.
pub fn generate_key() -> String {
    format!("{KEY_PREFIX}{}", random_hex(KEY_RANDOM_BYTES))
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    hex(&random)
}

/// How often a key's `last_used_at` is written at most (not once per request).
pub const LAST_USED_EVERY_MS: u64 = 60_000;
/// Characters of a key shown to recognise it: `cw_` and 8 hex digits (32 of its 256 bits).
pub const PREFIX_LENGTH: usize = 11;
pub const KEY_NAME_MAX: usize = 100;

/// The recognisable start of a key.
pub fn prefix_of(key: &str) -> String {
    key.chars().take(PREFIX_LENGTH).collect()
}

/// A key's name: 1 to 100 printable characters, "API key" when none is given.
pub fn key_name(raw: Option<&str>) -> Result<String, crate::kernel::ValidationError> {
    let name = raw.unwrap_or("API key").trim();
    if name.is_empty() || name.len() > KEY_NAME_MAX || !crate::kernel::text::printable(name) {
        return Err(crate::kernel::ValidationError::new(
            "invalid_name",
            format!("name must be 1 to {KEY_NAME_MAX} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

/// The stored form of a key.
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_to_hex() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 64);
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
