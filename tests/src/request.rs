//! The one request builder: `h.request(route)…send()`.

use std::collections::HashMap;

use api::Route;
use lambda_http::http::{Method, Request};
use lambda_http::{Body, RequestExt};
use serde_json::Value;

use crate::{Harness, Reply};

/// One request to a route, sent through the real handler by [`RequestBuilder::send`].
///
/// By default: no path or query parameters, an empty text body, and the harness business's key.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'h> {
    harness: &'h Harness,
    route: Route,
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Body,
    key: Option<String>,
    headers: Vec<(String, String)>,
}

impl Harness {
    /// Starts a request to `route` with this business's key.
    pub fn request(&self, route: Route) -> RequestBuilder<'_> {
        RequestBuilder {
            harness: self,
            route,
            path: Vec::new(),
            query: Vec::new(),
            body: Body::from(String::new()),
            key: Some(self.key.clone()),
            headers: Vec::new(),
        }
    }
}

impl RequestBuilder<'_> {
    /// The `customer_id` path parameter.
    pub fn customer(self, customer_id: &str) -> Self {
        self.path("customer_id", customer_id)
    }

    /// A path parameter (`customer_id`, `hold_id`, `invoice_id`): filled into the route's path
    /// and passed as API Gateway passes it.
    pub fn path(mut self, name: &str, value: &str) -> Self {
        self.path.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A query-string parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Query-string parameters, each as by [`query`](Self::query).
    pub fn queries(self, pairs: &[(&str, &str)]) -> Self {
        pairs
            .iter()
            .fold(self, |request, (name, value)| request.query(name, value))
    }

    /// A JSON body.
    pub fn json(self, body: Value) -> Self {
        self.raw_body(&body.to_string())
    }

    /// A text body, sent as it is (it need not be JSON).
    pub fn raw_body(self, body: &str) -> Self {
        self.body(Body::from(body.to_owned()))
    }

    /// Any body, e.g. bytes that are not UTF-8 (`Body::Binary`, as API Gateway delivers a
    /// base64-encoded body).
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Sends `key` as the API key instead of the business's.
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    /// A request header (e.g. `accept`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends no `authorization` header.
    pub fn without_key(mut self) -> Self {
        self.key = None;
        self
    }

    /// Sends the request through the real handler and reads the reply's JSON body (`null` when
    /// it is not JSON).
    pub async fn send(self) -> Reply {
        let response = self.send_raw().await;
        let status = response.status();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Reply { status, body }
    }

    /// Sends the request through the real handler and answers its response as it is (headers
    /// and a body that need not be JSON).
    pub async fn send_raw(self) -> lambda_http::Response<Body> {
        let (harness, route, request) = (self.harness, self.route, self.build());
        harness.handle(route, request).await
    }

    /// The request as API Gateway delivers it, not sent: for a benchmark that times the
    /// handler alone (`api::handle(h.service(), route, request)`).
    pub fn build(self) -> lambda_http::Request {
        let spec = self.route.spec();
        let path = self
            .path
            .iter()
            .fold(spec.path.to_owned(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value)
            });
        let mut builder = Request::builder()
            .method(Method::from_bytes(spec.method.as_bytes()).expect("route method"))
            .uri(path);
        if let Some(key) = &self.key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request: lambda_http::Request = builder.body(self.body).expect("request");
        request
            .with_path_parameters(self.path.into_iter().collect::<HashMap<_, _>>())
            .with_query_string_parameters(self.query.into_iter().collect::<HashMap<_, _>>())
    }
}
