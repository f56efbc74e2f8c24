//! Invoice payments: applying wallet money to an invoice, once, charging the remainder to the
//! customer's saved cards (`charging`), and reversing it (`refunds`).

pub mod charging;
pub mod model;
pub mod operations;
pub mod refunds;
pub mod rules;
