//! Sends one request to Stripe: the headers every request carries, the deadline (connect, send,
//! and read the whole answer), the most of an answer that is read, and why there is no answer.

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;

use super::wire::failure;
use super::{StripeGateway, USER_AGENT_VALUE};
use crate::topups::gateway::GatewayFailure;

/// The most of an answer that is read (a page of 100 PaymentIntents from localstripe, with their
/// charges inline, is about 300 KiB).
const MAX_READ: usize = 8 * 1024 * 1024;

impl StripeGateway {
    /// Sends one request; its status and body, or why there is none (timeout, connection).
    pub(super) async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        form: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Bytes), String> {
        let what = format!(
            "{method} {}",
            path_and_query.split('?').next().unwrap_or("")
        );
        let uri: Uri = format!("{}{path_and_query}", self.base_url)
            .parse()
            .map_err(|_| format!("{what}: invalid URL"))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, self.authorization.clone());
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key)
                .map_err(|_| format!("{what}: the idempotency key is not a valid header value"))?;
            builder = builder.header("idempotency-key", value);
        }
        let body = match form {
            Some(form) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder
            .body(body)
            .map_err(|e| format!("{what}: invalid request: {e}"))?;

        let deadline = tokio::time::Instant::now() + self.timeout;
        let response = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Err(_) => return Err(format!("{what}: {}", self.timeout_message())),
            Ok(Err(e)) => return Err(format!("{what}: {}", describe(&e))),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => {
                    return Err(format!(
                        "{what}: {} reading the answer (HTTP {status})",
                        self.timeout_message()
                    ))
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(format!(
                        "{what}: reading the answer (HTTP {status}): {}",
                        describe(&e)
                    ))
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        read.extend_from_slice(&data);
                        if read.len() > MAX_READ {
                            return Err(format!(
                                "{what}: answer larger than {MAX_READ} bytes (HTTP {status})"
                            ));
                        }
                    }
                }
            }
        }
        tracing::debug!(request = %what, status, bytes = read.len(), "stripe answered");
        Ok((status, Bytes::from(read)))
    }

    pub(super) fn timeout_message(&self) -> String {
        let t = self.timeout;
        if t.subsec_nanos() == 0 {
            format!("timeout after {} s", t.as_secs())
        } else {
            format!("timeout after {} ms", t.as_millis())
        }
    }

    pub(super) async fn post_for_id(
        &self,
        path: &str,
        form: String,
    ) -> Result<String, GatewayFailure> {
        let (status, body) = self
            .call(Method::POST, path, Some(form), None)
            .await
            .map_err(GatewayFailure::Unavailable)?;
        if status != 200 {
            return Err(failure(&format!("POST {path}"), status, &body));
        }
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        serde_json::from_slice::<Created>(&body)
            .map(|c| c.id)
            .map_err(|e| {
                GatewayFailure::Unavailable(format!("POST {path}: unreadable answer: {e}"))
            })
    }
}

/// A short description of a failed request.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    super::https::describe::<std::convert::Infallible>(error)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use crate::adapters::stripe::fake_stripe::*;
    use crate::topups::gateway::ChargeOutcome;

    #[tokio::test]
    async fn a_slow_gateway_hits_the_timeout_and_is_unknown() {
        let fake = FakeStripe::start(vec![
            now(EMPTY_LIST),
            owned(),
            (
                200,
                intent("pi_1", "succeeded", "att_1"),
                Duration::from_secs(3),
            ),
        ])
        .await;
        let gateway = fake.gateway().with_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let outcome = gateway.charge(&request()).await;
        assert_eq!(
            outcome,
            ChargeOutcome::Unknown {
                error: "POST /v1/payment_intents: timeout after 300 ms".to_string()
            }
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            StripeGateway::new("http://127.0.0.1:1", KEY)
                .unwrap()
                .timeout_message(),
            "timeout after 10 s"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_unknown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let gateway = StripeGateway::new(&format!("http://127.0.0.1:{port}"), KEY).unwrap();
        assert_eq!(
            gateway.charge(&request()).await,
            ChargeOutcome::Unknown {
                error: "reconciling before the charge: GET /v1/payment_intents: connection refused"
                    .to_string()
            }
        );
        assert_eq!(
            gateway.create(&request()).await,
            ChargeOutcome::Unknown {
                error: "POST /v1/payment_intents: connection refused".to_string()
            }
        );
    }
}
