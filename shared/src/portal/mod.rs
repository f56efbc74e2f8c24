//! The customer portal's back end: Dodo's portal session (a signed magic link, 24 h or the
//! business's shorter lifetime, revocable), the mailer port that sends it, the business's
//! portal settings (link lifetime, top-up limits per currency), and rate limits on attempts.
//! The pages themselves are the `web` crate's. See docs/portal.md.

pub mod mail;
pub mod model;
pub mod operations;
pub mod origin;
pub mod rules;
pub mod tokens;

pub use model::{PortalClaims, PortalLink, PortalSettings};

#[cfg(test)]
mod operations_tests;
