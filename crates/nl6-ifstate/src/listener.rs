//! On-change fan-out: bounded drop-oldest queues, one per listener.
//!
//! Its locks, atomics and wake-ups come from [`crate::sync`], so `tests/loom.rs` can
//! model-check the queue under `--cfg loom`.

use crate::event::StateEvent;
use crate::sync::{AtomicU64, Mutex, MutexGuard, Notify, Ordering};
use std::collections::VecDeque;
use std::sync::{Arc, Weak};

/// Default queue depth of a [`Listener`] (as in nl6).
pub const LISTENER_DEPTH: usize = 16;

/// Event statistics, per device or shared by a whole fleet.
#[derive(Debug, Default)]
pub struct EventCounters {
    emitted: AtomicU64,
    dropped: AtomicU64,
}

impl EventCounters {
    /// State events emitted (once per event, however many listeners got it).
    pub fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Relaxed)
    }

    /// Events dropped from full listener queues (once per listener that lost one).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct QueueState {
    events: VecDeque<StateEvent>,
    closed: bool,
}

/// One listener's queue.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    depth: usize,
    dropped: AtomicU64,
    notify: Notify,
}

/// The listeners of one device. Its mutex also serialises state writes, so every listener
/// sees one device's events in the order the state changed.
#[derive(Debug)]
pub(crate) struct Registry {
    listeners: Mutex<Vec<Arc<Queue>>>,
    counters: Arc<EventCounters>,
}

/// Proof that the registry lock is held; events are emitted through it.
pub(crate) struct Emitter<'a> {
    listeners: MutexGuard<'a, Vec<Arc<Queue>>>,
    counters: &'a EventCounters,
}

impl Emitter<'_> {
    /// Delivers `ev` to every listener without blocking; full queues drop their oldest event.
    pub(crate) fn emit(&self, ev: StateEvent) {
        self.counters.emitted.fetch_add(1, Ordering::Relaxed);
        for q in self.listeners.iter() {
            let mut st = q.state.lock();
            if st.events.len() >= q.depth {
                st.events.pop_front();
                q.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            st.events.push_back(ev);
            drop(st);
            q.notify.notify_one();
        }
    }
}

impl Registry {
    pub(crate) fn new(counters: Arc<EventCounters>) -> Self {
        Self {
            listeners: Mutex::new(Vec::new()),
            counters,
        }
    }

    pub(crate) fn counters(&self) -> &Arc<EventCounters> {
        &self.counters
    }

    /// Takes the write lock.
    pub(crate) fn lock(&self) -> Emitter<'_> {
        Emitter {
            listeners: self.listeners.lock(),
            counters: &self.counters,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.listeners.lock().len()
    }

    /// Registers a new listener with queue depth `depth` (at least 1).
    pub(crate) fn subscribe(self: &Arc<Self>, depth: usize) -> Listener {
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState::default()),
            depth: depth.max(1),
            dropped: AtomicU64::new(0),
            notify: Notify::new(),
        });
        self.listeners.lock().push(queue.clone());
        Listener {
            queue,
            registry: Arc::downgrade(self),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for q in self.listeners.get_mut().drain(..) {
            q.state.lock().closed = true;
            q.notify.notify_one();
        }
    }
}

/// An on-change subscription to one device's state events; dropping it unregisters it.
#[derive(Debug)]
pub struct Listener {
    queue: Arc<Queue>,
    registry: Weak<Registry>,
}

impl Listener {
    /// Waits for the next event; `None` once the device model is dropped and the queue drained.
    ///
    /// Cancel-safe: dropping the future never loses an event (use it in `select!` freely).
    pub async fn recv(&mut self) -> Option<StateEvent> {
        loop {
            {
                let mut st = self.queue.state.lock();
                if let Some(ev) = st.events.pop_front() {
                    return Some(ev);
                }
                if st.closed {
                    return None;
                }
            }
            // A notify between the check and here leaves a permit, so no wake-up is lost.
            self.queue.notify.notified().await;
        }
    }

    /// The next queued event, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<StateEvent> {
        self.queue.state.lock().events.pop_front()
    }

    /// Events this listener lost because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped.load(Ordering::Relaxed)
    }

    /// True once the device model was dropped (queued events can still be received).
    pub fn is_closed(&self) -> bool {
        self.queue.state.lock().closed
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(reg) = self.registry.upgrade() {
            reg.listeners
                .lock()
                .retain(|q| !Arc::ptr_eq(q, &self.queue));
        }
    }
}
