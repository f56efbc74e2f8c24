//! Finance reports kept by the stream: per business, currency and UTC day, the money that moved
//! and the liability it left (`model`), how one committed change of a customer's wallets moves
//! them (`rules`, pure), and recording and reading them (`operations`).

pub mod model;
pub mod operations;
pub mod rules;

#[cfg(test)]
mod tests;
