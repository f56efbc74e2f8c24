//! Webhook operations: endpoints (Dodo's `client.webhooks`), and delivery: the first attempt
//! right after the dispatcher records a delivery, retries found by the sweep, resends.
//!
//! A delivery is claimed before every attempt (a conditional write that sets a lease), so two
//! workers never attempt the same delivery at once; a worker that dies mid-attempt leaves the
//! delivery due again when its lease ends. Delivery is at least once: a receiver may see a
//! `webhook-id` again, never miss one.

mod breakers;
mod delivery;
mod endpoints;
mod retries;

pub use breakers::{Breakers, BREAKER_OPEN_FOR};
pub use retries::Claimed;

/// Deliveries recorded at once by one dispatcher batch, and attempted at once by one sweep.
pub const ATTEMPTS_IN_FLIGHT: usize = 32;
/// Attempts of one endpoint at once in one deliverer run.
pub const PER_ENDPOINT_IN_FLIGHT: usize = 4;
/// Endpoints one deliverer run serves at once.
pub const ENDPOINTS_IN_FLIGHT: usize = 64;
/// Consecutive failed attempts of an endpoint that open its breaker for the rest of a run.
pub const BREAKER_FAILURES: u32 = 3;
