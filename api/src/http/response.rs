//! JSON answers, and the one shape of every list answer.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use super::errors::ApiError;

/// What a route handler answers: a response, or an error the one mapping turns into one.
pub type Answer = Result<Response<Body>, ApiError>;

/// Every list answer: `{"items": [...]}` (Dodo's page shape).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
}

impl<'a, T> Page<T> {
    /// The page of `records`, each shown by `view`.
    pub fn of<R>(records: &'a [R], view: impl Fn(&'a R) -> T) -> Page<T> {
        Page {
            items: records.iter().map(view).collect(),
        }
    }
}

/// A 200 with `value` as JSON.
pub fn json<T: Serialize>(value: &T) -> Answer {
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::to_string(value).expect("responses serialise"),
        ))
        .expect("static headers are valid"))
}
