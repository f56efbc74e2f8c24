//! Stripe.js for the card form: where it is loaded from (`STRIPE_JS_URL`, by default Stripe's
//! own `https://js.stripe.com/v3/`; locally localstripe's fake at
//! `http://127.0.0.1:<port>/js.stripe.com/v3/`), the publishable key
//! (`STRIPE_PUBLISHABLE_KEY`), and the portal's Content-Security-Policy: the dashboard's, plus
//! only Stripe (its script, its frames, its API).

use std::sync::LazyLock;

/// Stripe's own Stripe.js.
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";
/// Where Stripe.js sends the card (the real Stripe; localstripe answers at its own origin).
pub const STRIPE_API_ORIGIN: &str = "https://api.stripe.com";
/// The frames of Stripe's 3-D Secure, beside the Stripe.js origin's.
const STRIPE_HOOKS_ORIGIN: &str = "https://hooks.stripe.com";

/// Where Stripe.js comes from and the key it runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeJs {
    pub url: String,
    pub publishable_key: String,
}

/// Read once per process from the environment.
pub static STRIPE_JS: LazyLock<StripeJs> = LazyLock::new(|| {
    StripeJs::new(
        std::env::var("STRIPE_JS_URL").ok().as_deref(),
        std::env::var("STRIPE_PUBLISHABLE_KEY").ok().as_deref(),
    )
});

impl StripeJs {
    /// `url` (an http(s) URL; anything else falls back to Stripe's) and the key.
    pub fn new(url: Option<&str>, publishable_key: Option<&str>) -> StripeJs {
        let url = url
            .map(str::trim)
            .filter(|u| url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "https" | "http")))
            .unwrap_or(DEFAULT_STRIPE_JS_URL);
        StripeJs {
            url: url.to_owned(),
            publishable_key: publishable_key.unwrap_or("").trim().to_owned(),
        }
    }

    /// The origin of Stripe.js (`https://js.stripe.com`, `http://127.0.0.1:8824`).
    pub fn origin(&self) -> String {
        url::Url::parse(&self.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| "https://js.stripe.com".to_owned())
    }

    /// Whether this is Stripe's own Stripe.js (not a local fake).
    fn is_stripe(&self) -> bool {
        self.origin() == "https://js.stripe.com"
    }

    /// The portal's policy: the dashboard's, with the Stripe.js origin added to `script-src`,
    /// `frame-src` and `connect-src`, and Stripe's API to `connect-src` (with Stripe's own
    /// Stripe.js, its 3-D Secure frames too). Nothing else: no inline script or style.
    pub fn content_security_policy(&self) -> String {
        let origin = self.origin();
        let frames = if self.is_stripe() {
            format!("{origin} {STRIPE_HOOKS_ORIGIN}")
        } else {
            origin.clone()
        };
        let connect = if self.is_stripe() {
            format!("'self' {origin} {STRIPE_API_ORIGIN}")
        } else {
            format!("'self' {origin}")
        };
        format!(
            "default-src 'self'; script-src 'self' {origin}; style-src 'self'; \
img-src 'self' data:; connect-src {connect}; frame-src {frames}; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_adds_only_stripe_to_the_dashboards() {
        let stripe = StripeJs::new(None, Some("pk_test_1"));
        assert_eq!(stripe.url, DEFAULT_STRIPE_JS_URL);
        let csp = stripe.content_security_policy();
        assert!(
            csp.contains("script-src 'self' https://js.stripe.com;"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"),
            "{csp}"
        );
        assert!(
            csp.contains("frame-src https://js.stripe.com https://hooks.stripe.com;"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe") && csp.contains("frame-ancestors 'none'"));

        let local = StripeJs::new(Some("http://127.0.0.1:8824/js.stripe.com/v3/"), None);
        let csp = local.content_security_policy();
        assert!(
            csp.contains("script-src 'self' http://127.0.0.1:8824;"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:8824;"),
            "{csp}"
        );
        assert!(csp.contains("frame-src http://127.0.0.1:8824;"), "{csp}");
        assert!(!csp.contains("stripe.com"), "{csp}");
        // Not a URL, or not http(s): Stripe's own.
        assert_eq!(
            StripeJs::new(Some("javascript:alert(1)"), None).url,
            DEFAULT_STRIPE_JS_URL
        );
    }
}
