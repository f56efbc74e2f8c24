//! Settings read once at start-up from the environment.

use crate::kernel::fx::{RateTable, DEFAULT_RATES_USD};
use crate::kernel::{Currency, ValidationError};

/// Currencies whose wallets every new customer gets, unless `ENABLED_CURRENCIES` says otherwise.
pub const DEFAULT_CURRENCIES: &str = "USD,INR";

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// DynamoDB endpoint override (DynamoDB Local); `None` on AWS.
    pub dynamodb_endpoint: Option<String>,
    pub currencies: Vec<Currency>,
    pub rates: RateTable,
    /// Where webhooks may go: loopback and private addresses (and plain http) only when
    /// `WEBHOOKS_ALLOW_PRIVATE=true`, which the local run sets.
    pub webhook_targets: crate::webhooks::model::TargetPolicy,
    /// The payment gateway of auto top-ups; `None` (no `STRIPE_SECRET_KEY`): no top-ups run.
    pub gateway: Option<GatewayConfig>,
    /// How long an instance trusts an API key it read (`API_KEY_CACHE_SECONDS`; 0: never):
    /// the bound on a revocation made through another instance (`access/cache.rs`).
    pub key_cache_ttl_ms: u64,
    /// A longer time budget per DynamoDB call than the production 5 s
    /// (`DYNAMODB_TIMEOUT_SECONDS`, 5 to 60): for DynamoDB Local on a loaded test machine only.
    pub dynamodb_timeout: Option<std::time::Duration>,
    /// The secret Stripe signs its webhooks with (`STRIPE_WEBHOOK_SECRET`, `whsec_...`; the
    /// NoEcho template parameter `StripeWebhookSecret`); `None`: every Stripe webhook is refused.
    pub stripe_webhook_secret: Option<Redacted>,

    /// The customer portal: its signing key, public address and mailer.
    pub portal: PortalConfig,
}

/// A secret that `Debug` never shows.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The customer portal's settings (`PORTAL_SIGNING_KEY`, `PUBLIC_BASE_URL`, the mailer's).
#[derive(Debug, Clone, Default)]
pub struct PortalConfig {
    /// Signs portal and top-up link tokens; `None`: no portal sessions can be made.
    pub signing_key: Option<crate::portal::tokens::SigningKey>,
    /// Where the portal's pages are served (no trailing `/`): the links start with it.
    pub public_base_url: Option<String>,
    pub mailer: MailerConfig,
}

/// Where `send_email=true` sends the portal link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MailerConfig {
    /// No mailer (`MAILER_KIND=none`): `send_email=true` is refused.
    #[default]
    None,
    /// One file per mail in this directory (`MAILBOX_DIR`; the local run's `.local/mailbox`).
    Mailbox(std::path::PathBuf),
    /// Amazon SES (`MAILER_KIND=ses`), from `MAIL_FROM`, in the function's region.
    Ses { from: String, region: String },
}

impl PortalConfig {
    /// From `PORTAL_SIGNING_KEY`, `PUBLIC_BASE_URL`, `MAILBOX_DIR` (wins when set), `MAILER_KIND`
    /// (`ses` or `none`), `MAIL_FROM` and `AWS_REGION`.
    pub fn from_env() -> Result<PortalConfig, ValidationError> {
        PortalConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`PortalConfig::from_env`], from `var` (a variable's value, if set).
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<PortalConfig, ValidationError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let invalid = |message: &str| ValidationError::new("invalid_config", message.to_owned());
        let signing_key = var("PORTAL_SIGNING_KEY")
            .map(|k| crate::portal::tokens::SigningKey::parse(&k))
            .transpose()?;
        let public_base_url = var("PUBLIC_BASE_URL")
            .map(|u| {
                let u = u.trim().trim_end_matches('/').to_owned();
                if u.starts_with("https://") || u.starts_with("http://") {
                    Ok(u)
                } else {
                    Err(invalid("PUBLIC_BASE_URL must be an http(s) URL"))
                }
            })
            .transpose()?;
        let mailer = match (var("MAILBOX_DIR"), var("MAILER_KIND").as_deref()) {
            (Some(dir), _) => MailerConfig::Mailbox(dir.into()),
            (None, Some("ses")) => MailerConfig::Ses {
                from: var("MAIL_FROM").ok_or_else(|| invalid("MAILER_KIND=ses needs MAIL_FROM"))?,
                region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            },
            (None, None | Some("none")) => MailerConfig::None,
            (None, Some(_)) => return Err(invalid("MAILER_KIND must be `ses` or `none`")),
        };
        Ok(PortalConfig {
            signing_key,
            public_base_url,
            mailer,
        })
    }
}

/// Stripe's (or localstripe's) address and secret key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct GatewayConfig {
    pub base_url: String,
    pub secret_key: String,
    /// `stripe` or `localstripe`.
    pub flavor: String,
}

