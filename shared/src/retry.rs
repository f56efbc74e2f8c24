//! Jittered exponential backoff for optimistic-concurrency retries.

use std::time::Duration;

/// Attempts before a contended write gives up with a retryable 409 (never a 5xx).
pub const ATTEMPTS_MAX: u32 = 400;
const BACKOFF_BASE_MS: u64 = 2;
const BACKOFF_CAP_MS: u64 = 50;

/// "Full jitter": a uniformly random wait up to an exponentially growing, capped ceiling.
pub async fn backoff(attempt: u32) {
    let ceiling_ms = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(10));
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    let wait_us = u64::from_le_bytes(random) % (ceiling_ms * 1000 + 1);
    tokio::time::sleep(Duration::from_micros(wait_us)).await;
}
