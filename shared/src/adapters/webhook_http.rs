//! The webhook sender over HTTP: one signed POST per attempt (Standard Webhooks).
//!
//! Built on the HTTP stack the AWS SDK already compiles (hyper 1, hyper-util's client,
//! hyper-rustls with rustls on aws-lc-rs and the system's root certificates).
//!
//! What it guarantees, whatever the receiver does:
//! - the headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (`v1,<base64 HMAC-SHA256
//!   of "id.timestamp.body">`), `content-type: application/json` and the user agent are this
//!   sender's; an endpoint's custom headers come on top and never replace them;
//! - no redirect is followed: a 3xx is a failed attempt with its status;
//! - the whole attempt (resolve, connect, TLS, request, answer) takes at most the timeout
//!   (10 s); at most 64 KiB of the answer is read and its first 1 KiB is kept;
//! - the target is checked twice (SSRF): the URL as written (`address::check_url`), then each
//!   address its host name resolves to (`address::forbidden_ip`). The connection goes only to
//!   addresses that passed, because this sender resolves the name itself and hands the
//!   connector those addresses.
//!
//! A failure gives `status_code: None` and a short `error` ("connection refused",
//! "timeout after 10 s", "address not allowed: 127.0.0.1", ...).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::dns::Name;

use crate::webhooks::address::{check_url, forbidden_ip, TargetPolicy};
use crate::webhooks::model::{AttemptResult, Outbound, WebhookSender};

/// The whole attempt's limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer's body that is read.
pub const MAX_READ: usize = 64 * 1024;
/// The most of an answer's body that is kept in the attempt.
pub const MAX_KEPT: usize = 1024;
/// The `user-agent` of every request.
pub const USER_AGENT_VALUE: &str = "customer-wallets-webhooks/1";

/// Headers that belong to this sender (or to the HTTP framing): an endpoint's custom header of
/// one of these names, or of any `webhook-*` name, is dropped.
const RESERVED: [&str; 7] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "user-agent",
    "te",
];

type HttpsClient = super::https::HttpsClient<CheckedResolver>;

/// Sends webhook attempts over HTTP(S). Cheap to share: one connection pool for all endpoints.
#[derive(Clone)]
pub struct HttpSender {
    policy: TargetPolicy,
    timeout: Duration,
    client: HttpsClient,
}

impl std::fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSender")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpSender {
    /// A sender with the 10 s timeout. Loads the system's root certificates once.
    pub fn new(policy: TargetPolicy) -> HttpSender {
        HttpSender::with_timeout(policy, DEFAULT_TIMEOUT)
    }

    /// A sender whose attempts give up after `timeout` (tests use a short one).
    pub fn with_timeout(policy: TargetPolicy, timeout: Duration) -> HttpSender {
        let resolver = CheckedResolver {
            allow_private: policy.allow_private,
        };
        // The legacy client never follows redirects: a 3xx comes back as it is.
        let client = super::https::client(resolver, "webhook deliveries", Some(4));
        HttpSender {
            policy,
            timeout,
            client,
        }
    }

    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Makes one attempt. Never fails: what went wrong is in the result.
    pub async fn send(&self, outbound: &Outbound) -> AttemptResult {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let outcome = self.attempt(outbound, deadline).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(answer) => AttemptResult {
                status_code: Some(answer.status),
                duration_ms,
                error: answer.error,
                response: answer.body,
            },
            Err(error) => AttemptResult {
                status_code: None,
                duration_ms,
                error: Some(error),
                response: String::new(),
            },
        }
    }

    async fn attempt(
        &self,
        outbound: &Outbound,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, String> {
        let request = self.request(outbound)?;
        let response = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Err(_) => return Err(self.timeout_message()),
            Ok(Err(e)) => return Err(describe(&e)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = Vec::new();
        let mut error = None;
        while read.len() < MAX_READ {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    error = Some(format!("{} reading the response", self.timeout_message()));
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    error = Some(format!("reading the response: {}", describe(&e)));
                    break;
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        read.extend_from_slice(&data);
                    }
                }
            }
        }
        // Dropping the body here closes the connection if more was left unread.
        Ok(Answer {
            status,
            error,
            body: lossy_prefix(&read, MAX_KEPT),
        })
    }

    /// The signed request, or why the target is refused.
    fn request(&self, outbound: &Outbound) -> Result<Request<Full<Bytes>>, String> {
        let url = check_url(&outbound.url, self.policy).map_err(|e| e.message)?;
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|_| format!("invalid url: {}", url.as_str()))?;
        let signature = sign(outbound)?;
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(
                standardwebhooks::HEADER_WEBHOOK_ID,
                outbound.message_id.as_str(),
            )
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                outbound.timestamp_s.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature);
        if let Some(headers) = builder.headers_mut() {
            for (name, value) in &outbound.headers {
                // Names and values were checked when the endpoint was saved; one that is not
                // valid HTTP after all is left out rather than failing every attempt.
                let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) else {
                    continue;
                };
                if reserved(&name) {
                    continue;
                }
                headers.insert(name, value);
            }
        }
        builder
            .body(Full::new(Bytes::from(outbound.body.clone())))
            .map_err(|e| format!("invalid request: {e}"))
    }

    fn timeout_message(&self) -> String {
        let t = self.timeout;
        if t.subsec_nanos() == 0 {
            format!("timeout after {} s", t.as_secs())
        } else {
            format!("timeout after {} ms", t.as_millis())
        }
    }
}

