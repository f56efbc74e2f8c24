//! The ledger: a customer's wallets (one per currency) and the entries that change them.

pub mod batch;
pub mod export;
pub mod history;
pub mod model;
pub mod operations;
pub mod rules;
pub mod statement;
