//! The bounded, drop-oldest queue between a Subscribe stream's producer and gRPC.
//!
//! Producers never wait: when the queue is full the oldest droppable entry (an update,
//! never a `sync_response`) is discarded and its updates are counted in
//! `updates_dropped`. The consumer side is the response stream tonic polls; dropping it
//! (client gone, RPC over) tells the producer to stop.
//!
//! Bytes are bounded too: every queued response is charged to its connection's share
//! and to the fleet-wide budget ([`crate::budget`]) until tonic takes it. A response
//! that does not fit first makes the streams with the most bytes queued (on the
//! connection, or fleet-wide) drop all their queued updates; if it still does not fit
//! it is dropped itself. Either way the updates count in `updates_dropped`, fleet-wide
//! and per stream (logged when the stream ends).
//!
//! Past the queue, a response waits in tonic's encoder (up to a 32 KiB chunk plus one
//! message) and in hyper's HTTP/2 stream (one chunk plus `http2_send_buffer`); hyper
//! pulls from the queue only when the stream has send capacity, so what a non-reading
//! client leaves there is bounded per stream, and everything else stays here, counted.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::Stream;
use nl6_gnmi::codec::Encoded;
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response};
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::Notify;
use tonic::Status;

use nl6_ledger::Mark;

use crate::budget::{Evictable, Pool};
use crate::stats::DialinStats;

/// Ids of streams in the budget pools.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One queued response.
#[derive(Debug)]
struct Item {
    bytes: Bytes,
    /// Number of `Update` entries in it (0 for a `sync_response`).
    updates: u64,
    /// Whether a full queue may discard it.
    droppable: bool,
    /// Its place in a measured run's ledger, if it belongs to one.
    mark: Option<Mark>,
}

