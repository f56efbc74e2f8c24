//! HTTP at the edge: reading requests, writing responses, and the one error mapping.

pub mod errors;
pub mod request;
pub mod response;

pub use errors::ApiError;
pub use request::Request;
pub use response::{json, Answer, Page};
