//! One subscription's collections: a snapshot of the device (or one state event) → one
//! collection per sensor path, numbered, encoded and split. Dial-out and dial-in both
//! produce their collections here, so they send the same bytes for the same instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use nl6_resolver::{LeafSet, Snapshot};

use crate::encode::{Collection, CollectionEncoder, EncodedMessage, MdtEncoding};
use crate::row::Row;
use crate::sensor::SensorPath;

/// Counters of one MDT flavor, over every device using it.
#[derive(Debug, Default)]
pub struct MdtCounters {
    pub(crate) collections: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) rows_dropped: AtomicU64,
}

impl MdtCounters {
    /// Collections encoded.
    pub fn collections(&self) -> u64 {
        self.collections.load(Relaxed)
    }

    /// Wire messages produced (several per collection when it was split).
    pub fn messages(&self) -> u64 {
        self.messages.load(Relaxed)
    }

    /// Rows too large for a message of their own, dropped.
    pub fn rows_dropped(&self) -> u64 {
        self.rows_dropped.load(Relaxed)
    }
}

/// What one subscription stream sends, and the numbering and buffers it keeps.
pub(crate) struct Collector {
    hostname: Arc<str>,
    subscription_id: Arc<str>,
    sensor_paths: Arc<[SensorPath]>,
    encoding: MdtEncoding,
    max_payload: usize,
    counters: Arc<MdtCounters>,
    collection_id: u64,
    encoder: CollectionEncoder,
    messages: Vec<EncodedMessage>,
    /// The rows' allocation, kept empty between samples.
    rows: Vec<Row<'static>>,
    /// While the device takes part in a run: its tag and the `subscription_id_str` the
    /// collections carry then (`<subscription>@<tag>`).
    run: Option<(Arc<str>, Arc<str>)>,
}

/// The `subscription_id_str` of a run's messages: `<subscription>@<tag>`.
pub(crate) fn run_subscription_id(subscription: &str, tag: &str) -> String {
    format!("{subscription}@{tag}")
}

/// The subscription and run tag of a `subscription_id_str` nl6 sent during a measured
/// run (`<subscription>@<tag>`); `None` for a message outside any run.
pub fn split_run_tag(subscription_id_str: &str) -> Option<(&str, &str)> {
    subscription_id_str
        .split_once('@')
        .filter(|(_, tag)| !tag.is_empty())
}

impl Collector {
    /// A collector of `sensor_paths` for `subscription_id` of device `hostname`, in
    /// `encoding`, messages of at most `max_payload` bytes; `counters` count what it
    /// encodes.
    pub(crate) fn new(
        hostname: Arc<str>,
        subscription_id: Arc<str>,
        sensor_paths: Arc<[SensorPath]>,
        encoding: MdtEncoding,
        max_payload: usize,
        counters: Arc<MdtCounters>,
    ) -> Collector {
        Collector {
            hostname,
            subscription_id,
            sensor_paths,
            encoding,
            max_payload,
            counters,
            collection_id: 0,
            encoder: CollectionEncoder::new(),
            messages: Vec::new(),
            rows: Vec::new(),
            run: None,
        }
    }

    /// Tags the next collections with a run's `tag` (`None`: untagged, as usual).
    pub(crate) fn set_run_tag(&mut self, tag: Option<&Arc<str>>) {
        match (tag, &self.run) {
            (None, None) => {}
            (None, Some(_)) => self.run = None,
            (Some(tag), Some((current, _))) if current == tag => {}
            (Some(tag), _) => {
                let id = run_subscription_id(&self.subscription_id, tag);
                self.run = Some((tag.clone(), id.into()));
            }
        }
    }

    /// Hands `emit` every message (with its collection's id) of one collection per
    /// sensor path of `snapshot`. `event` is `Some(masks)` for one state event: only
    /// the interfaces whose mask is not empty, only the paths that carry state, rows
    /// with the state fields only. `speed_bps` is the device's link speed.
    pub(crate) fn collect(
        &mut self,
        snapshot: &Snapshot<'_>,
        speed_bps: u64,
        event: Option<&[LeafSet]>,
        mut emit: impl FnMut(u64, &EncodedMessage),
    ) {
        let mut rows = recycle(std::mem::take(&mut self.rows));
        Row::from_snapshot(snapshot, speed_bps, event, &mut rows);
        if !rows.is_empty() {
            let timestamp_ms = snapshot.timestamp_ns() / 1_000_000;
            for i in 0..self.sensor_paths.len() {
                let path = self.sensor_paths[i];
                if event.is_some() && !path.has_state() {
                    // Counters never change with interface state.
                    continue;
                }
                self.collection_id += 1;
                let collection = Collection {
                    path,
                    node_id: &self.hostname,
                    subscription_id: self
                        .run
                        .as_ref()
                        .map_or(&self.subscription_id, |(_, id)| id),
                    collection_id: self.collection_id,
                    timestamp_ms,
                    event: event.is_some(),
                    rows: &rows,
                };
                let mut messages = std::mem::take(&mut self.messages);
                let dropped = self.encoder.encode(
                    &collection,
                    self.encoding,
                    self.max_payload,
                    &mut messages,
                );
                self.counters.collections.fetch_add(1, Relaxed);
                self.counters
                    .messages
                    .fetch_add(messages.len() as u64, Relaxed);
                self.counters
                    .rows_dropped
                    .fetch_add(dropped as u64, Relaxed);
                for message in messages.drain(..) {
                    emit(self.collection_id, &message);
                }
                self.messages = messages;
            }
        }
        rows.clear();
        self.rows = recycle(rows);
    }
}

/// An empty vector of rows of another lifetime, on the same allocation (the standard
/// library collects in place when the element layout is the same).
pub(crate) fn recycle<'a, 'b>(mut rows: Vec<Row<'a>>) -> Vec<Row<'b>> {
    rows.clear();
    rows.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tags_follow_the_first_at() {
        let id = run_subscription_id("SUB1", "run-1-0000000000000007");
        assert_eq!(id, "SUB1@run-1-0000000000000007");
        assert_eq!(split_run_tag(&id), Some(("SUB1", "run-1-0000000000000007")));
        assert_eq!(split_run_tag("SUB1"), None);
        assert_eq!(split_run_tag("SUB1@"), None);
    }
}
