//! Access: businesses, their API keys, and authenticating a caller.

pub mod model;
pub mod operations;
pub mod rules;
