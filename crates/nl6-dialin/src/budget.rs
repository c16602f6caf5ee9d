//! Byte budgets for queued Subscribe responses: one pool for the fleet
//! (`queue_budget`) and one per connection (its share), each knowing the streams
//! charged to it so that, when full, the streams with the most bytes queued (the
//! slowest readers) can be made to drop theirs.
//!
//! A pool only counts; the queues (`subscribe::queue`) charge a pool before queueing a
//! response, release it when the response leaves the queue, and evict through
//! [`Pool::evict`] when a charge does not fit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::stats::DialinStats;

/// A stream whose queued responses a pool may drop.
pub(crate) trait Evictable: Send + Sync {
    /// Bytes the stream has queued now.
    fn queued_bytes(&self) -> u64;
    /// Drops every droppable queued response; returns the bytes freed.
    fn evict(&self) -> u64;
}

/// Where a pool keeps its used-bytes counter.
#[derive(Debug)]
enum Used {
    /// Its own counter (a connection).
    Own(AtomicU64),
    /// The server's `queued_bytes` (the fleet).
    Stats(Arc<DialinStats>),
}

/// A budget of bytes and the streams charged to it.
pub(crate) struct Pool {
    /// What the pool is, for logs ("queue_budget", "queue_budget_per_connection").
    name: &'static str,
    limit: u64,
    used: Used,
    members: Mutex<HashMap<u64, Weak<dyn Evictable>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("used", &self.used())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// The fleet-wide pool, counting in `stats.queued_bytes`.
    pub(crate) fn fleet(limit: usize, stats: Arc<DialinStats>) -> Pool {
        Pool::with(limit, "queue_budget", Used::Stats(stats))
    }

    /// One connection's share.
    pub(crate) fn connection(limit: usize) -> Pool {
        Pool::with(
            limit,
            "queue_budget_per_connection",
            Used::Own(AtomicU64::new(0)),
        )
    }

    fn with(limit: usize, name: &'static str, used: Used) -> Pool {
        Pool {
            name,
            limit: limit as u64,
            used,
            members: Mutex::new(HashMap::new()),
        }
    }

    fn counter(&self) -> &AtomicU64 {
        match &self.used {
            Used::Own(c) => c,
            Used::Stats(stats) => &stats.queued_bytes,
        }
    }

    /// The configuration field this pool enforces.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The limit in bytes.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged now.
    pub(crate) fn used(&self) -> u64 {
        self.counter().load(Ordering::Relaxed)
    }

    /// Charges `n` bytes if they fit under the limit.
    pub(crate) fn try_charge(&self, n: u64) -> bool {
        self.counter()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Charges `n` bytes whatever the limit (for the tiny, never-dropped `sync_response`).
    pub(crate) fn force_charge(&self, n: u64) {
        self.counter().fetch_add(n, Ordering::AcqRel);
    }

    /// Returns `n` charged bytes.
    pub(crate) fn release(&self, n: u64) {
        if n > 0 {
            self.counter().fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Registers a stream under `id` (a process-unique number).
    pub(crate) fn join(&self, id: u64, member: Weak<dyn Evictable>) {
        self.members.lock().insert(id, member);
    }

    /// Unregisters stream `id`.
    pub(crate) fn leave(&self, id: u64) {
        self.members.lock().remove(&id);
    }

    /// Makes room: empties the queues of the streams with the most bytes queued, the
    /// largest first, until at most `target` bytes are charged. Returns the streams
    /// evicted (those that held anything droppable).
    pub(crate) fn evict(&self, target: u64) -> u64 {
        // Upgraded under the lock, inspected after it: dropping the last reference to
        // a stream unregisters it, which takes the lock.
        let alive: Vec<Arc<dyn Evictable>> = self
            .members
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        let mut members: Vec<(u64, Arc<dyn Evictable>)> = alive
            .into_iter()
            .map(|m| (m.queued_bytes(), m))
            .filter(|(bytes, _)| *bytes > 0)
            .collect();
        members.sort_unstable_by_key(|m| std::cmp::Reverse(m.0));
        let mut evicted = 0;
        for (_, member) in members {
            if self.used() <= target {
                break;
            }
            if member.evict() > 0 {
                evicted += 1;
            }
        }
        evicted
    }

    /// The charge level eviction aims for before charging `n` more bytes: 7/8 of the
    /// limit, so that one eviction makes room for many responses.
    pub(crate) fn target_for(&self, n: u64) -> u64 {
        (self.limit - self.limit / 8).saturating_sub(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        pool: Arc<Pool>,
        bytes: AtomicU64,
    }

    impl Evictable for Fake {
        fn queued_bytes(&self) -> u64 {
            self.bytes.load(Ordering::Relaxed)
        }
        fn evict(&self) -> u64 {
            let n = self.bytes.swap(0, Ordering::Relaxed);
            self.pool.release(n);
            n
        }
    }

    #[test]
    fn eviction_takes_the_largest_queues_first_and_stops_at_the_target() {
        let pool = Arc::new(Pool::connection(100));
        let fakes: Vec<Arc<Fake>> = [10, 50, 30]
            .into_iter()
            .map(|n| {
                assert!(pool.try_charge(n));
                Arc::new(Fake {
                    pool: pool.clone(),
                    bytes: AtomicU64::new(n),
                })
            })
            .collect();
        for (i, f) in fakes.iter().enumerate() {
            let member: Arc<dyn Evictable> = f.clone();
            pool.join(i as u64, Arc::downgrade(&member));
        }
        assert!(!pool.try_charge(11), "90 + 11 > 100");
        assert_eq!(pool.target_for(20), 68);
        assert_eq!(pool.evict(pool.target_for(20)), 1);
        assert_eq!(fakes[1].queued_bytes(), 0, "the largest went first");
        assert_eq!(pool.used(), 40);
        assert!(pool.try_charge(20));
        pool.leave(0);
        assert_eq!(pool.evict(0), 1, "only the registered one with bytes");
        assert_eq!(fakes[0].queued_bytes(), 10);
        assert_eq!(pool.used(), 30);
    }
}
