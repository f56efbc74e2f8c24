//! Auto top-up: charging a wallet's saved payment method through a payment gateway.

pub mod gateway;
pub mod model;
pub mod operations;
pub mod ownership;
pub mod rules;
