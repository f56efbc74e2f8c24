//! Pure rules for a webhook target URL: what may be stored and what the sender may connect to.
//!
//! A webhook makes this service send requests to a URL the tenant chooses, so the URL must not
//! reach this service's own network (SSRF): loopback, private and link-local addresses (among
//! them the cloud metadata address 169.254.169.254), local host names, and plain http. Only a
//! local run (`allow_private`) lets them through, so that a receiver on 127.0.0.1 can be used.
//!
//! `check_url` judges the URL as written (a literal IP or a known local name); `forbidden_ip`
//! judges each address a host name resolves to, at send time, so that a public name pointing at
//! a private address is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::kernel::ValidationError;

/// The longest target URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Which targets are allowed. Production: https to public addresses only. A local run sets
/// `allow_private` (`WEBHOOKS_ALLOW_PRIVATE=true`): http and any address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

/// Host names that always mean this machine or its cloud's metadata service.
const LOCAL_NAMES: [&str; 2] = ["localhost", "metadata.google.internal"];

/// Parses and checks a webhook target URL.
///
/// `invalid_url`: not an absolute http(s) URL, longer than 2048 bytes, no host, or with a user
/// name or password. `url_not_allowed` (unless `policy.allow_private`): http rather than https,
/// a literal IP address that `forbidden_ip` refuses, `localhost`, `*.localhost` or
/// `metadata.google.internal`.
pub fn check_url(raw: &str, policy: TargetPolicy) -> Result<Url, ValidationError> {
    let invalid = || {
        ValidationError::new(
            "invalid_url",
            format!(
                "`url` must be an absolute http or https URL; got `{}`",
                shorten(raw)
            ),
        )
    };
    if raw.len() > MAX_URL_LEN {
        return Err(ValidationError::new(
            "invalid_url",
            format!(
                "`url` must be at most {MAX_URL_LEN} bytes; got {}",
                raw.len()
            ),
        ));
    }
    let url = Url::parse(raw).map_err(|_| invalid())?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ValidationError::new(
            "invalid_url",
            "`url` must not contain a user name or password",
        ));
    }
    let host = match url.host() {
        Some(host) => host,
        None => return Err(invalid()),
    };
    if matches!(&host, Host::Domain(name) if name.is_empty()) {
        return Err(invalid());
    }
    if policy.allow_private {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(ValidationError::new(
            "url_not_allowed",
            "`url` must use https",
        ));
    }
    match host {
        Host::Ipv4(ip) => check_ip(IpAddr::V4(ip))?,
        Host::Ipv6(ip) => check_ip(IpAddr::V6(ip))?,
        Host::Domain(name) => {
            // The URL parser lowercases names; a trailing dot names the same host.
            let name = name.trim_end_matches('.');
            if LOCAL_NAMES.contains(&name) || name.ends_with(".localhost") {
                return Err(ValidationError::new(
                    "url_not_allowed",
                    format!("`url` must not point at a local host name; got `{name}`"),
                ));
            }
        }
    }
    Ok(url)
}

fn check_ip(ip: IpAddr) -> Result<(), ValidationError> {
    if forbidden_ip(ip) {
        return Err(ValidationError::new(
            "url_not_allowed",
            format!("`url` must not point at a private, loopback, link-local or reserved address; got {ip}"),
        ));
    }
    Ok(())
}

/// The URL as quoted in a message: at most 100 characters.
fn shorten(raw: &str) -> String {
    if raw.chars().count() <= 100 {
        raw.to_string()
    } else {
        let head: String = raw.chars().take(100).collect();
        format!("{head}…")
    }
}

/// True when a webhook must not be sent to `ip`: anything that is not a public unicast address.
///
/// IPv4: 0/8 (this network, unspecified), 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16
/// (link-local, cloud metadata), 172.16/12, 192.0.0/24 (IETF protocol assignments), 192.0.2/24,
/// 198.51.100/24, 203.0.113/24 (documentation), 192.168/16, 198.18/15 (benchmarking),
/// 224/4 (multicast), 240/4 (reserved, broadcast).
/// IPv6: :: and ::1, the IPv4-compatible ::/96, 100::/64 (discard), 2001:db8::/32 and 3fff::/20
/// (documentation), fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10 (site-local),
/// ff00::/8 (multicast), 64:ff9b:1::/48 (local NAT64); and any address that embeds an IPv4
/// address that is forbidden: IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // The deprecated IPv4-compatible range ::/96 (:: and ::1 included).
        || s[..6] == [0; 6]
        || (s[0] == 0x0100 && s[1..4] == [0; 3])
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] & 0xfff0) == 0x3ff0
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001)
}

