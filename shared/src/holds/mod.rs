//! Holds: reserving part of a wallet, capturing it as one debit, releasing it, expiring it.

pub mod model;
pub mod operations;
pub mod rules;
