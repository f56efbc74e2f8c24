//! The customer portal's records: a session's link and claims, a business's portal settings, and
//! an email to send.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::access::model::Actor;
use crate::kernel::{BusinessId, Currency, CustomerId, Timestamp, ValidationError};
use crate::payins::limits::TopUpLimits;

/// The longest a portal link is valid: Dodo's 24 hours.
pub const SESSION_TTL_SECONDS_MAX: u64 = 86_400;
/// The shortest a business may make it.
pub const SESSION_TTL_SECONDS_MIN: u64 = 60;
/// Currencies with top-up limits of their own, at most (Dodo knows about 150).
pub const LIMIT_CURRENCIES_MAX: usize = 200;

/// A portal session's magic link (`POST /customers/{id}/customer-portal/session`). Its `Debug`
/// never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct PortalLink {
    /// `<PUBLIC_BASE_URL>/portal/session?token=<token>`.
    pub link: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for PortalLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.link.split_once("token=") {
            Some((before, _)) => format!("{before}token=[redacted]"),
            None => "[redacted]".to_owned(),
        };
        f.debug_struct("PortalLink")
            .field("link", &shown)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a valid portal token says: whose portal it opens, until when, and its back button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalClaims {
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
    pub return_url: Option<String>,
    pub expires_at: Timestamp,
}

/// A business's portal settings (`GET/PATCH /customer-portal/settings`). A business that never
/// set them has the defaults: 24-hour links and [`TopUpLimits::default_for`] every currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalSettings {
    /// How long a new portal link is valid, in seconds (60 to 86,400).
    pub session_ttl_seconds: u64,
    /// Limits of the currencies the business set; the others have their defaults.
    pub top_up_limits: BTreeMap<Currency, TopUpLimits>,
    /// 0 for the defaults (never stored); each stored change adds one. A change is written on
    /// condition that the stored settings are still at the version it read.
    pub version: u64,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_by: Option<Actor>,
}

impl Default for PortalSettings {
    fn default() -> PortalSettings {
        PortalSettings {
            session_ttl_seconds: SESSION_TTL_SECONDS_MAX,
            top_up_limits: BTreeMap::new(),
            version: 0,
            updated_at: None,
            updated_by: None,
        }
    }
}

impl PortalSettings {
    /// The limits of `currency`: the business's, or the currency's defaults.
    pub fn limits_for(&self, currency: Currency) -> TopUpLimits {
        self.top_up_limits
            .get(&currency)
            .copied()
            .unwrap_or_else(|| TopUpLimits::default_for(currency))
    }
}

/// A change of the portal settings: each field given replaces the stored one; a currency's
/// limits set to `None` go back to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortalSettingsPatch {
    pub session_ttl_seconds: Option<u64>,
    pub top_up_limits: BTreeMap<Currency, Option<TopUpLimits>>,
}

impl PortalSettingsPatch {
    /// Checks every field: the lifetime within 60..=86,400 s, each currency's limits valid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(ttl) = self.session_ttl_seconds {
            if !(SESSION_TTL_SECONDS_MIN..=SESSION_TTL_SECONDS_MAX).contains(&ttl) {
                return Err(ValidationError::new(
                    "invalid_session_ttl",
                    format!("session_ttl_seconds must be from {SESSION_TTL_SECONDS_MIN} to {SESSION_TTL_SECONDS_MAX}"),
                ));
            }
        }
        if self.top_up_limits.len() > LIMIT_CURRENCIES_MAX {
            return Err(ValidationError::new(
                "invalid_top_up_limits",
                format!("top_up_limits may name at most {LIMIT_CURRENCIES_MAX} currencies"),
            ));
        }
        for (currency, limits) in &self.top_up_limits {
            if let Some(limits) = limits {
                limits.validate().map_err(|e| {
                    ValidationError::new(e.code, format!("{currency}: {}", e.message))
                })?;
            }
        }
        Ok(())
    }

    /// `settings` with the patch applied (not yet stored: the version moves on when it is).
    pub fn apply(&self, settings: &PortalSettings) -> PortalSettings {
        let mut next = settings.clone();
        if let Some(ttl) = self.session_ttl_seconds {
            next.session_ttl_seconds = ttl;
        }
        for (currency, limits) in &self.top_up_limits {
            match limits {
                Some(limits) => next.top_up_limits.insert(*currency, *limits),
                None => next.top_up_limits.remove(currency),
            };
        }
        next
    }
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn a_links_debug_never_shows_its_token() {
        let link = PortalLink {
            link: "https://w.example.com/portal/session?token=secret.mac".into(),
            expires_at: Timestamp::from_unix_ms(0),
        };
        let shown = format!("{link:?}");
        assert!(
            !shown.contains("secret") && shown.contains("token=[redacted]"),
            "{shown}"
        );
    }

    #[test]
    fn unset_currencies_have_their_default_limits() {
        let mut settings = PortalSettings::default();
        assert_eq!(settings.session_ttl_seconds, 86_400);
        assert_eq!(settings.limits_for(usd()), TopUpLimits::default_for(usd()));
        let own = TopUpLimits {
            min_amount: 500,
            max_amount: 5_000,
            max_balance: 20_000,
        };
        settings.top_up_limits.insert(usd(), own);
        assert_eq!(settings.limits_for(usd()), own);
        let inr = Currency::parse("INR").unwrap();
        assert_eq!(settings.limits_for(inr), TopUpLimits::default_for(inr));
    }

    #[test]
    fn a_patch_outside_the_bounds_is_refused() {
        let ttl = |s| PortalSettingsPatch {
            session_ttl_seconds: Some(s),
            ..Default::default()
        };
        assert_eq!(ttl(59).validate().unwrap_err().code, "invalid_session_ttl");
        assert_eq!(
            ttl(86_401).validate().unwrap_err().code,
            "invalid_session_ttl"
        );
        assert!(ttl(60).validate().is_ok() && ttl(86_400).validate().is_ok());
        let limits = |min, max, balance| PortalSettingsPatch {
            top_up_limits: BTreeMap::from([(
                usd(),
                Some(TopUpLimits {
                    min_amount: min,
                    max_amount: max,
                    max_balance: balance,
                }),
            )]),
            ..Default::default()
        };
        for (min, max, balance) in [(0, 10, 10), (10, 5, 20), (1, 10, 5), (1, 2, i64::MAX)] {
            assert_eq!(
                limits(min, max, balance).validate().unwrap_err().code,
                "invalid_top_up_limits",
                "{min} {max} {balance}"
            );
        }
        assert!(limits(1, 10, 10).validate().is_ok());
    }

    #[test]
    fn a_patch_replaces_what_it_names_and_null_restores_a_default() {
        let own = TopUpLimits {
            min_amount: 500,
            max_amount: 5_000,
            max_balance: 20_000,
        };
        let set = PortalSettingsPatch {
            session_ttl_seconds: Some(600),
            top_up_limits: BTreeMap::from([(usd(), Some(own))]),
        }
        .apply(&PortalSettings::default());
        assert_eq!(set.session_ttl_seconds, 600);
        assert_eq!(set.limits_for(usd()), own);
        let cleared = PortalSettingsPatch {
            session_ttl_seconds: None,
            top_up_limits: BTreeMap::from([(usd(), None)]),
        }
        .apply(&set);
        assert_eq!(cleared.session_ttl_seconds, 600);
        assert_eq!(cleared.limits_for(usd()), TopUpLimits::default_for(usd()));
    }
}
