//! Encoding resolver snapshots straight into queued `SubscribeResponse` bytes.

use nl6_gnmi::proto::gnmi::Path;
use nl6_ifstate::DeviceModel;
use nl6_resolver::{LeafSet, ResponseEncoder, Selection, Snapshot, ValueEncoding, delete_response};
use tonic::Status;

use super::queue::QueueTx;
use crate::runs::Registration;

/// Writes one stream's responses (the resolver's fast path, in the device's notification
/// shape) into its queue.
pub(crate) struct Emitter {
    encoder: ResponseEncoder,
    encoding: ValueEncoding,
    target: Option<String>,
    tx: QueueTx,
    /// A STREAM RPC's place among its device's streams, through which it takes part in
    /// measured runs.
    run: Option<Registration>,
}

impl Emitter {
    /// An emitter for `device` at address `system_id` writing into `tx`.
    pub(crate) fn new(
        device: &DeviceModel,
        system_id: String,
        encoding: ValueEncoding,
        target: Option<String>,
        tx: QueueTx,
    ) -> Emitter {
        Emitter {
            encoder: ResponseEncoder::new(device).with_system_id(system_id),
            encoding,
            target,
            tx,
            run: None,
        }
    }

    /// The same emitter taking part in the runs `registration`'s device is put in.
    pub(crate) fn with_run(mut self, registration: Registration) -> Emitter {
        self.run = Some(registration);
        self
    }

    /// Queues the leaves of `masks` read from `snapshot`: one Notification, or one per
    /// list entry in a per-entry shape; sends nothing when that is no leaf.
    pub(crate) fn send(&mut self, snapshot: &Snapshot<'_>, masks: &[LeafSet]) {
        if masks.iter().all(|m| m.is_empty()) && snapshot.extras().is_empty() {
            return;
        }
        let tx = &self.tx;
        if let Some(ledger) = self.run.as_ref().and_then(|r| r.slot.ledger()) {
            // In a run: only what is read inside the window goes out, tagged.
            let at = snapshot.timestamp_ns();
            self.encoder.encode(
                snapshot,
                masks,
                self.encoding,
                self.target.as_deref(),
                &mut |out, updates| {
                    if updates > 0
                        && let Some(mark) = ledger.enter(at)
                    {
                        tx.push_run_update(tagged(out, ledger.suffix()), updates, mark);
                    }
                },
            );
            return;
        }
        self.encoder.encode(
            snapshot,
            masks,
            self.encoding,
            self.target.as_deref(),
            &mut |out, updates| {
                if updates > 0 {
                    tx.push_update(out, updates);
                }
            },
        );
    }

    /// Queues one Notification deleting `paths` at `timestamp_ns`; nothing when there is
    /// none.
    pub(crate) fn send_deletes(&mut self, timestamp_ns: u64, paths: Vec<Path>) {
        if paths.is_empty() {
            return;
        }
        let bytes = delete_response(timestamp_ns, self.target.as_deref(), paths);
        match self.run.as_ref().and_then(|r| r.slot.ledger()) {
            Some(ledger) => {
                if let Some(mark) = ledger.enter(timestamp_ns) {
                    self.tx
                        .push_run_update(tagged(bytes, ledger.suffix()), 0, mark);
                }
            }
            None => self.tx.push_update(bytes, 0),
        }
    }

    /// Captures `selection` now and queues it.
    pub(crate) fn send_current(&mut self, device: &DeviceModel, selection: &Selection) {
        if selection.is_empty() {
            return;
        }
        let snapshot = Snapshot::capture(device, nl6_ifstate::unix_now_ns(), selection);
        self.send(&snapshot, selection.masks());
    }

    /// Queues a `sync_response`.
    pub(crate) fn sync(&self) {
        self.tx.push_sync();
    }

    /// Ends the stream (OK with `None`) after what is queued.
    pub(crate) fn finish(&self, status: Option<Status>) {
        self.tx.finish(status);
    }

    /// Completes when the RPC is over (client gone or stream ended).
    pub(crate) async fn closed(&self) {
        self.tx.closed().await
    }
}

/// `response` followed by the run's tag (a `SubscribeResponse.extension`).
fn tagged(mut response: Vec<u8>, suffix: &bytes::Bytes) -> bytes::Bytes {
    response.extend_from_slice(suffix);
    bytes::Bytes::from(response)
}
