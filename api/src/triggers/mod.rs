//! Entry points: what a function binary's `main` calls, one per kind of trigger. Each builds the
//! service once (outside the handler), then runs the Lambda runtime.

pub mod dispatch;
pub mod http;
pub mod schedule;
pub mod stream;
pub mod sweep;

pub use http::{init_tracing, serve};
