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
    let mut random = [0u8; KEY_RANDOM_BYTES];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    format!("{KEY_PREFIX}{}", hex(&random))
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
