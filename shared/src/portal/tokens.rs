//! Signed tokens of the customer portal and of top-up links: `<payload>.<mac>`, both base64url
//! without padding. The payload is compact JSON (no secret in it: ids, times, the return URL, a
//! random nonce); the MAC is HMAC-SHA256 of `"<purpose>.<payload>"` with `PORTAL_SIGNING_KEY`,
//! so a token of one purpose (a portal session, a link) is never accepted as the other, and any
//! change of one byte fails the check. A failed check says nothing about why (bad, tampered,
//! expired, other key): callers answer one error.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::kernel::{BusinessId, CustomerId, ValidationError};

/// The shortest signing key accepted, in bytes (HMAC-SHA256's block is 64; its output 32).
pub const SIGNING_KEY_LENGTH_MIN: usize = 32;
/// The longest token read (a portal token with a 2,048-byte return URL is about 3 KB); longer
/// input is refused before any decoding.
pub const TOKEN_LENGTH_MAX: usize = 4_096;

const PORTAL_PURPOSE: &str = "cw.portal.v1";
const LINK_PURPOSE: &str = "cw.link.v1";

/// The key that signs tokens, and the earlier keys still accepted while a rotation runs out.
/// Its `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The first signs; every one verifies.
    keys: Vec<Vec<u8>>,
}

/// Keys accepted at once, at most (the current one and earlier ones).
pub const SIGNING_KEYS_MAX: usize = 3;

impl SigningKey {
    /// `PORTAL_SIGNING_KEY`'s text: a key of at least [`SIGNING_KEY_LENGTH_MIN`] characters, or
    /// up to three separated by commas (rotation: `new,old`; the first signs, each verifies, so
    /// links made with the old key keep working until they expire).
    pub fn parse(raw: &str) -> Result<SigningKey, ValidationError> {
        let keys: Vec<Vec<u8>> = raw
            .split(',')
            .map(|k| k.trim().as_bytes().to_vec())
            .collect();
        if keys.len() > SIGNING_KEYS_MAX || keys.iter().any(|k| k.len() < SIGNING_KEY_LENGTH_MIN) {
            return Err(ValidationError::new(
                "invalid_config",
                format!("PORTAL_SIGNING_KEY must be a key of at least {SIGNING_KEY_LENGTH_MIN} characters (e.g. `openssl rand -hex 32`), or up to {SIGNING_KEYS_MAX} separated by commas, the newest first"),
            ));
        }
        Ok(SigningKey { keys })
    }

