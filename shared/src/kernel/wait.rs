//! Small concurrency helpers the domain's per-instance state and retry loops share.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Sleeps a uniformly random time between zero and `window` (full jitter), so writers that met
/// at once do not meet again.
pub async fn jittered(window: Duration) {
    let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX - 1);
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    let wait_us = u64::from_le_bytes(random) % (window_us + 1);
    tokio::time::sleep(Duration::from_micros(wait_us)).await;
}

/// The lock of a per-instance map, even if a panic elsewhere poisoned it: the maps kept this way
/// (caches, hints) hold no invariant a half-done update could break.
pub fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
