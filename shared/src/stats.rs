//! What one unit of work (a request, a stream batch, a sweep) did, for its metrics: ledger
//! entries written, contention retries, store calls and their time. Counted where it happens
//! (the change loop, the DynamoDB client's interceptor) into the work's own counters, set up by
//! whoever starts the work (`measured`); nothing is counted outside it.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

/// The counters of one unit of work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkStats {
    pub ledger_entries: u32,
    pub contention_retries: u32,
    pub store_calls: u32,
    pub store_time: Duration,
    /// The slowest store call.
    pub store_time_max: Duration,
}

tokio::task_local! {
    static STATS: RefCell<WorkStats>;
}

/// Runs `work` with fresh counters; answers its output and what it counted.
pub async fn measured<F: Future>(work: F) -> (F::Output, WorkStats) {
    STATS
        .scope(RefCell::new(WorkStats::default()), async move {
            let output = work.await;
            (output, STATS.with(|stats| *stats.borrow()))
        })
        .await
}

fn add(change: impl FnOnce(&mut WorkStats)) {
    let _ = STATS.try_with(|stats| change(&mut stats.borrow_mut()));
}

pub fn ledger_entries_written(count: u32) {
    add(|s| s.ledger_entries += count);
}

pub fn contention_retry() {
    add(|s| s.contention_retries += 1);
}

pub fn store_call(took: Duration) {
    add(|s| {
        s.store_calls += 1;
        s.store_time += took;
        s.store_time_max = s.store_time_max.max(took);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_only_inside_the_measured_work() {
        ledger_entries_written(5); // outside: ignored
        let ((), stats) = measured(async {
            ledger_entries_written(1);
            contention_retry();
            store_call(Duration::from_millis(3));
            store_call(Duration::from_millis(7));
        })
        .await;
        assert_eq!(stats.ledger_entries, 1);
        assert_eq!(stats.contention_retries, 1);
        assert_eq!(
            (stats.store_calls, stats.store_time_max),
            (2, Duration::from_millis(7))
        );
        assert_eq!(stats.store_time, Duration::from_millis(10));
    }
}
