//! The Stripe secret key on AWS: read once, at cold start, from AWS Secrets Manager through the
//! AWS Parameters and Secrets Lambda Extension (a layer: an HTTP server on localhost that fetches
//! the secret with the function's role and caches it), so that the key is never in the
//! function's environment variables. `STRIPE_SECRET_ID` names the secret (`template.yaml`
//! parameter `StripeSecretArn`). Locally, `STRIPE_SECRET_KEY` in the environment, as before.
//!
//! The secret's `SecretString` is the key itself, or a JSON object whose `STRIPE_SECRET_KEY`
//! field is (a Secrets Manager "key/value" secret).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use url::form_urlencoded;

use crate::config::{Config, GatewayConfig};
use crate::kernel::ValidationError;

/// The key in the environment (local runs).
pub const SECRET_KEY_VAR: &str = "STRIPE_SECRET_KEY";
/// The name or ARN of the Secrets Manager secret that holds the key (AWS).
pub const SECRET_ID_VAR: &str = "STRIPE_SECRET_ID";
/// The extension's port, as the extension itself reads it.
pub const EXTENSION_PORT_VAR: &str = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT";
pub const EXTENSION_PORT_DEFAULT: u16 = 2773;
/// The header that proves a request comes from the function: its session token.
pub const TOKEN_HEADER: &str = "X-Aws-Parameters-Secrets-Token";
/// The field of a JSON secret that holds the key.
pub const JSON_FIELD: &str = "STRIPE_SECRET_KEY";
/// Tries of the extension: it may not listen yet in the first instants of the cold start.
const TRIES: u32 = 10;
const PAUSE: Duration = Duration::from_millis(200);
/// One try's limit: the extension asks Secrets Manager, then answers.
const TRY_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read (a secret is at most 64 KB).
const MAX_ANSWER: usize = 256 * 1024;

/// Where the key comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum KeySource {
    /// No key: auto top-ups never run.
    None,
    /// `STRIPE_SECRET_KEY` (`Config::from_env` reads it).
    Environment,
    /// The Secrets Manager secret of this name or ARN, through the extension.
    SecretsManager(String),
}

/// Which source the environment (`var`: a variable's non-blank value) names; both is an error.
pub fn key_source(var: impl Fn(&str) -> Option<String>) -> Result<KeySource, ValidationError> {
    match (var(SECRET_KEY_VAR), var(SECRET_ID_VAR)) {
        (Some(_), Some(_)) => Err(ValidationError::new(
            "invalid_config",
            format!("set {SECRET_KEY_VAR} (a local run) or {SECRET_ID_VAR} (AWS), not both"),
        )),
        (Some(_), None) => Ok(KeySource::Environment),
        (None, Some(id)) => Ok(KeySource::SecretsManager(id.trim().to_owned())),
        (None, None) => Ok(KeySource::None),
    }
}

/// The extension's address for the secret `secret_id`.
pub fn secret_uri(port: u16, secret_id: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(secret_id.as_bytes()).collect();
    format!("http://localhost:{port}/secretsmanager/get?secretId={id}")
}

#[derive(Deserialize)]
struct SecretValue {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

/// The key in the extension's answer (HTTP `status`, `body`: Secrets Manager's
/// `GetSecretValue` answer). Errors never quote the secret.
pub fn key_from_answer(status: u16, body: &[u8]) -> Result<String, String> {
    if !(200..300).contains(&status) {
        let said: String = String::from_utf8_lossy(body).chars().take(200).collect();
        return Err(format!(
            "the secrets extension answered HTTP {status}: {said}"
        ));
    }
    let value: SecretValue = serde_json::from_slice(body)
        .map_err(|_| "the secrets extension's answer is not a secret value".to_owned())?;
    let text = value
        .secret_string
        .ok_or_else(|| "the secret has no SecretString (a binary secret?)".to_owned())?;
    let text = text.trim();
    let key = if text.starts_with('{') {
        let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|_| "the secret's SecretString is not valid JSON".to_owned())?;
        fields
            .get(JSON_FIELD)
            .and_then(|v| v.as_str())
            .map(|k| k.trim().to_owned())
            .ok_or_else(|| format!("the secret's JSON has no string field {JSON_FIELD}"))?
    } else {
        text.to_owned()
    };
    if key.is_empty() {
        return Err("the secret holds an empty key".to_owned());
    }
    Ok(key)
}