impl WebhookSender for HttpSender {
    fn send(&self, outbound: &Outbound) -> impl Future<Output = AttemptResult> + Send {
        HttpSender::send(self, outbound)
    }
}

struct Answer {
    status: u16,
    error: Option<String>,
    body: String,
}

/// `v1,<signature>` per Standard Webhooks, with the endpoint's `whsec_` secret.
fn sign(outbound: &Outbound) -> Result<String, String> {
    let webhook = standardwebhooks::Webhook::new(&outbound.secret)
        .map_err(|_| "the endpoint's secret is not valid".to_string())?;
    webhook
        .sign(
            &outbound.message_id,
            outbound.timestamp_s,
            outbound.body.as_bytes(),
        )
        .map_err(|e| format!("signing failed: {e}"))
}

fn reserved(name: &HeaderName) -> bool {
    let name = name.as_str(); // lowercase
    name.starts_with("webhook-") || RESERVED.contains(&name)
}

/// The first `max` bytes as UTF-8, invalid sequences replaced, a character cut at the end
/// dropped (so the result is never longer than `max` bytes plus replacements inside).
fn lossy_prefix(bytes: &[u8], max: usize) -> String {
    let mut head = &bytes[..bytes.len().min(max)];
    if head.len() < bytes.len() {
        // A multi-byte character cut in two at the end: leave out its first bytes. Back over
        // the continuation bytes (at most 3) to the byte that starts the last character.
        let mut lead = head.len().saturating_sub(1);
        while lead > 0 && head.len() - lead < 4 && head[lead] & 0xC0 == 0x80 {
            lead -= 1;
        }
        if let Err(e) = std::str::from_utf8(&head[lead..]) {
            if e.error_len().is_none() {
                head = &head[..lead + e.valid_up_to()];
            }
        }
    }
    String::from_utf8_lossy(head).into_owned()
}

/// Resolves a host name with the system resolver and refuses it if any of its addresses is
/// forbidden (unless private targets are allowed). The connector connects only to what this
/// returns. (Literal IP hosts skip resolution; `check_url` judged them.)
#[derive(Debug, Clone, Copy)]
struct CheckedResolver {
    allow_private: bool,
}

/// Why a host name gave no address to connect to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ResolveError {
    #[error("address not allowed: {0}")]
    NotAllowed(IpAddr),
    #[error("dns lookup failed: {0}")]
    Lookup(String),
}

impl tower_service::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = ResolveError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ResolveError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ResolveError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            resolve_checked(&host, allow_private)
                .await
                .map(Vec::into_iter)
        })
    }
}

/// Every address of `host` (port 0: the connector sets the URL's), all of them allowed.
async fn resolve_checked(host: &str, allow_private: bool) -> Result<Vec<SocketAddr>, ResolveError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| ResolveError::Lookup(host.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(ResolveError::Lookup(host.to_string()));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| forbidden_ip(a.ip())) {
            return Err(ResolveError::NotAllowed(bad.ip()));
        }
    }
    Ok(addrs)
}

