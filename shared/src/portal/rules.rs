//! The portal's input rules. Pure.

use crate::kernel::ValidationError;

/// The longest return URL accepted.
pub const RETURN_URL_LENGTH_MAX: usize = 2_048;
/// The longest rate-limit scope.
pub const SCOPE_LENGTH_MAX: usize = 200;
/// The longest rate-limit window: a week.
pub const WINDOW_SECS_MAX: u64 = 7 * 86_400;

/// A portal's back button: an absolute http(s) URL without credentials, at most 2,048 bytes.
pub fn return_url(raw: &str) -> Result<String, ValidationError> {
    let invalid = || {
        ValidationError::new(
            "invalid_return_url",
            format!("return_url must be an absolute http or https URL of at most {RETURN_URL_LENGTH_MAX} characters, without a user name or password"),
        )
    };
    if raw.len() > RETURN_URL_LENGTH_MAX {
        return Err(invalid());
    }
    let url = url::Url::parse(raw).map_err(|_| invalid())?;
    let fits = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none();
    if !fits {
        return Err(invalid());
    }
    Ok(url.to_string())
}

/// Checks a rate limit's arguments (the caller's, not a customer's: a wrong one is a bug).
pub fn attempt_scope(scope: &str, limit: u32, window_secs: u64) -> Result<(), ValidationError> {
    let fits = !scope.is_empty()
        && scope.len() <= SCOPE_LENGTH_MAX
        && scope.bytes().all(|b| b.is_ascii_graphic())
        && limit >= 1
        && (1..=WINDOW_SECS_MAX).contains(&window_secs);
    if fits {
        Ok(())
    } else {
        Err(ValidationError::new(
            "invalid_rate_limit",
            "a rate limit needs a scope of 1 to 200 printable ASCII characters, a limit of at least 1 and a window of 1 s to a week",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_are_absolute_http_without_credentials() {
        assert_eq!(
            return_url("https://shop.example.com/account?x=1").unwrap(),
            "https://shop.example.com/account?x=1"
        );
        assert!(return_url("http://127.0.0.1:3000/back").is_ok());
        for bad in [
            "",
            "/relative",
            "javascript:alert(1)",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "data:text/html,hi",
        ] {
            assert_eq!(
                return_url(bad).unwrap_err().code,
                "invalid_return_url",
                "{bad}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(RETURN_URL_LENGTH_MAX));
        assert!(return_url(&long).is_err());
    }

    #[test]
    fn rate_limit_arguments_are_bounded() {
        assert!(attempt_scope("portal:bus_1:cus_1", 5, 60).is_ok());
        assert!(attempt_scope("", 5, 60).is_err());
        assert!(attempt_scope("has space", 5, 60).is_err());
        assert!(attempt_scope("s", 0, 60).is_err());
        assert!(attempt_scope("s", 1, 0).is_err());
        assert!(attempt_scope(&"s".repeat(201), 1, 60).is_err());
    }
}