impl Item {
    /// Settles the item's run mark, if any, with `settle`.
    fn settle(&mut self, settle: fn(Mark, u64)) {
        if let Some(mark) = self.mark.take() {
            settle(mark, self.updates);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Item>,
    /// Sum of the queued items' lengths (charged to both pools).
    bytes: u64,
    /// How the stream ends once `items` is drained: `Some(None)` = OK.
    end: Option<Option<Status>>,
    /// The end was delivered; the stream is over.
    finished: bool,
    consumer: Option<Waker>,
    consumer_gone: bool,
}

/// The budget pools a queue is charged to.
#[derive(Debug, Clone)]
pub(crate) struct Budgets {
    /// The fleet-wide `queue_budget`.
    pub(crate) fleet: Arc<Pool>,
    /// The connection's share.
    pub(crate) connection: Arc<Pool>,
}

#[derive(Debug)]
struct Shared {
    id: u64,
    state: Mutex<State>,
    depth: usize,
    stats: Arc<DialinStats>,
    budgets: Budgets,
    /// Mirror of `State::bytes`, read without the lock when picking whom to evict.
    queued: AtomicU64,
    /// `Update` entries this stream lost (depth or budget).
    dropped: AtomicU64,
    /// Client and device, for the end-of-stream log.
    peer: SocketAddr,
    local: SocketAddr,
    gone: Notify,
}

impl Shared {
    /// Removes `item`'s bytes from the accounting (the caller holds the state lock).
    fn uncharge(&self, st: &mut State, item: &Item) {
        let n = item.bytes.len() as u64;
        st.bytes -= n;
        self.queued.store(st.bytes, Ordering::Relaxed);
        self.budgets.connection.release(n);
        self.budgets.fleet.release(n);
    }

    /// Counts `updates` updates as dropped.
    fn count_dropped(&self, updates: u64) {
        self.stats
            .updates_dropped
            .fetch_add(updates, Ordering::Relaxed);
        self.dropped.fetch_add(updates, Ordering::Relaxed);
    }

    /// Charges `n` bytes to both pools, evicting the slowest streams when one is full;
    /// false when the bytes cannot fit even then (the caller drops its response).
    fn charge(&self, n: u64) -> bool {
        let Budgets { fleet, connection } = &self.budgets;
        if n > connection.limit() || n > fleet.limit() {
            return false;
        }
        // Each round either charges or evicts at least one stream, so this ends; the
        // bound only guards against other streams refilling as fast as we evict.
        for _ in 0..4 {
            let full = if !connection.try_charge(n) {
                connection
            } else if !fleet.try_charge(n) {
                connection.release(n);
                fleet
            } else {
                return true;
            };
            let evicted = full.evict(full.target_for(n));
            if evicted == 0 {
                return false;
            }
            self.stats
                .budget_evictions
                .fetch_add(evicted, Ordering::Relaxed);
            tracing::debug!(
                "{} full ({} of {} bytes): dropped the queued updates of {evicted} slowest \
                 stream(s)",
                full.name(),
                full.used(),
                full.limit()
            );
        }
        false
    }
}

impl Evictable for Shared {
    fn queued_bytes(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    fn evict(&self) -> u64 {
        let mut st = self.state.lock();
        let before = st.bytes;
        let mut updates = 0;
        let items = std::mem::take(&mut st.items);
        for mut item in items {
            if item.droppable {
                updates += item.updates;
                self.uncharge(&mut st, &item);
                item.settle(Mark::dropped);
            } else {
                st.items.push_back(item);
            }
        }
        let freed = before - st.bytes;
        drop(st);
        self.count_dropped(updates);
        freed
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.budgets.fleet.leave(self.id);
        self.budgets.connection.leave(self.id);
        let st = self.state.get_mut();
        for item in &mut st.items {
            item.settle(Mark::discarded);
        }
        let n = st.bytes;
        self.budgets.connection.release(n);
        self.budgets.fleet.release(n);
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::debug!(
                "Subscribe from {} to {} ended having dropped {dropped} updates",
                self.peer,
                self.local
            );
        }
    }
}

/// Creates a queue of `depth` entries charged to `budgets`, for a stream from `peer`
/// to device `local`; returns the producer and the response stream.
pub(crate) fn channel(
    depth: usize,
    stats: Arc<DialinStats>,
    budgets: Budgets,
    peer: SocketAddr,
    local: SocketAddr,
) -> (QueueTx, QueueStream) {
    stats.active_subscriptions.fetch_add(1, Ordering::Relaxed);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        id,
        state: Mutex::new(State::default()),
        depth: depth.max(1),
        stats,
        budgets,
        queued: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        peer,
        local,
        gone: Notify::new(),
    });
    let member: Arc<dyn Evictable> = shared.clone();
    let member: Weak<dyn Evictable> = Arc::downgrade(&member);
    shared.budgets.fleet.join(id, member.clone());
    shared.budgets.connection.join(id, member);
    (QueueTx(shared.clone()), QueueStream(shared))
}

/// The producer side.
#[derive(Debug)]
pub(crate) struct QueueTx(Arc<Shared>);

impl QueueTx {
    /// Queues a `SubscribeResponse{update}` holding `updates` updates; may drop the oldest.
    pub(crate) fn push_update(&self, bytes: Vec<u8>, updates: usize) {
        self.push(Item {
            bytes: Bytes::from(bytes),
            updates: updates as u64,
            droppable: true,
            mark: None,
        });
    }

    /// Queues a response of a measured run: settled in `mark`'s ledger as sent when
    /// gRPC takes it, dropped when the queue drops it, discarded when the RPC ends first.
    pub(crate) fn push_run_update(&self, bytes: Bytes, updates: usize, mark: Mark) {
        self.push(Item {
            bytes,
            updates: updates as u64,
            droppable: true,
            mark: Some(mark),
        });
    }

    /// Queues a `SubscribeResponse{sync_response: true}` (never dropped).
    pub(crate) fn push_sync(&self) {
        self.push(Item {
            bytes: sync_response_bytes(),
            updates: 0,
            droppable: false,
            mark: None,
        });
    }