/// A short description of a failed request: a refused address first, then what `https` knows.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    super::https::describe::<ResolveError>(error)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::adapters::test_server::{read_request, Received};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const LOCAL: TargetPolicy = TargetPolicy {
        allow_private: true,
    };
    const STRICT: TargetPolicy = TargetPolicy {
        allow_private: false,
    };

    /// A one-answer HTTP receiver on 127.0.0.1: answers every request with `response` (raw
    /// bytes) after `delay`, and records the requests and the connections.
    struct Receiver {
        port: u16,
        connections: Arc<AtomicUsize>,
        received: Arc<Mutex<Vec<Received>>>,
    }

    impl Receiver {
        async fn start(response: Vec<u8>, delay: Duration) -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let connections = Arc::new(AtomicUsize::new(0));
            let received = Arc::new(Mutex::new(Vec::new()));
            let (c, r) = (connections.clone(), received.clone());
            let response = Arc::new(response);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    c.fetch_add(1, Ordering::SeqCst);
                    let (r, response) = (r.clone(), response.clone());
                    tokio::spawn(async move {
                        serve(stream, &response, delay, &r).await;
                    });
                }
            });
            Receiver {
                port,
                connections,
                received,
            }
        }

        async fn answering(status_line: &str, body: &str) -> Receiver {
            let response = format!(
                "HTTP/1.1 {status_line}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            Receiver::start(response.into_bytes(), Duration::ZERO).await
        }

        fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}{path}", self.port)
        }

        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }

        fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }

    async fn serve(
        mut stream: TcpStream,
        response: &[u8],
        delay: Duration,
        received: &Mutex<Vec<Received>>,
    ) {
        let Some(request) = read_request(&mut stream).await else {
            return;
        };
        received.lock().unwrap().push(request);
        tokio::time::sleep(delay).await;
        let _ = stream.write_all(response).await;
        let _ = stream.shutdown().await;
    }

    fn now_s() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn outbound(url: String) -> Outbound {
        Outbound {
            url,
            message_id: "evt_01jdx7k3q8m2v5w9z0a4b6c8e1".to_string(),
            timestamp_s: now_s(),
            body: r#"{"business_id":"bus_1","type":"wallet.topped_up","data":{"customer_id":"cus_1"}}"#
                .to_string(),
            secret: SECRET.to_string(),
            headers: BTreeMap::new(),
        }
    }

    fn verify(secret: &str, body: &[u8], headers: &http::HeaderMap) -> bool {
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(body, headers)
            .is_ok()
    }

    #[tokio::test]
    async fn a_delivery_is_signed_and_carries_its_headers() {
        let receiver = Receiver::answering("200 OK", "thanks").await;
        let mut out = outbound(receiver.url("/hooks/wallets?src=cw"));
        out.headers
            .insert("X-Tenant".to_string(), "acme".to_string());
        out.headers
            .insert("authorization".to_string(), "Bearer t0k3n".to_string());
        let result = HttpSender::new(LOCAL).send(&out).await;

        assert_eq!(result.status_code, Some(200), "{result:?}");
        assert!(result.succeeded());
        assert_eq!(result.error, None);
        assert_eq!(result.response, "thanks");
        assert!(result.duration_ms < 10_000);

        let got = receiver.received();
        assert_eq!(got.len(), 1);
        let req = &got[0];
        assert_eq!(req.method, "POST");
        assert_eq!(req.target, "/hooks/wallets?src=cw");
        assert_eq!(req.body, out.body.as_bytes());
        let h = &req.headers;
        assert_eq!(h["webhook-id"], out.message_id.as_str());
        assert_eq!(h["webhook-timestamp"], out.timestamp_s.to_string().as_str());
        assert!(h["webhook-signature"].to_str().unwrap().starts_with("v1,"));
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["user-agent"], USER_AGENT_VALUE);
        assert_eq!(h["x-tenant"], "acme");
        assert_eq!(h["authorization"], "Bearer t0k3n");
        assert!(verify(SECRET, &req.body, h), "the signature must verify");
    }

    #[tokio::test]
    async fn a_tampered_body_or_another_secret_fails_verification() {
        let receiver = Receiver::answering("204 No Content", "").await;
        let out = outbound(receiver.url("/"));
        let result = HttpSender::new(LOCAL).send(&out).await;
        assert_eq!(result.status_code, Some(204));
        assert!(result.succeeded());
        let req = receiver.received().remove(0);

        let mut tampered = req.body.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        assert!(!verify(SECRET, &tampered, &req.headers));
        assert!(!verify(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            &req.body,
            &req.headers
        ));
        let mut other_id = req.headers.clone();
        other_id.insert("webhook-id", HeaderValue::from_static("evt_other"));
        assert!(!verify(SECRET, &req.body, &other_id));
        assert!(verify(SECRET, &req.body, &req.headers));
    }

    #[tokio::test]
    async fn custom_headers_never_replace_the_senders() {
        let receiver = Receiver::answering("200 OK", "").await;
        let mut out = outbound(receiver.url("/"));
        for (name, value) in [
            ("Content-Type", "text/plain"),
            ("webhook-id", "evt_forged"),
            ("Webhook-Signature", "v1,forged"),
            ("webhook-timestamp", "1"),
            ("webhook-extra", "x"),
            ("user-agent", "curl/8"),
            ("host", "internal.example"),
            ("content-length", "1"),
            ("x-ok", "yes"),
            ("bad header", "x"),
            ("x-bad-value", "a\nb"),
        ] {
            out.headers.insert(name.to_string(), value.to_string());
        }
        let result = HttpSender::new(LOCAL).send(&out).await;
        assert_eq!(result.status_code, Some(200), "{result:?}");
        let req = receiver.received().remove(0);
        let h = &req.headers;
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["webhook-id"], out.message_id.as_str());
        assert_eq!(h.get_all("webhook-signature").iter().count(), 1);
        assert_eq!(h["webhook-timestamp"], out.timestamp_s.to_string().as_str());
        assert!(h.get("webhook-extra").is_none());
        assert_eq!(h["user-agent"], USER_AGENT_VALUE);
        assert_eq!(h["host"], format!("127.0.0.1:{}", receiver.port).as_str());
        assert_eq!(h["x-ok"], "yes");
        assert!(h.get("x-bad-value").is_none());
        assert!(verify(SECRET, &req.body, h));
    }

    #[tokio::test]
    async fn a_server_error_is_recorded_with_the_first_kilobyte() {
        let body: String = (0..3000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let receiver = Receiver::answering("500 Internal Server Error", &body).await;
        let result = HttpSender::new(LOCAL)
            .send(&outbound(receiver.url("/")))
            .await;
        assert_eq!(result.status_code, Some(500));
        assert!(!result.succeeded());
        assert_eq!(result.error, None);
        assert_eq!(result.response, body[..MAX_KEPT]);
    }

    #[tokio::test]
    async fn a_huge_answer_is_read_only_up_to_64_kib() {
        // Announces far more than it sends: the sender must stop after 64 KiB, not wait.
        let chunk = "z".repeat(MAX_READ + 10);
        let response = format!("HTTP/1.1 200 OK\r\ncontent-length: 100000000\r\n\r\n{chunk}");
        let receiver = Receiver::start(response.into_bytes(), Duration::ZERO).await;
        let sender = HttpSender::with_timeout(LOCAL, Duration::from_secs(5));
        let result = sender.send(&outbound(receiver.url("/"))).await;
        assert_eq!(result.status_code, Some(200), "{result:?}");
        assert_eq!(result.error, None);
        assert_eq!(result.response.len(), MAX_KEPT);
        assert!(result.duration_ms < 5_000);
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let target = Receiver::answering("200 OK", "should not be reached").await;
        let response = format!(
            "HTTP/1.1 302 Found\r\nlocation: {}\r\ncontent-length: 5\r\nconnection: close\r\n\r\nmoved",
            target.url("/elsewhere")
        );
        let redirector = Receiver::start(response.into_bytes(), Duration::ZERO).await;
        let result = HttpSender::new(LOCAL)
            .send(&outbound(redirector.url("/")))
            .await;
        assert_eq!(result.status_code, Some(302));
        assert!(!result.succeeded());
        assert_eq!(result.response, "moved");
        assert_eq!(target.connections(), 0);
    }

    #[tokio::test]
    async fn a_refused_connection_has_no_status() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let result = HttpSender::new(LOCAL)
            .send(&outbound(format!("http://127.0.0.1:{port}/")))
            .await;
        assert_eq!(result.status_code, None);
        assert!(!result.succeeded());
        assert_eq!(result.error.as_deref(), Some("connection refused"));
        assert_eq!(result.response, "");
    }

    #[tokio::test]
    async fn a_loopback_target_is_refused_unless_private_targets_are_allowed() {
        let receiver = Receiver::answering("200 OK", "ok").await;
        for url in [
            format!("https://127.0.0.1:{}/", receiver.port),
            format!("https://localhost:{}/", receiver.port),
            format!("https://[::ffff:127.0.0.1]:{}/", receiver.port),
            receiver.url("/"), // plain http
        ] {
            let result = HttpSender::new(STRICT).send(&outbound(url.clone())).await;
            assert_eq!(result.status_code, None, "{url}");
            let error = result.error.unwrap_or_default();
            assert!(error.contains("must"), "{url}: {error}");
        }
        assert_eq!(receiver.connections(), 0, "no connection may be made");

        let result = HttpSender::new(LOCAL)
            .send(&outbound(format!("http://localhost:{}/", receiver.port)))
            .await;
        assert_eq!(result.status_code, Some(200), "{result:?}");
        assert_eq!(receiver.connections(), 1);
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_refused_after_dns() {
        // `localhost` stands for any public-looking name whose DNS answer is private.
        let refused = resolve_checked("localhost", false).await.unwrap_err();
        assert!(
            matches!(refused, ResolveError::NotAllowed(ip) if ip.is_loopback()),
            "{refused:?}"
        );
        assert!(refused.to_string().starts_with("address not allowed: "));
        let allowed = resolve_checked("localhost", true).await.unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()));

        // Through the client, with a name `check_url` would not catch: the resolver's refusal
        // is the attempt's error and nothing connects.
        let receiver = Receiver::answering("200 OK", "ok").await;
        let sender = HttpSender::new(STRICT);
        let request = Request::post(format!("http://localhost:{}/", receiver.port))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let err = sender.client.request(request).await.unwrap_err();
        assert!(
            describe(&err).starts_with("address not allowed: "),
            "{}",
            describe(&err)
        );
        assert_eq!(receiver.connections(), 0);
    }

    #[tokio::test]
    async fn a_dns_failure_has_no_status() {
        let result = HttpSender::new(LOCAL)
            .send(&outbound("http://no-such-host.invalid/".to_string()))
            .await;
        assert_eq!(result.status_code, None);
        assert_eq!(
            result.error.as_deref(),
            Some("dns lookup failed: no-such-host.invalid")
        );
    }

    #[tokio::test]
    async fn a_tls_failure_has_no_status() {
        // A plain-HTTP server behind an https URL: it answers the ClientHello with plain text.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let result = HttpSender::with_timeout(LOCAL, Duration::from_secs(5))
            .send(&outbound(format!("https://127.0.0.1:{port}/")))
            .await;
        assert_eq!(result.status_code, None);
        let error = result.error.unwrap_or_default();
        assert!(error.starts_with("tls error: "), "{error}");
        assert!(result.duration_ms < 5_000);
    }

    #[tokio::test]
    async fn a_slow_receiver_hits_the_timeout() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec();
        let receiver = Receiver::start(response, Duration::from_secs(3)).await;
        let sender = HttpSender::with_timeout(LOCAL, Duration::from_millis(200));
        let result = sender.send(&outbound(receiver.url("/"))).await;
        assert_eq!(result.status_code, None);
        assert_eq!(result.error.as_deref(), Some("timeout after 200 ms"));
        assert!(
            (200..2_000).contains(&result.duration_ms),
            "{}",
            result.duration_ms
        );
        assert_eq!(
            HttpSender::new(LOCAL).timeout_message(),
            "timeout after 10 s"
        );
    }

    #[tokio::test]
    async fn a_bad_secret_is_an_error_without_a_connection() {
        let receiver = Receiver::answering("200 OK", "").await;
        let mut out = outbound(receiver.url("/"));
        out.secret = "whsec_!!!not base64!!!".to_string();
        let result = HttpSender::new(LOCAL).send(&out).await;
        assert_eq!(result.status_code, None);
        assert!(result.error.is_some());
        assert_eq!(receiver.connections(), 0);
    }

    #[test]
    fn the_kept_response_is_cut_on_a_character_boundary() {
        assert_eq!(lossy_prefix(b"hello", 1024), "hello");
        let euro = "€".repeat(400); // 3 bytes each: 1200 bytes
        let kept = lossy_prefix(euro.as_bytes(), 1024);
        assert_eq!(kept, "€".repeat(341)); // 1023 bytes; the cut 342nd is left out
        let ascii_then_euro = format!("{}€", "a".repeat(1023));
        assert_eq!(
            lossy_prefix(ascii_then_euro.as_bytes(), 1024),
            "a".repeat(1023)
        );
        assert_eq!(
            lossy_prefix(ascii_then_euro.as_bytes(), 1026),
            ascii_then_euro
        );
        let two = format!("{}€", "a".repeat(1022));
        assert_eq!(lossy_prefix(two.as_bytes(), 1024), "a".repeat(1022));
        let invalid = lossy_prefix(&[b'a', 0xff, b'b'], 1024);
        assert_eq!(invalid, "a\u{fffd}b");
    }

    #[test]
    fn reserved_names() {
        for name in [
            "content-type",
            "webhook-id",
            "webhook-anything",
            "host",
            "user-agent",
        ] {
            assert!(reserved(&HeaderName::from_static(name)), "{name}");
        }
        for name in ["authorization", "x-webhook-id", "x-api-key"] {
            assert!(!reserved(&HeaderName::from_static(name)), "{name}");
        }
    }
}
