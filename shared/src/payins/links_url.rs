//! A link's URL, `<PUBLIC_BASE_URL>/pay/<token>`, and its token: the business and link ids with
//! an HMAC-SHA256 of them (keyed by `PORTAL_SIGNING_KEY`), so that a token cannot be made up
//! or altered, and the page finds the link with one read. The one place that knows the token's
//! form: swap it here for the portal's signer when it lands.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::links::TopUpLink;
use crate::kernel::{BusinessId, TopUpLinkId};

/// Bytes of the MAC kept in a token (128 bits).
const MAC_BYTES: usize = 16;
/// What the MAC of a link's token signs, so that no other signed text of the same key is one.
const PURPOSE: &str = "top-up-link";

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn mac(key: &[u8], business_id: &BusinessId, link_id: &TopUpLinkId) -> String {
    let signed = format!("{PURPOSE}|{business_id}|{link_id}");
    let full = hmac_sha256(key, signed.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&full[..MAC_BYTES])
}

/// The token of a link: `<link id>.<business id>.<mac>` (URL-safe as it is).
pub fn token(key: &[u8], business_id: &BusinessId, link_id: &TopUpLinkId) -> String {
    format!("{link_id}.{business_id}.{}", mac(key, business_id, link_id))
}

/// The business and link a token names, if its MAC is right (compared in constant time).
pub fn verify(key: &[u8], token: &str) -> Option<(BusinessId, TopUpLinkId)> {
    let mut parts = token.split('.');
    let (link, business, given) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let link_id = TopUpLinkId::parse(link).ok()?;
    let business_id = BusinessId::parse(business).ok()?;
    let expected = mac(key, &business_id, &link_id);
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    same.then_some((business_id, link_id))
}

/// The page that pays `link`: `<base>/pay/<token>`.
pub fn link_url(base: &str, key: &[u8], link: &TopUpLink) -> String {
    format!(
        "{}/pay/{}",
        base.trim_end_matches('/'),
        token(key, &link.business_id, &link.id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_token_names_its_link_and_any_change_or_another_key_is_refused() {
        let business = BusinessId::generate();
        let link = TopUpLinkId::generate();
        let made = token(b"key", &business, &link);
        assert_eq!(
            verify(b"key", &made),
            Some((business.clone(), link.clone()))
        );
        assert_eq!(verify(b"other key", &made), None);
        let other = BusinessId::generate();
        let forged = made.replace(business.as_str(), other.as_str());
        assert_eq!(verify(b"key", &forged), None);
        assert_eq!(verify(b"key", &format!("{made}x")), None);
        assert_eq!(verify(b"key", link.as_str()), None);
        assert_eq!(verify(b"key", ""), None);
    }
}
