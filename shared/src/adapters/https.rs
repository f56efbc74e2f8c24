//! What the outbound HTTPS clients (webhook delivery, the Stripe gateway, the deliverer's
//! invocation) share: the client builder, its TLS configuration and the short description of a
//! failed request.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::GaiResolver;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A client of [`client`]: http or https URLs, a body sent whole. `R` resolves host names.
pub(crate) type HttpsClient<R = GaiResolver> =
    Client<HttpsConnector<HttpConnector<R>>, Full<Bytes>>;

/// How long an idle connection stays in the pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// An outbound client: [`tls_config`] (`purpose` names the client in its warning), http and
/// https URLs, HTTP/1 only, `TCP_NODELAY`, idle connections kept 30 s, at most
/// `max_idle_per_host` of them per host (`None`: hyper-util's default, no limit). `resolver`
/// resolves host names (`GaiResolver::new()` is the system's). Never follows redirects: a 3xx
/// comes back as it is. Each caller puts its own deadline around its requests.
pub(crate) fn client<R>(
    resolver: R,
    purpose: &str,
    max_idle_per_host: Option<usize>,
) -> HttpsClient<R>
where
    HttpsConnector<HttpConnector<R>>: Connect + Clone,
{
    let mut http = HttpConnector::new_with_resolver(resolver);
    // The https connector wraps this one, so it must accept https URIs.
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(purpose))
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT);
    if let Some(max) = max_idle_per_host {
        builder.pool_max_idle_per_host(max);
    }
    builder.build(https)
}

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
