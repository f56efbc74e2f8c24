//! Webhooks: events from committed changes, the endpoints that receive them, and their delivery
//! (signed, at least once, logged).

pub mod address;
pub mod events;
pub mod model;
pub mod operations;
pub mod rules;