/// The key of the secret `secret_id`, from the extension on `port`, sending `token`.
pub async fn fetch_key(port: u16, secret_id: &str, token: &str) -> Result<String, String> {
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = secret_uri(port, secret_id);
    let mut last = String::new();
    for attempt in 1..=TRIES {
        if attempt > 1 {
            tokio::time::sleep(PAUSE).await;
        }
        let request = Request::builder()
            .method(Method::GET)
            .uri(&uri)
            .header(TOKEN_HEADER, token)
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("secrets extension request: {e}"))?;
        let answer = tokio::time::timeout(TRY_TIMEOUT, async {
            let response = client.request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body))
        })
        .await;
        match answer {
            Ok(Ok((status, body))) => {
                // Not ready yet answers a 5xx or a 400 "not ready"; anything else decides.
                let outcome = key_from_answer(status, &body);
                if outcome.is_ok() || !(status >= 500 || status == 400) {
                    return outcome;
                }
                last = outcome.unwrap_err();
            }
            Ok(Err(error)) => last = format!("secrets extension on port {port}: {error}"),
            Err(_) => last = format!("secrets extension on port {port}: timed out"),
        }
    }
    Err(last)
}

/// On AWS (`STRIPE_SECRET_ID` set): reads the key through the extension and sets the gateway of
/// `config`. Otherwise leaves `config` as `Config::from_env` made it. A key that cannot be read
/// fails the cold start (auto top-ups must not stop silently).
pub async fn resolve_gateway_key(config: &mut Config) -> Result<(), ValidationError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let KeySource::SecretsManager(secret_id) = key_source(var)? else {
        return Ok(());
    };
    let key = read_secret(&secret_id, SECRET_ID_VAR, "the Stripe secret key").await?;
    config.gateway = Some(GatewayConfig::from_env(key));
    Ok(())
}

/// The name or ARN of the Secrets Manager secret that holds the portal signing key (AWS; the
/// template's secret made from the NoEcho parameter `PortalSigningKey`). Locally,
/// `PORTAL_SIGNING_KEY` in the environment.
pub const PORTAL_KEY_SECRET_ID_VAR: &str = "PORTAL_SIGNING_KEY_SECRET_ID";

/// On AWS (`PORTAL_SIGNING_KEY_SECRET_ID` set): reads the portal signing key through the
/// extension into `config`, so that it is never in the function's environment. A key that
/// cannot be read fails the cold start.
pub async fn resolve_portal_key(config: &mut Config) -> Result<(), ValidationError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(secret_id) = var(PORTAL_KEY_SECRET_ID_VAR) else {
        return Ok(());
    };
    if var("PORTAL_SIGNING_KEY").is_some() {
        return Err(ValidationError::new(
            "invalid_config",
            format!("set PORTAL_SIGNING_KEY (a local run) or {PORTAL_KEY_SECRET_ID_VAR} (AWS), not both"),
        ));
    }
    let key = read_secret(
        secret_id.trim(),
        PORTAL_KEY_SECRET_ID_VAR,
        "the portal signing key",
    )
    .await?;
    config.portal.signing_key = Some(crate::portal::tokens::SigningKey::parse(&key)?);
    Ok(())
}

/// The secret `secret_id` (named by the variable `named_by`), read through the extension with
/// the function's session token. Errors never quote the secret.
async fn read_secret(
    secret_id: &str,
    named_by: &str,
    what: &str,
) -> Result<String, ValidationError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let invalid = |message: String| ValidationError::new("invalid_config", message);
    let token = var("AWS_SESSION_TOKEN").ok_or_else(|| {
        invalid(format!(
            "{named_by} needs the Lambda environment (AWS_SESSION_TOKEN) and the secrets extension layer"
        ))
    })?;
    let port = match var(EXTENSION_PORT_VAR) {
        Some(port) => port
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{EXTENSION_PORT_VAR} is not a port")))?,
        None => EXTENSION_PORT_DEFAULT,
    };
    fetch_key(port, secret_id, &token)
        .await
        .map_err(|e| invalid(format!("{what} ({secret_id}): {e}")))
}

/// The name or ARN of the Secrets Manager secret that holds the Stripe webhook signing secret
/// (AWS; template resource `StripeWebhookSecretValue`). Locally, `STRIPE_WEBHOOK_SECRET`.
pub const WEBHOOK_SECRET_ID_VAR: &str = "STRIPE_WEBHOOK_SECRET_ID";

