//! What the two outbound HTTPS clients (webhook delivery, the Stripe gateway) share: the TLS
//! configuration and the short description of a failed request.

use std::sync::Arc;

/// The rustls configuration: aws-lc-rs (as the AWS SDK) and the system's root certificates.
/// `what` names the client in the warning logged when no root certificate is found.
pub(crate) fn tls_config(what: &str) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!(
            errors = ?found.errors,
            "no root certificate found: {what} over https will fail"
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A short description of a failed request: the most telling cause in its chain (an error of
/// type `E` first, when the caller has one of its own, then TLS and connection errors).
pub(crate) fn describe<E: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
) -> String {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut last = error;
    while let Some(e) = current {
        if let Some(own) = e.downcast_ref::<E>() {
            return own.to_string();
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return format!("tls error: {tls}");
        }
        last = e;
        current = e.source();
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused".to_string(),
                ConnectionReset => return "connection reset".to_string(),
                ConnectionAborted => return "connection aborted".to_string(),
                TimedOut => return "connect timed out".to_string(),
                _ => {}
            }
            // io::Error::source skips the error it wraps (a TLS error, say): go to that one.
            if let Some(inner) = io.get_ref() {
                current = Some(inner as &(dyn std::error::Error + 'static));
            }
        }
    }
    let text = last.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}
