//! Entry points: what a function binary's `main` calls, one per kind of trigger. Each builds the
//! service once (outside the handler), then runs the Lambda runtime.

pub mod dispatch;
pub mod http;
pub mod schedule;
pub mod stream;
pub mod sweep;

pub use http::{init_tracing, serve};

/// Environment variable: the seconds an invocation may run, counted from its start, in place of
/// the deadline the runtime gives. For local runs only: `cargo lambda watch` (1.9.2) gives an
/// invocation a deadline that is not its function's timeout (the sweep saw under 30 s left on
/// arrival, whatever `--timeout`), so the scripts set the template's 120 s. Unset on AWS, where
/// Lambda's deadline is the function's.
pub const LOCAL_INVOCATION_SECONDS: &str = "LOCAL_INVOCATION_SECONDS";

/// The deadline (Unix milliseconds) an invocation works to: Lambda's (`context_deadline_ms`), or
/// [`LOCAL_INVOCATION_SECONDS`] from `now_ms` when that is set.
pub fn invocation_deadline_ms(context_deadline_ms: u64, now_ms: u64) -> u64 {
    static LOCAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let local = LOCAL.get_or_init(|| {
        std::env::var(LOCAL_INVOCATION_SECONDS)
            .ok()
            .and_then(|raw| raw.trim().parse().ok())
    });
    match local {
        Some(seconds) => now_ms + seconds * 1_000,
        None => context_deadline_ms,
    }
}
