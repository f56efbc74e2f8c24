//! Customers: creating, reading, patching and listing them; each owns one set of wallets.

pub mod model;
pub mod operations;
pub mod payment_methods;
pub mod rules;
