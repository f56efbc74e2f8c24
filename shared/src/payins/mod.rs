//! Money paid in by the customer: card top-ups from the portal and from top-up links, credited
//! only when the gateway confirms the payment.

pub mod limits;
pub mod links;
pub mod links_ops;
pub mod links_rules;
pub mod links_url;
