//! Taking part in a measured run: while a device's [`RunSlot`] holds a [`RunLedger`], it
//! emits only the samples taken inside the run's window, appends the run's tag to each
//! message, and accounts every message it emits — sent, dropped from the queue,
//! discarded with a broken stream, failed to send — per slice of the window. The ledger
//! itself is `nl6-ledger`'s, shared with the other protocols runs measure.

use std::sync::Arc;

use bytes::BytesMut;

pub use nl6_ledger::{
    FlowStall, Latencies, Mark, RunLedger, RunSlot, RunWindow, SliceTally, Tally,
};

use crate::session::WireMessage;

/// What a sample taken at `at_ns` may emit under `ledger`: `None` to stay silent,
/// otherwise the message (tagged) and its mark.
pub(crate) fn admit(
    ledger: Option<&Arc<RunLedger>>,
    message: WireMessage,
    at_ns: u64,
) -> Option<(WireMessage, Option<Mark>)> {
    let Some(ledger) = ledger else {
        return Some((message, None));
    };
    let mark = ledger.enter(at_ns)?;
    mark.offer(message.updates);
    let suffix = ledger.suffix();
    let bytes = if suffix.is_empty() {
        message.bytes
    } else {
        let mut tagged = BytesMut::with_capacity(message.bytes.len() + suffix.len());
        tagged.extend_from_slice(&message.bytes);
        tagged.extend_from_slice(suffix);
        tagged.freeze()
    };
    Some((
        WireMessage {
            bytes,
            updates: message.updates,
        },
        Some(mark),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn window() -> RunWindow {
        RunWindow {
            start_ns: 1_000,
            end_ns: 2_000,
            slices: 10,
        }
    }

    #[test]
    fn admitted_messages_are_tagged_and_settle_once() {
        let ledger = Arc::new(RunLedger::new(window(), Bytes::from_static(b"TAG")));
        let message = || WireMessage {
            bytes: Bytes::from_static(b"m"),
            updates: 5,
        };
        assert!(admit(Some(&ledger), message(), 10).is_none());
        assert_eq!(ledger.suppressed(), 1);
        let (tagged, mark) = admit(Some(&ledger), message(), 1_150).unwrap();
        assert_eq!(&tagged.bytes[..], b"mTAG");
        assert_eq!(ledger.pending(), 1);
        mark.unwrap().sent(tagged.updates);
        assert_eq!(ledger.slice(1).admitted.updates, 5);
        assert_eq!(ledger.pending(), 0);
        assert_eq!(
            ledger.slice(1).sent,
            Tally {
                messages: 1,
                updates: 5
            }
        );
        let (_, mark) = admit(Some(&ledger), message(), 1_950).unwrap();
        mark.unwrap().dropped(5);
        assert_eq!(ledger.slice(9).dropped.messages, 1);
        let (free, mark) = admit(None, message(), 10).unwrap();
        assert!(mark.is_none());
        assert_eq!(&free.bytes[..], b"m");
    }
}
