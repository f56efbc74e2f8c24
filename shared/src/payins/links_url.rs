//! A link's URL, `<PUBLIC_BASE_URL>/pay/<token>`: the token is the portal's link token
//! (`portal::tokens::sign_link_token`, HMAC-SHA256 with `PORTAL_SIGNING_KEY`), naming the business
//! and the link, so that it cannot be made up or altered and the page finds the link with one read.

use super::links::TopUpLink;
use crate::kernel::{BusinessId, TopUpLinkId};
use crate::portal::tokens::{sign_link_token, verify_link_token, SigningKey};

/// The business and link a token names, if it is a link token of `key`.
pub fn verify(key: &SigningKey, token: &str) -> Option<(BusinessId, TopUpLinkId)> {
    let (business_id, link_id) = verify_link_token(key, token)?;
    Some((business_id, TopUpLinkId::parse(&link_id).ok()?))
}

/// The page that pays `link`: `<base>/pay/<token>`.
pub fn link_url(base: &str, key: &SigningKey, link: &TopUpLink) -> String {
    format!(
        "{}/pay/{}",
        base.trim_end_matches('/'),
        sign_link_token(key, &link.business_id, link.id.as_str())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_link_and_another_key_or_a_change_is_refused() {
        let key = SigningKey::parse(&"k".repeat(40)).unwrap();
        let other = SigningKey::parse(&"o".repeat(40)).unwrap();
        let (business, link) = (BusinessId::generate(), TopUpLinkId::generate());
        let made = sign_link_token(&key, &business, link.as_str());
        assert_eq!(verify(&key, &made), Some((business, link)));
        assert_eq!(verify(&other, &made), None);
        assert_eq!(verify(&key, &format!("{made}x")), None);
        assert_eq!(verify(&key, ""), None);
    }
}