/// On AWS (`STRIPE_WEBHOOK_SECRET_ID` set): reads the Stripe webhook signing secret through the
/// extension into `config`. A secret that cannot be read fails the cold start.
pub async fn resolve_webhook_secret(config: &mut Config) -> Result<(), ValidationError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(secret_id) = var(WEBHOOK_SECRET_ID_VAR) else {
        return Ok(());
    };
    let invalid = |message: String| ValidationError::new("invalid_config", message);
    let token = var("AWS_SESSION_TOKEN").ok_or_else(|| {
        invalid(format!(
            "{WEBHOOK_SECRET_ID_VAR} needs the Lambda environment (AWS_SESSION_TOKEN) and the secrets extension layer"
        ))
    })?;
    let port = match var(EXTENSION_PORT_VAR) {
        Some(port) => port
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{EXTENSION_PORT_VAR} is not a port")))?,
        None => EXTENSION_PORT_DEFAULT,
    };
    let secret = fetch_key(port, &secret_id, &token)
        .await
        .map_err(|e| invalid(format!("the Stripe webhook secret ({secret_id}): {e}")))?;
    config.stripe_webhook_secret = Some(crate::config::Redacted(secret));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_environment_names_one_source() {
        assert_eq!(key_source(env(&[])).unwrap(), KeySource::None);
        assert_eq!(
            key_source(env(&[(SECRET_KEY_VAR, "sk_test_1")])).unwrap(),
            KeySource::Environment
        );
        assert_eq!(
            key_source(env(&[(
                SECRET_ID_VAR,
                " arn:aws:secretsmanager:x:1:secret:stripe-AbC "
            )]))
            .unwrap(),
            KeySource::SecretsManager("arn:aws:secretsmanager:x:1:secret:stripe-AbC".to_owned())
        );
        let both = key_source(env(&[(SECRET_KEY_VAR, "sk"), (SECRET_ID_VAR, "id")]));
        assert_eq!(both.unwrap_err().code, "invalid_config");
    }

    #[test]
    fn the_secret_id_is_encoded_in_the_query() {
        assert_eq!(
            secret_uri(2773, "arn:aws:secretsmanager:us-east-1:1:secret:a/b c"),
            "http://localhost:2773/secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Aus-east-1%3A1%3Asecret%3Aa%2Fb+c"
        );
    }

    #[test]
    fn the_key_is_the_secret_string_or_its_json_field() {
        let plain =
            br#"{"ARN":"arn","Name":"stripe","SecretString":" sk_live_1\n","VersionId":"v"}"#;
        assert_eq!(key_from_answer(200, plain).unwrap(), "sk_live_1");
        let json = serde_json::json!({
            "Name": "stripe",
            "SecretString": r#"{"STRIPE_SECRET_KEY": "rk_live_2", "other": "x"}"#,
        });
        assert_eq!(
            key_from_answer(200, json.to_string().as_bytes()).unwrap(),
            "rk_live_2"
        );
    }

    #[test]
    fn a_secret_without_a_key_is_refused_without_quoting_it() {
        let cases: [(u16, serde_json::Value, &str); 4] = [
            (
                200,
                serde_json::json!({"SecretBinary": "c2tfbGl2ZQ=="}),
                "no SecretString",
            ),
            (200, serde_json::json!({"SecretString": "   "}), "empty key"),
            (
                200,
                serde_json::json!({"SecretString": r#"{"key": "sk_live_hidden"}"#}),
                "no string field STRIPE_SECRET_KEY",
            ),
            (
                403,
                serde_json::json!({"message": "AccessDenied"}),
                "HTTP 403",
            ),
        ];
        for (status, body, expected) in cases {
            let error = key_from_answer(status, body.to_string().as_bytes()).unwrap_err();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("sk_live_hidden"), "{error}");
        }
    }

    /// A stand-in for the extension on a local port: answers one request, and hands back what
    /// it was asked.
    async fn extension(answer: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut asked = Vec::new();
            let mut buffer = [0u8; 1024];
            while !asked.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                asked.extend_from_slice(&buffer[..n]);
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8(asked).unwrap()
        });
        (port, served)
    }

    #[tokio::test]
    async fn the_key_is_asked_of_the_extension_with_the_session_token() {
        let (port, served) = extension(r#"{"Name":"stripe","SecretString":"sk_test_9"}"#).await;
        let key = fetch_key(port, "stripe", "token-1").await.unwrap();
        assert_eq!(key, "sk_test_9");
        let asked = served.await.unwrap().to_lowercase();
        assert!(
            asked.starts_with("get /secretsmanager/get?secretid=stripe http/1.1"),
            "{asked}"
        );
        assert!(
            asked.contains("x-aws-parameters-secrets-token: token-1"),
            "{asked}"
        );
    }
}