/// The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4
/// (2002:aabb:ccdd::) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(from(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from(s[1], s[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_private: false,
    };
    const LOCAL: TargetPolicy = TargetPolicy {
        allow_private: true,
    };

    fn code(raw: &str, policy: TargetPolicy) -> &'static str {
        match check_url(raw, policy) {
            Ok(_) => "ok",
            Err(e) => e.code,
        }
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn public_https_urls_are_accepted_as_parsed() {
        let url = check_url("https://Example.COM:8443/hooks/wallets?x=1", STRICT).unwrap();
        assert_eq!(url.as_str(), "https://example.com:8443/hooks/wallets?x=1");
        assert_eq!(code("https://hooks.example.com", STRICT), "ok");
        assert_eq!(code("https://93.184.216.34/in", STRICT), "ok");
        assert_eq!(
            code("https://[2606:2800:220:1:248:1893:25c8:1946]/", STRICT),
            "ok"
        );
        // Names are judged after DNS; one that merely contains "localhost" is fine here.
        assert_eq!(code("https://localhost.example.com/", STRICT), "ok");
        assert_eq!(code("https://mylocalhost/", STRICT), "ok");
    }

    #[test]
    fn what_is_not_an_absolute_http_url_is_invalid() {
        for raw in [
            "",
            "example.com/hook",
            "/relative/path",
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "mailto:ops@example.com",
            "https://",
            "http://exa mple.com/",
            "https://[::1",
        ] {
            assert_eq!(code(raw, STRICT), "invalid_url", "{raw}");
            assert_eq!(code(raw, LOCAL), "invalid_url", "{raw}");
        }
    }

    #[test]
    fn credentials_in_the_url_are_invalid() {
        for raw in [
            "https://user:secret@example.com/",
            "https://user@example.com/",
            "https://:secret@example.com/",
        ] {
            assert_eq!(code(raw, STRICT), "invalid_url", "{raw}");
            assert_eq!(code(raw, LOCAL), "invalid_url", "{raw}");
        }
    }

    #[test]
    fn length_is_capped_at_2048_bytes() {
        let base = "https://example.com/";
        let ok = format!("{base}{}", "a".repeat(MAX_URL_LEN - base.len()));
        assert_eq!(ok.len(), MAX_URL_LEN);
        assert_eq!(code(&ok, STRICT), "ok");
        let long = format!("{ok}a");
        let err = check_url(&long, STRICT).unwrap_err();
        assert_eq!(err.code, "invalid_url");
        assert!(err.message.contains("2048"), "{}", err.message);
    }

    #[test]
    fn plain_http_is_allowed_only_locally() {
        let err = check_url("http://example.com/hook", STRICT).unwrap_err();
        assert_eq!(err.code, "url_not_allowed");
        assert!(err.message.contains("https"));
        assert_eq!(code("http://example.com/hook", LOCAL), "ok");
    }

    #[test]
    fn literal_private_addresses_are_not_allowed() {
        for raw in [
            "https://127.0.0.1/",
            "https://127.1.2.3:8080/",
            "https://10.0.0.5/",
            "https://172.16.0.1/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://169.254.0.1/",
            "https://0.0.0.0/",
            "https://255.255.255.255/",
            "https://100.64.0.1/",
            "https://100.127.255.254/",
            "https://224.0.0.1/",
            "https://192.0.2.10/",
            "https://198.51.100.10/",
            "https://203.0.113.10/",
            "https://[::1]/",
            "https://[::]/",
            "https://[fe80::1]/",
            "https://[fc00::1]/",
            "https://[fd12:3456::1]/",
            "https://[ff02::1]/",
            "https://[2001:db8::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:10.1.2.3]/",
        ] {
            let err = check_url(raw, STRICT).unwrap_err();
            assert_eq!(err.code, "url_not_allowed", "{raw}");
            assert_eq!(code(raw, LOCAL), "ok", "{raw}");
        }
    }

    #[test]
    fn odd_spellings_of_loopback_are_caught_after_parsing() {
        // The WHATWG parser reads these as IPv4 addresses, as browsers and resolvers do.
        for raw in [
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://0/",
        ] {
            assert_eq!(code(raw, STRICT), "url_not_allowed", "{raw}");
        }
    }

    #[test]
    fn local_names_are_not_allowed() {
        for raw in [
            "https://localhost/",
            "https://LOCALHOST:3000/x",
            "https://localhost./",
            "https://api.localhost/",
            "https://a.b.localhost/",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://METADATA.google.internal./",
        ] {
            let err = check_url(raw, STRICT).unwrap_err();
            assert_eq!(err.code, "url_not_allowed", "{raw}");
            assert_eq!(code(raw, LOCAL), "ok", "{raw}");
        }
        assert_eq!(code("http://localhost:9000/hook", LOCAL), "ok");
        assert_eq!(code("http://127.0.0.1:9000/hook", LOCAL), "ok");
    }

    #[test]
    fn messages_say_what_was_wrong() {
        let err = check_url("https://10.0.0.1/", STRICT).unwrap_err();
        assert!(err.message.contains("10.0.0.1"), "{}", err.message);
        let err = check_url("https://api.localhost/", STRICT).unwrap_err();
        assert!(err.message.contains("api.localhost"), "{}", err.message);
        let long = format!("nota url {}", "x".repeat(500));
        let err = check_url(&long, STRICT).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
    }

    #[test]
    fn forbidden_ipv4_ranges() {
        for raw in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.0.0",
            "169.254.169.254",
            "169.254.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "192.168.0.0",
            "192.168.255.255",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden_ip(ip(raw)), "{raw} must be forbidden");
        }
    }

    #[test]
    fn public_ipv4_addresses_are_fine() {
        for raw in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "52.95.110.1",
        ] {
            assert!(!forbidden_ip(ip(raw)), "{raw} must be allowed");
        }
    }

    #[test]
    fn forbidden_ipv6_ranges() {
        for raw in [
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "100::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "fc00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff00::1",
            "ff02::1",
            "64:ff9b:1::1",
            // Embedded IPv4 that is itself forbidden.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.1.1",
            "::ffff:0.0.0.0",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::1",
        ] {
            assert!(forbidden_ip(ip(raw)), "{raw} must be forbidden");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_fine() {
        for raw in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001:82a::200e",
            "fbff::1",
            "fe00::1",
            "2001:db9::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!forbidden_ip(ip(raw)), "{raw} must be allowed");
        }
    }

    #[test]
    fn the_default_policy_is_strict() {
        assert_eq!(TargetPolicy::default(), STRICT);
    }
}