    fn push(&self, mut item: Item) {
        let shared = &*self.0;
        let n = item.bytes.len() as u64;
        {
            let st = shared.state.lock();
            if st.end.is_some() || st.consumer_gone {
                drop(st);
                item.settle(Mark::discarded);
                return;
            }
        }
        // Charged before taking the lock: making room may evict this very stream.
        if item.droppable {
            if !shared.charge(n) {
                shared.count_dropped(item.updates);
                item.settle(Mark::dropped);
                return;
            }
        } else {
            shared.budgets.connection.force_charge(n);
            shared.budgets.fleet.force_charge(n);
        }
        let waker = {
            let mut st = shared.state.lock();
            if st.end.is_some() || st.consumer_gone {
                shared.budgets.connection.release(n);
                shared.budgets.fleet.release(n);
                drop(st);
                item.settle(Mark::discarded);
                return;
            }
            if st.items.len() >= shared.depth
                && let Some(pos) = st.items.iter().position(|i| i.droppable)
                && let Some(mut old) = st.items.remove(pos)
            {
                shared.uncharge(&mut st, &old);
                shared.count_dropped(old.updates);
                old.settle(Mark::dropped);
            }
            st.bytes += n;
            shared.queued.store(st.bytes, Ordering::Relaxed);
            st.items.push_back(item);
            st.consumer.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Ends the stream after the queued entries: OK with `None`, else with `status`.
    pub(crate) fn finish(&self, status: Option<Status>) {
        let waker = {
            let mut st = self.0.state.lock();
            if st.end.is_none() {
                st.end = Some(status);
            }
            st.consumer.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether the response stream is gone (the RPC ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.0.state.lock().consumer_gone
    }

    /// Completes once the response stream is gone (the RPC ended). Cancel-safe.
    pub(crate) async fn closed(&self) {
        loop {
            if self.is_closed() {
                return;
            }
            self.0.gone.notified().await;
        }
    }
}

impl Drop for QueueTx {
    fn drop(&mut self) {
        // A producer that stops without saying how ends the stream OK.
        self.finish(None);
    }
}

/// The response stream tonic sends from.
#[derive(Debug)]
pub(crate) struct QueueStream(Arc<Shared>);

impl Stream for QueueStream {
    type Item = Result<Encoded, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut st = self.0.state.lock();
        if let Some(mut item) = st.items.pop_front() {
            self.0.uncharge(&mut st, &item);
            item.settle(Mark::sent);
            self.0
                .stats
                .updates_sent
                .fetch_add(item.updates, Ordering::Relaxed);
            return Poll::Ready(Some(Ok(Encoded(item.bytes))));
        }
        if st.finished {
            return Poll::Ready(None);
        }
        if let Some(end) = st.end.take() {
            st.finished = true;
            return Poll::Ready(end.map(Err));
        }
        st.consumer = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for QueueStream {
    fn drop(&mut self) {
        {
            // Nothing queued will be sent: free it (and its budget) now.
            let mut st = self.0.state.lock();
            st.consumer_gone = true;
            for mut item in std::mem::take(&mut st.items) {
                self.0.uncharge(&mut st, &item);
                item.settle(Mark::discarded);
            }
        }
        self.0.gone.notify_one();
        self.0
            .stats
            .active_subscriptions
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// The encoded `SubscribeResponse{sync_response: true}`.
fn sync_response_bytes() -> Bytes {
    static SYNC: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    SYNC.get_or_init(|| {
        Bytes::from(
            SubscribeResponse {
                response: Some(subscribe_response::Response::SyncResponse(true)),
                extension: Vec::new(),
            }
            .encode_to_vec(),
        )
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn decode(item: Option<Result<Encoded, Status>>) -> SubscribeResponse {
        SubscribeResponse::decode(item.unwrap().unwrap().0).unwrap()
    }

    /// Pools of `fleet` and `connection` bytes.
    fn budgets(stats: &Arc<DialinStats>, fleet: usize, connection: usize) -> Budgets {
        Budgets {
            fleet: Arc::new(Pool::fleet(fleet, stats.clone())),
            connection: Arc::new(Pool::connection(connection)),
        }
    }

    fn channel(depth: usize, stats: Arc<DialinStats>) -> (QueueTx, QueueStream) {
        let b = budgets(&stats, usize::MAX / 2, usize::MAX / 2);
        channel_in(depth, stats, b)
    }

    fn channel_in(depth: usize, stats: Arc<DialinStats>, b: Budgets) -> (QueueTx, QueueStream) {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        super::channel(depth, stats, b, addr, addr)
    }

    #[test]
    fn run_marks_settle_as_sent_dropped_or_discarded() {
        use nl6_ledger::{RunLedger, RunWindow};
        let window = RunWindow {
            start_ns: 0,
            end_ns: 10,
            slices: 1,
        };
        let ledger = Arc::new(RunLedger::new(window, Bytes::new()));
        let stats = Arc::new(DialinStats::default());
        let (tx, mut rx) = channel(2, stats);
        let push = |updates| {
            tx.push_run_update(Bytes::from_static(b"x"), updates, ledger.enter(1).unwrap())
        };
        push(1);
        push(2);
        // Full: the oldest is dropped for the third.
        push(3);
        assert_eq!(ledger.slice(0).dropped.updates, 1);
        assert!(matches!(
            rx.poll_next_unpin(&mut noop()),
            Poll::Ready(Some(Ok(_)))
        ));
        assert_eq!(ledger.slice(0).sent.updates, 2);
        // The client goes away with one still queued.
        drop(rx);
        assert_eq!(ledger.slice(0).discarded.updates, 3);
        push(4);
        assert_eq!(ledger.slice(0).discarded.updates, 7);
        assert_eq!(ledger.pending(), 0);
    }

    #[test]
    fn a_full_budget_drops_the_slowest_stream_not_the_one_that_reads() {
        let stats = Arc::new(DialinStats::default());
        // One fleet pool of 1000 bytes; each stream on its own connection.
        let fleet = budgets(&stats, 1000, 0).fleet;
        let on_own_connection = || Budgets {
            fleet: fleet.clone(),
            connection: Arc::new(Pool::connection(10_000)),
        };
        let (slow, _slow_rx) = channel_in(100, stats.clone(), on_own_connection());
        let (reader, mut reader_rx) = channel_in(100, stats.clone(), on_own_connection());
        for _ in 0..9 {
            slow.push_update(vec![0; 100], 2);
        }
        reader.push_update(vec![0; 100], 1);
        assert_eq!(stats.queued_bytes(), 1000, "exactly full");
        assert_eq!(stats.updates_dropped(), 0);
        // The reader takes its response and queues the next: fits again.
        assert!(matches!(
            reader_rx.poll_next_unpin(&mut noop()),
            Poll::Ready(Some(Ok(_)))
        ));
        reader.push_update(vec![0; 100], 1);
        // One more does not fit: the slow stream (900 bytes queued) loses all 9.
        reader.push_update(vec![0; 100], 1);
        assert_eq!(stats.updates_dropped(), 18);
        assert_eq!(slow.0.dropped.load(Ordering::Relaxed), 18);
        assert_eq!(reader.0.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(stats.budget_evictions(), 1);
        assert_eq!(stats.queued_bytes(), 200);
        // A response larger than the whole budget can never be sent: dropped, counted.
        reader.push_update(vec![0; 1001], 5);
        assert_eq!(reader.0.dropped.load(Ordering::Relaxed), 5);
        assert_eq!(stats.queued_bytes(), 200);
    }

    #[test]
    fn a_connection_over_its_share_drops_its_own_streams_only() {
        let stats = Arc::new(DialinStats::default());
        let b = budgets(&stats, 10_000, 300);
        let other = Budgets {
            fleet: b.fleet.clone(),
            connection: Arc::new(Pool::connection(300)),
        };
        let (a1, _r1) = channel_in(100, stats.clone(), b.clone());
        let (a2, _r2) = channel_in(100, stats.clone(), b);
        let (c, _r3) = channel_in(100, stats.clone(), other);
        c.push_update(vec![0; 250], 1);
        a1.push_update(vec![0; 100], 1);
        a1.push_update(vec![0; 100], 1);
        a2.push_update(vec![0; 100], 1);
        assert_eq!(stats.updates_dropped(), 0);
        a2.push_update(vec![0; 100], 1); // 400 > 300: a1 (200 bytes) is the slowest
        assert_eq!(a1.0.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(c.0.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(stats.queued_bytes(), 450);
        assert_eq!(a2.0.budgets.connection.used(), 200);
    }

    #[test]
    fn sync_responses_are_never_dropped_and_a_gone_reader_frees_its_bytes() {
        let stats = Arc::new(DialinStats::default());
        let b = budgets(&stats, 100, 100);
        let (tx, rx) = channel_in(100, stats.clone(), b);
        tx.push_update(vec![0; 100], 3);
        tx.push_sync(); // over the budget, still queued
        tx.push_update(vec![0; 50], 1); // evicts the first update, keeps the sync
        assert_eq!(stats.updates_dropped(), 3);
        assert_eq!(
            stats.queued_bytes(),
            50 + sync_response_bytes().len() as u64
        );
        drop(rx);
        assert_eq!(stats.queued_bytes(), 0);
        tx.push_update(vec![0; 10], 1); // after the reader left: ignored
        assert_eq!(stats.queued_bytes(), 0);
    }

    fn noop() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[tokio::test]
    async fn full_queue_drops_oldest_update_but_never_a_sync() {
        let stats = Arc::new(DialinStats::default());
        let (tx, mut rx) = channel(3, stats.clone());
        assert_eq!(stats.active_subscriptions.load(Ordering::Relaxed), 1);
        tx.push_sync();
        tx.push_update(vec![0x0a, 0x00], 5); // empty Notification, "5 updates"
        tx.push_update(vec![0x0a, 0x02, 0x08, 0x01], 7); // timestamp 1
        tx.push_update(vec![0x0a, 0x02, 0x08, 0x02], 9); // drops the 5
        assert_eq!(stats.updates_dropped.load(Ordering::Relaxed), 5);
        tx.finish(Some(Status::unavailable("bye")));
        tx.push_update(vec![0x0a, 0x00], 1); // after the end: ignored
        let first = decode(rx.next().await);
        assert_eq!(
            first.response,
            Some(subscribe_response::Response::SyncResponse(true))
        );
        let ts = |r: SubscribeResponse| match r.response {
            Some(subscribe_response::Response::Update(n)) => n.timestamp,
            other => panic!("{other:?}"),
        };
        assert_eq!(ts(decode(rx.next().await)), 1);
        assert_eq!(ts(decode(rx.next().await)), 2);
        assert_eq!(stats.updates_sent.load(Ordering::Relaxed), 16);
        let err = rx.next().await.unwrap().unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(rx.next().await.is_none());
        drop(rx);
        assert_eq!(stats.active_subscriptions.load(Ordering::Relaxed), 0);
        assert!(tx.is_closed());
        tx.closed().await;
    }

    #[tokio::test]
    async fn consumer_waits_and_producer_drop_ends_ok() {
        let stats = Arc::new(DialinStats::default());
        let (tx, mut rx) = channel(2, stats);
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while let Some(item) = rx.next().await {
                item.unwrap();
                n += 1;
            }
            n
        });
        tokio::task::yield_now().await;
        tx.push_sync();
        drop(tx);
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
    }
}
