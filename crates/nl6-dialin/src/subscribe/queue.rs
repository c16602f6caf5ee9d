//! The bounded, drop-oldest queue between a Subscribe stream's producer and gRPC.
//!
//! Producers never wait: when the queue is full the oldest droppable entry (an update,
//! never a `sync_response`) is discarded and its updates are counted in
//! `updates_dropped`. The consumer side is the response stream tonic polls; dropping it
//! (client gone, RPC over) tells the producer to stop.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::Stream;
use nl6_gnmi::codec::Encoded;
use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response};
use parking_lot::Mutex;
use prost::Message;
use tokio::sync::Notify;
use tonic::Status;

use crate::stats::DialinStats;

/// One queued response.
#[derive(Debug)]
struct Item {
    bytes: Bytes,
    /// Number of `Update` entries in it (0 for a `sync_response`).
    updates: u64,
    /// Whether a full queue may discard it.
    droppable: bool,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Item>,
    /// How the stream ends once `items` is drained: `Some(None)` = OK.
    end: Option<Option<Status>>,
    /// The end was delivered; the stream is over.
    finished: bool,
    consumer: Option<Waker>,
    consumer_gone: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    depth: usize,
    stats: Arc<DialinStats>,
    gone: Notify,
}

/// Creates a queue of `depth` entries; returns the producer and the response stream.
pub(crate) fn channel(depth: usize, stats: Arc<DialinStats>) -> (QueueTx, QueueStream) {
    stats.active_subscriptions.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        depth: depth.max(1),
        stats,
        gone: Notify::new(),
    });
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
        });
    }

    /// Queues a `SubscribeResponse{sync_response: true}` (never dropped).
    pub(crate) fn push_sync(&self) {
        self.push(Item {
            bytes: sync_response_bytes(),
            updates: 0,
            droppable: false,
        });
    }

    fn push(&self, item: Item) {
        let waker = {
            let mut st = self.0.state.lock();
            if st.end.is_some() || st.consumer_gone {
                return;
            }
            if st.items.len() >= self.0.depth
                && let Some(pos) = st.items.iter().position(|i| i.droppable)
                && let Some(old) = st.items.remove(pos)
            {
                self.0
                    .stats
                    .updates_dropped
                    .fetch_add(old.updates, Ordering::Relaxed);
            }
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
        if let Some(item) = st.items.pop_front() {
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
        self.0.state.lock().consumer_gone = true;
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