impl GatewayConfig {
    /// The gateway of `secret_key`, at `STRIPE_BASE_URL` (Stripe's by default), of flavor
    /// `STRIPE_FLAVOR` (`stripe` by default).
    pub fn from_env(secret_key: String) -> GatewayConfig {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        GatewayConfig {
            base_url: var("STRIPE_BASE_URL").unwrap_or_else(|| "https://api.stripe.com".to_owned()),
            secret_key,
            flavor: var("STRIPE_FLAVOR").unwrap_or_else(|| "stripe".to_owned()),
        }
    }
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("base_url", &self.base_url)
            .field("secret_key", &"[redacted]")
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ValidationError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut config = Config::build(
            var("TABLE_NAME").unwrap_or_else(|| "customer-wallets".to_owned()),
            var("DYNAMODB_ENDPOINT"),
            &var("ENABLED_CURRENCIES").unwrap_or_else(|| DEFAULT_CURRENCIES.to_owned()),
            var("FX_RATES_USD").as_deref(),
        )?;
        config.webhook_targets.allow_private =
            var("WEBHOOKS_ALLOW_PRIVATE").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        // On AWS the key comes from Secrets Manager instead (`adapters::secrets`, STRIPE_SECRET_ID).
        config.gateway = var("STRIPE_SECRET_KEY").map(GatewayConfig::from_env);
        config.stripe_webhook_secret = var("STRIPE_WEBHOOK_SECRET").map(Redacted);
        config.portal = PortalConfig::from_env()?;
        if let Some(seconds) = var("DYNAMODB_TIMEOUT_SECONDS") {
            let seconds = seconds
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (5..=60).contains(s))
                .ok_or_else(|| {
                    ValidationError::new(
                        "invalid_config",
                        "DYNAMODB_TIMEOUT_SECONDS must be a whole number of seconds from 5 to 60",
                    )
                })?;
            config.dynamodb_timeout = Some(std::time::Duration::from_secs(seconds));
        }
        if let Some(seconds) = var("API_KEY_CACHE_SECONDS") {
            config.key_cache_ttl_ms = seconds
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s <= 300)
                .ok_or_else(|| {
                    ValidationError::new(
                        "invalid_config",
                        "API_KEY_CACHE_SECONDS must be a whole number of seconds from 0 to 300",
                    )
                })?
                * 1_000;
        }
        Ok(config)
    }

    pub fn build(
        table_name: String,
        dynamodb_endpoint: Option<String>,
        currencies: &str,
        rates: Option<&str>,
    ) -> Result<Config, ValidationError> {
        let mut currencies = currencies
            .split(',')
            .map(|c| Currency::parse(c.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        currencies.sort();
        currencies.dedup();
        if currencies.is_empty() {
            return Err(ValidationError::new(
                "invalid_config",
                "ENABLED_CURRENCIES names no currency",
            ));
        }
        let mut table = RateTable::parse(DEFAULT_RATES_USD)?;
        if let Some(rates) = rates {
            table = RateTable::parse(&format!("{DEFAULT_RATES_USD},{rates}"))?;
        }
        if let Some(missing) = currencies.iter().find(|c| !table.has(**c)) {
            return Err(ValidationError::new(
                "invalid_config",
                format!("no USD rate for enabled currency {missing}; add it to FX_RATES_USD"),
            ));
        }
        Ok(Config {
            table_name,
            dynamodb_endpoint,
            currencies,
            rates: table,
            webhook_targets: Default::default(),
            gateway: None,
            key_cache_ttl_ms: crate::access::cache::KEY_CACHE_TTL_MS_DEFAULT,
            dynamodb_timeout: None,
            stripe_webhook_secret: None,
            portal: PortalConfig::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portal(pairs: &[(&str, &str)]) -> Result<PortalConfig, ValidationError> {
        PortalConfig::from_vars(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_portal_reads_its_key_base_url_and_mailer() {
        let none = portal(&[]).unwrap();
        assert!(none.signing_key.is_none() && none.public_base_url.is_none());
        assert_eq!(none.mailer, MailerConfig::None);
        let local = portal(&[
            ("PORTAL_SIGNING_KEY", &"k".repeat(32)),
            ("PUBLIC_BASE_URL", "http://127.0.0.1:9000/"),
            ("MAILBOX_DIR", "/tmp/mailbox"),
            ("MAILER_KIND", "ses"),
        ])
        .unwrap();
        assert!(local.signing_key.is_some());
        assert_eq!(
            local.public_base_url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(local.mailer, MailerConfig::Mailbox("/tmp/mailbox".into()));
        let ses = portal(&[
            ("MAILER_KIND", "ses"),
            ("MAIL_FROM", "wallet@example.com"),
            ("AWS_REGION", "eu-west-1"),
        ])
        .unwrap();
        assert_eq!(
            ses.mailer,
            MailerConfig::Ses {
                from: "wallet@example.com".into(),
                region: "eu-west-1".into()
            }
        );
        for bad in [
            &[("PORTAL_SIGNING_KEY", "short")][..],
            &[("PUBLIC_BASE_URL", "example.com")][..],
            &[("MAILER_KIND", "ses")][..],
            &[("MAILER_KIND", "smtp")][..],
        ] {
            assert_eq!(portal(bad).unwrap_err().code, "invalid_config", "{bad:?}");
        }
    }
}
