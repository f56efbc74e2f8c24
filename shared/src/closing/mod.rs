//! Closing a wallet: paying out what is left and refusing every change after.

pub mod model;
pub mod operations;
pub mod rules;
