//! Failures logged one line at most every [`LOG_EVERY`] per kind.

use std::time::{Duration, Instant};

/// Failures of one kind are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Logs a kind of failure at most once per [`LOG_EVERY`], with how many were not logged.
#[derive(Default)]
pub(crate) struct Throttled {
    last: Option<Instant>,
    quiet: u32,
    failing: bool,
}

impl Throttled {
    pub(crate) fn failed(&mut self, message: impl FnOnce() -> String) {
        self.failing = true;
        if self.last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            self.quiet += 1;
            return;
        }
        let more = match self.quiet {
            0 => String::new(),
            n => format!(" ({n} more failures since the last line)"),
        };
        eprintln!("local-streams: {}{more}", message());
        self.last = Some(Instant::now());
        self.quiet = 0;
    }

    pub(crate) fn succeeded(&mut self, what: &str) {
        if self.failing {
            eprintln!("local-streams: {what} works again");
        }
        *self = Throttled::default();
    }
}
