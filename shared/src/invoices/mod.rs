//! Invoice payments: applying wallet money to an invoice, once, and reversing it.

pub mod model;
pub mod operations;
pub mod rules;
