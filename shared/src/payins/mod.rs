//! Money paid in by the customer: card top-ups from the portal and from top-up links, credited
//! only when the gateway confirms the payment (`settle.rs`, exactly once; see
//! docs/card-top-ups.md).

pub mod gateway;
pub mod limits;
pub mod links;
pub mod links_ops;
pub mod links_rules;
pub mod links_url;
pub mod model;
pub mod operations;
pub mod reconcile;
pub mod settle;
pub mod stripe_events;
