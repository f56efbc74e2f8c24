//! HTTP at the edge: reading requests, writing responses, and the one error mapping.

pub mod errors;
pub mod request;
pub mod response;

use shared::access::model::Tenant;
use shared::Service;

pub use errors::ApiError;
pub use request::Request;
pub use response::{json, Answer, Page};

/// What a route handler gets: the service, the authenticated caller, and the request.
pub struct Call<'a, S, C> {
    pub app: &'a Service<S, C>,
    pub tenant: &'a Tenant,
    /// The API key the caller authenticated with.
    pub key: &'a shared::access::model::ApiKey,
    pub request: &'a Request,
}
