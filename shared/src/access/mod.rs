//! Access: businesses, their API keys, and authenticating a caller.

pub mod actor;
pub mod cache;
pub mod forms;
pub mod model;
pub mod operations;
pub mod rules;
pub mod sessions;