    fn mac_with(key: &[u8], purpose: &str, payload: &str) -> [u8; 32] {
        let mut mac = hmac_sha256::HMAC::new(key);
        mac.update(purpose.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.finalize()
    }

    fn mac(&self, purpose: &str, payload: &str) -> [u8; 32] {
        SigningKey::mac_with(&self.keys[0], purpose, payload)
    }

    fn sign(&self, purpose: &str, payload: &impl Serialize) -> String {
        let json = serde_json::to_vec(payload).expect("token payloads serialise");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = URL_SAFE_NO_PAD.encode(self.mac(purpose, &payload));
        format!("{payload}.{mac}")
    }

    /// The payload of a token of `purpose` whose MAC this key made; `None` for anything else.
    fn verify<T: for<'de> Deserialize<'de>>(&self, purpose: &str, token: &str) -> Option<T> {
        if token.len() > TOKEN_LENGTH_MAX {
            return None;
        }
        let (payload, mac) = token.split_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        // Every key is tried (no early exit): the time does not tell which one matched.
        let matched = self.keys.iter().fold(false, |matched, key| {
            constant_time_eq(&mac, &SigningKey::mac_with(key, purpose, payload)) | matched
        });
        if !matched {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a portal token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalToken {
    #[serde(rename = "b")]
    pub business_id: BusinessId,
    #[serde(rename = "c")]
    pub customer_id: CustomerId,
    /// Issued at (unix ms): a revocation ends the tokens issued at or before it.
    #[serde(rename = "i")]
    pub issued_at_ms: u64,
    /// Valid until (unix ms, excluded).
    #[serde(rename = "e")]
    pub expires_at_ms: u64,
    /// The portal's back button.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// 16 random bytes, hex: no two tokens are alike.
    #[serde(rename = "n")]
    pub nonce: String,
}

impl PortalToken {
    /// A token's content with a fresh nonce.
    pub fn new(
        business_id: BusinessId,
        customer_id: CustomerId,
        issued_at_ms: u64,
        expires_at_ms: u64,
        return_url: Option<String>,
    ) -> PortalToken {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        PortalToken {
            business_id,
            customer_id,
            issued_at_ms,
            expires_at_ms,
            return_url,
            nonce: nonce.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Signs a portal token.
pub fn sign_portal_token(key: &SigningKey, token: &PortalToken) -> String {
    key.sign(PORTAL_PURPOSE, token)
}

/// The content of a portal token signed with `key` and still valid at `now_ms`; `None` when it
/// is malformed, tampered with, signed with another key or expired (revocation is the store's
/// question: `Service::open_portal`).
pub fn verify_portal_token(key: &SigningKey, token: &str, now_ms: u64) -> Option<PortalToken> {
    let token: PortalToken = key.verify(PORTAL_PURPOSE, token)?;
    (now_ms < token.expires_at_ms).then_some(token)
}

#[derive(Serialize, Deserialize)]
struct LinkToken {
    #[serde(rename = "b")]
    business_id: BusinessId,
    #[serde(rename = "l")]
    link_id: String,
}

/// The token of a top-up link's page (`/pay/<token>`): the business and the link's id, signed.
/// It does not expire by itself: the link's own status and expiry decide.
pub fn sign_link_token(key: &SigningKey, business_id: &BusinessId, link_id: &str) -> String {
    key.sign(
        LINK_PURPOSE,
        &LinkToken {
            business_id: business_id.clone(),
            link_id: link_id.to_owned(),
        },
    )
}

/// The business and link id of a link token signed with `key`; `None` for anything else
/// (a portal token included).
pub fn verify_link_token(key: &SigningKey, token: &str) -> Option<(BusinessId, String)> {
    let token: LinkToken = key.verify(LINK_PURPOSE, token)?;
    Some((token.business_id, token.link_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: char) -> SigningKey {
        SigningKey::parse(&byte.to_string().repeat(40)).unwrap()
    }

    fn token(expires_at_ms: u64) -> PortalToken {
        PortalToken::new(
            BusinessId::parse("bus_1").unwrap(),
            CustomerId::parse("cus_1").unwrap(),
            1_000,
            expires_at_ms,
            Some("https://shop.example.com/account".into()),
        )
    }

    #[test]
    fn hmac_sha256_is_rfc_4231s() {
        // RFC 4231, test case 2.
        let mac = hmac_sha256::HMAC::mac(b"what do ya want for nothing?", b"Jefe");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_valid_token_gives_its_claims_back() {
        let t = token(5_000);
        let signed = sign_portal_token(&key('a'), &t);
        assert_eq!(verify_portal_token(&key('a'), &signed, 4_999), Some(t));
        assert!(signed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let signed = sign_portal_token(&key('a'), &token(5_000));
        assert_eq!(verify_portal_token(&key('a'), &signed, 5_000), None);
        assert_eq!(verify_portal_token(&key('a'), &signed, 9_000), None);
    }

    #[test]
    fn a_token_of_another_key_is_refused() {
        let signed = sign_portal_token(&key('a'), &token(5_000));
        assert_eq!(verify_portal_token(&key('b'), &signed, 1_000), None);
    }

    #[test]
    fn a_tampered_token_is_refused_whatever_byte_changed() {
        let signed = sign_portal_token(&key('a'), &token(5_000));
        for i in 0..signed.len() {
            let mut bytes = signed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != signed {
                assert_eq!(
                    verify_portal_token(&key('a'), &tampered, 1_000),
                    None,
                    "{i}"
                );
            }
        }
        // A payload re-signed as another customer without the key: the MAC no longer fits.
        let (_, mac) = signed.split_once('.').unwrap();
        let mut other = token(5_000);
        other.customer_id = CustomerId::parse("cus_2").unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        let forged = format!("{forged_payload}.{mac}");
        assert_eq!(verify_portal_token(&key('a'), &forged, 1_000), None);
        for junk in ["", ".", "abc", "a.b.c", &"x".repeat(TOKEN_LENGTH_MAX + 1)] {
            assert_eq!(verify_portal_token(&key('a'), junk, 1_000), None);
        }
    }

    #[test]
    fn link_and_portal_tokens_are_not_interchangeable() {
        let business = BusinessId::parse("bus_1").unwrap();
        let link = sign_link_token(&key('a'), &business, "tul_abc");
        assert_eq!(
            verify_link_token(&key('a'), &link),
            Some((business.clone(), "tul_abc".to_owned()))
        );
        assert_eq!(verify_link_token(&key('b'), &link), None);
        assert_eq!(verify_portal_token(&key('a'), &link, 0), None);
        let portal = sign_portal_token(&key('a'), &token(5_000));
        assert_eq!(verify_link_token(&key('a'), &portal), None);
    }

    #[test]
    fn after_a_rotation_old_tokens_still_open_and_new_ones_are_signed_with_the_new_key() {
        let (old, new) = ("o".repeat(32), "n".repeat(32));
        let before = sign_portal_token(&SigningKey::parse(&old).unwrap(), &token(5_000));
        let rotating = SigningKey::parse(&format!("{new}, {old}")).unwrap();
        assert!(verify_portal_token(&rotating, &before, 1_000).is_some());
        let after = sign_portal_token(&rotating, &token(5_000));
        assert!(verify_portal_token(&SigningKey::parse(&new).unwrap(), &after, 1_000).is_some());
        assert!(verify_portal_token(&SigningKey::parse(&old).unwrap(), &after, 1_000).is_none());
        // Once the old key is dropped, its tokens open nothing.
        assert!(verify_portal_token(&SigningKey::parse(&new).unwrap(), &before, 1_000).is_none());
        let four = [&new, &old, &new, &old].map(|k| k.as_str()).join(",");
        assert!(SigningKey::parse(&four).is_err());
        assert!(SigningKey::parse(&format!("{new},short")).is_err());
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert!(SigningKey::parse("short").is_err());
        assert_eq!(format!("{:?}", key('a')), "SigningKey([redacted])");
    }
}
