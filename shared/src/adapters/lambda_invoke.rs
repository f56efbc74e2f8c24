//! The dispatcher's hand-over of recorded deliveries to the deliverer function
//! ([`DeliveryQueue`]): an asynchronous invocation (`X-Amz-Invocation-Type: Event`) of the
//! Lambda Invoke API, `POST {base}/2015-03-31/functions/{name}/invocations` with the body
//! `{"deliveries": [...]}`. Lambda keeps the event in its own queue and answers 202 at once; the
//! dispatcher never waits for an attempt.
//!
//! On AWS the base is Lambda's regional endpoint and the request is signed (SigV4, the
//! function's role). Locally the base is local-streams' invoke relay (`LAMBDA_ENDPOINT`), which
//! answers 202 as Lambda does and invokes the deliverer through `cargo lambda watch`.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::dns::GaiResolver;

use super::https::{self, HttpsClient};
use crate::webhooks::model::{DeliveryQueue, DeliveryRef};

/// Deliveries in one invocation's event (an asynchronous event may hold 256 KB; a reference
/// takes about 120 bytes).
pub const REFS_PER_INVOCATION: usize = 500;
/// The Invoke call's own limit: Lambda answers an asynchronous invocation at once.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Invokes the deliverer function asynchronously.
#[derive(Clone)]
pub struct LambdaInvokeQueue {
    client: HttpsClient,
    /// `https://lambda.<region>.amazonaws.com`, or the local relay's `http://127.0.0.1:<port>`.
    base: String,
    /// The deliverer's name or ARN.
    function: String,
    region: String,
    /// Signs the request when set (on AWS).
    credentials: Option<SharedCredentialsProvider>,
}

impl std::fmt::Debug for LambdaInvokeQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaInvokeQueue")
            .field("base", &self.base)
            .field("function", &self.function)
            .finish()
    }
}

impl LambdaInvokeQueue {
    /// From the environment: `DELIVERER_FUNCTION` (the deliverer's name or ARN; `None` when
    /// unset), `LAMBDA_ENDPOINT` (a local relay, requests unsigned) or else Lambda's regional
    /// endpoint of `AWS_REGION` (requests signed with the function's credentials).
    pub async fn from_env() -> Option<LambdaInvokeQueue> {
        let function = std::env::var("DELIVERER_FUNCTION")
            .ok()
            .filter(|f| !f.is_empty())?;
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let (base, credentials) = match std::env::var("LAMBDA_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
        {
            Some(local) => (local.trim_end_matches('/').to_owned(), None),
            None => (
                format!("https://lambda.{region}.amazonaws.com"),
                sdk.credentials_provider(),
            ),
        };
        Some(LambdaInvokeQueue::new(base, function, region, credentials))
    }

    pub fn new(
        base: String,
        function: String,
        region: String,
        credentials: Option<SharedCredentialsProvider>,
    ) -> LambdaInvokeQueue {
        let client = https::client(GaiResolver::new(), "invoking the deliverer", None);
        LambdaInvokeQueue {
            client,
            base,
            function,
            region,
            credentials,
        }
    }

    /// One asynchronous invocation with `work`.
    async fn invoke(&self, work: &[DeliveryRef]) -> Result<(), String> {
        let body = serde_json::json!({ "deliveries": work }).to_string();
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.base,
            percent_encode_path(&self.function)
        );
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&url)
            .header(CONTENT_TYPE, "application/json")
            .header("x-amz-invocation-type", "Event")
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| format!("building the request: {e}"))?;
        if let Some(provider) = &self.credentials {
            self.sign(provider, &mut request, body.as_bytes()).await?;
        }
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("invoking {}: {e}", self.function))?;
            let status = response.status();
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
            if status.is_success() {
                Ok(())
            } else {
                Err(format!(
                    "invoking {} answered {status}: {text}",
                    self.function
                ))
            }
        };
        tokio::time::timeout(INVOKE_TIMEOUT, call)
            .await
            .map_err(|_| {
                format!(
                    "invoking {}: no answer in {INVOKE_TIMEOUT:?}",
                    self.function
                )
            })?
    }

    async fn sign(
        &self,
        provider: &SharedCredentialsProvider,
        request: &mut Request<Full<Bytes>>,
        body: &[u8],
    ) -> Result<(), String> {
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("credentials: {e}"))?;
        super::sigv4::sign(
            request,
            body,
            "lambda",
            &self.region,
            credentials,
            SystemTime::now(),
        )
    }
}

/// A function name or ARN as one path segment (an ARN's `:` is kept; Lambda accepts it).
fn percent_encode_path(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | ':' | '$' => c.to_string(),
            other => format!("%{:02X}", other as u32),
        })
        .collect()
}

impl DeliveryQueue for LambdaInvokeQueue {
    /// One invocation per [`REFS_PER_INVOCATION`] deliveries, the deliveries of one endpoint
    /// kept together (so one tenant's slow endpoints share few invocations with others).
    async fn enqueue(&self, mut work: Vec<DeliveryRef>) -> Result<(), String> {
        work.sort_by(|a, b| {
            (&a.business_id, &a.endpoint_id).cmp(&(&b.business_id, &b.endpoint_id))
        });
        let mut failed = None;
        for chunk in work.chunks(REFS_PER_INVOCATION) {
            if let Err(e) = self.invoke(chunk).await {
                failed = Some(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_arn_stays_one_path_segment() {
        assert_eq!(
            percent_encode_path("arn:aws:lambda:us-east-1:1:function:deliver"),
            "arn:aws:lambda:us-east-1:1:function:deliver"
        );
        assert_eq!(percent_encode_path("a/b c"), "a%2Fb%20c");
    }
}
