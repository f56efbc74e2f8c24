//! Amazon SES (API v2 `SendEmail`) over HTTPS, signed with SigV4 (`aws-sigv4`, no SES SDK crate):
//! `POST https://email.<region>.amazonaws.com/v2/email/outbound-emails` with a JSON body naming
//! the sender (`MAIL_FROM`), the one recipient, and a plain-text subject and body. Credentials
//! are the function's (Lambda puts them in the environment). The function's role needs
//! `ses:SendEmail` on the sender's identity (`template.yaml`).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::dns::GaiResolver;

use super::https::{self, HttpsClient};
use crate::error::{DomainError, DomainResult};
use crate::portal::mail::{Mail, Mailer};

/// One call's limit, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct SesMailer {
    client: HttpsClient,
    /// `https://email.<region>.amazonaws.com` (a fake server's address in tests).
    base: String,
    region: String,
    from: String,
}

impl std::fmt::Debug for SesMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesMailer")
            .field("base", &self.base)
            .field("from", &self.from)
            .finish()
    }
}

impl SesMailer {
    /// SES of `region`, sending from `from`.
    pub fn new(region: &str, from: &str) -> SesMailer {
        SesMailer::at(
            format!("https://email.{region}.amazonaws.com"),
            region,
            from,
        )
    }

    /// SES at another address (a test's fake server).
    pub fn at(base: String, region: &str, from: &str) -> SesMailer {
        SesMailer {
            client: https::client(GaiResolver::new(), "sending email through SES", None),
            base,
            region: region.to_owned(),
            from: from.to_owned(),
        }
    }

    /// The signed request that sends `mail`, as of `time`.
    pub fn request(
        &self,
        mail: &Mail,
        credentials: Credentials,
        time: SystemTime,
    ) -> Result<Request<Full<Bytes>>, String> {
        let body = serde_json::json!({
            "FromEmailAddress": self.from,
            "Destination": { "ToAddresses": [mail.to] },
            "Content": { "Simple": {
                "Subject": { "Data": mail.subject, "Charset": "UTF-8" },
                "Body": { "Text": { "Data": mail.text, "Charset": "UTF-8" } },
            } },
        })
        .to_string();
        let url = format!("{}/v2/email/outbound-emails", self.base);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| format!("building the request: {e}"))?;
        sign(
            &mut request,
            body.as_bytes(),
            &self.region,
            credentials,
            time,
        )?;
        Ok(request)
    }

    async fn send_signed(&self, request: Request<Full<Bytes>>) -> Result<(), String> {
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("SES: {e}"))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let text: String = response
                .into_body()
                .collect()
                .await
                .map(|b| {
                    String::from_utf8_lossy(&b.to_bytes())
                        .chars()
                        .take(300)
                        .collect()
                })
                .unwrap_or_default();
            Err(format!("SES answered {status}: {text}"))
        };
        tokio::time::timeout(SEND_TIMEOUT, call)
            .await
            .map_err(|_| format!("SES: no answer in {SEND_TIMEOUT:?}"))?
    }
}

/// Signs `request` for SES in `region` (SigV4: `Authorization`, `x-amz-date`, and
/// `x-amz-security-token` with temporary credentials).
fn sign(
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
    region: &str,
    credentials: Credentials,
    time: SystemTime,
) -> Result<(), String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ses")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing: {e}"))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> DomainResult<()> {
        let provider =
            aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new();
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| DomainError::MailUnavailable(format!("credentials: {e}")))?;
        let request = self
            .request(mail, credentials, SystemTime::now())
            .map_err(DomainError::MailUnavailable)?;
        self.send_signed(request)
            .await
            .map_err(DomainError::MailUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::test_server::read_request;
    use tokio::io::AsyncWriteExt;

    fn mail() -> Mail {
        Mail {
            to: "ada@example.com".into(),
            subject: "Your link".into(),
            text: "https://wallet.example.com/portal/session?token=t".into(),
        }
    }

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            token.map(str::to_owned),
            None,
            "test",
        )
    }

    /// 2026-01-02T03:04:05Z.
    fn time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_323_045)
    }

    #[test]
    fn the_request_is_sesv2_send_email_signed_for_ses_in_the_region() {
        let ses = SesMailer::new("eu-west-1", "wallet@example.com");
        let request = ses.request(&mail(), credentials(None), time()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            request.uri().to_string(),
            "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails"
        );
        let header = |name: &str| request.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("x-amz-date"), "20260102T030405Z");
        let authorization = header("authorization");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-1/ses/aws4_request, SignedHeaders="
            ),
            "{authorization}"
        );
        let signed: Vec<&str> = authorization
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .split(';')
            .collect();
        for needed in ["content-type", "host", "x-amz-date"] {
            assert!(signed.contains(&needed), "{authorization}");
        }
        let signature = authorization.split("Signature=").nth(1).unwrap();
        assert_eq!(signature.len(), 64);
        assert!(request.headers().get("x-amz-security-token").is_none());

        let body: serde_json::Value =
            serde_json::from_slice(&futures_executor_body(request.into_body())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "FromEmailAddress": "wallet@example.com",
                "Destination": {"ToAddresses": ["ada@example.com"]},
                "Content": {"Simple": {
                    "Subject": {"Data": "Your link", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": "https://wallet.example.com/portal/session?token=t", "Charset": "UTF-8"}}
                }}
            })
        );
    }

    #[test]
    fn the_signature_covers_the_body_and_temporary_credentials_send_their_token() {
        let ses = SesMailer::new("eu-west-1", "wallet@example.com");
        let signature = |mail: &Mail| {
            let request = ses.request(mail, credentials(None), time()).unwrap();
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(signature(&mail()), signature(&mail()), "deterministic");
        let other = Mail {
            to: "eve@example.com".into(),
            ..mail()
        };
        assert_ne!(signature(&mail()), signature(&other));
        let request = ses
            .request(&mail(), credentials(Some("session-token")), time())
            .unwrap();
        assert_eq!(request.headers()["x-amz-security-token"], "session-token");
    }

    fn futures_executor_body(body: Full<Bytes>) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async { body.collect().await.unwrap().to_bytes().to_vec() })
    }

    /// A fake SES answering `status` once; the request it got.
    async fn fake_ses(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await.unwrap();
            let body = r#"{"MessageId":"m-1"}"#;
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            format!("{} {}", request.method, request.target)
        });
        (base, server)
    }

    #[tokio::test]
    async fn a_2xx_is_sent_and_an_error_answer_is_mail_unavailable() {
        let (base, server) = fake_ses("200 OK").await;
        let ses = SesMailer::at(base, "eu-west-1", "wallet@example.com");
        let request = ses.request(&mail(), credentials(None), time()).unwrap();
        ses.send_signed(request).await.unwrap();
        assert_eq!(server.await.unwrap(), "POST /v2/email/outbound-emails");

        let (base, _server) = fake_ses("400 Bad Request").await;
        let ses = SesMailer::at(base, "eu-west-1", "wallet@example.com");
        let request = ses.request(&mail(), credentials(None), time()).unwrap();
        let error = ses.send_signed(request).await.unwrap_err();
        assert!(error.contains("400"), "{error}");
    }
}
