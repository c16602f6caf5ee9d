//! Runtimes and waiting on a condition with a deadline (no sleep-and-hope).

use std::time::{Duration, Instant};

/// A two-worker multi-thread tokio runtime with I/O and timers, as the namespace tests use.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Polls `cond` every 20 ms until it holds (`true`) or `timeout` passes (`false`).
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_sees_a_late_condition_and_gives_up_on_a_false_one() {
        let start = Instant::now();
        assert!(
            eventually(Duration::from_secs(5), || start.elapsed()
                > Duration::from_millis(60))
            .await
        );
        let start = Instant::now();
        assert!(!eventually(Duration::from_millis(100), || false).await);
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
