//! Measured runs over dial-in: per device, the STREAM Subscribe RPCs open now and the
//! [`RunSlot`] they share, so a run can find the devices being streamed and put them in.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use nl6_ledger::RunSlot;
use parking_lot::Mutex;

/// Per device address, its open STREAM RPCs and their run slot.
#[derive(Debug, Default)]
pub struct DialinRuns {
    devices: Mutex<HashMap<Ipv4Addr, Streams>>,
}

#[derive(Debug, Default)]
struct Streams {
    open: usize,
    slot: RunSlot,
}

impl DialinRuns {
    /// The STREAM RPCs open to device `ip` and the slot they share; `None` when none is.
    pub fn streaming(&self, ip: Ipv4Addr) -> Option<(usize, RunSlot)> {
        let devices = self.devices.lock();
        let streams = devices.get(&ip).filter(|s| s.open > 0)?;
        Some((streams.open, streams.slot.clone()))
    }

    /// Forgets the devices without an open stream that no run holds any more (kept
    /// while in a run, so that streams opened during it take part); called when a run
    /// looks for participants, so the map stays as small as the streamed devices.
    pub fn prune(&self) {
        self.devices
            .lock()
            .retain(|_, s| s.open > 0 || s.slot.in_run());
    }

    /// Counts one more STREAM RPC to `ip` until the registration is dropped.
    pub(crate) fn register(self: &Arc<Self>, ip: Ipv4Addr) -> Registration {
        let mut devices = self.devices.lock();
        let streams = devices.entry(ip).or_default();
        streams.open += 1;
        Registration {
            runs: self.clone(),
            ip,
            slot: streams.slot.clone(),
        }
    }
}

/// One open STREAM RPC of a device.
#[derive(Debug)]
pub(crate) struct Registration {
    runs: Arc<DialinRuns>,
    ip: Ipv4Addr,
    /// The device's run slot.
    pub(crate) slot: RunSlot,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut devices = self.runs.devices.lock();
        if let Some(streams) = devices.get_mut(&self.ip) {
            streams.open = streams.open.saturating_sub(1);
            // A device in a run keeps its slot: streams it opens later take part too.
            if streams.open == 0 && !streams.slot.in_run() {
                devices.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_counted_until_dropped() {
        let runs = Arc::new(DialinRuns::default());
        let ip = Ipv4Addr::new(127, 0, 0, 9);
        assert!(runs.streaming(ip).is_none());
        let a = runs.register(ip);
        let b = runs.register(ip);
        assert_eq!(runs.streaming(ip).map(|s| s.0), Some(2));
        drop(a);
        assert_eq!(runs.streaming(ip).map(|s| s.0), Some(1));
        drop(b);
        assert!(runs.streaming(ip).is_none());
        // Kept while in a run, forgotten by a prune after it.
        let c = runs.register(ip);
        c.slot.join(Arc::new(nl6_ledger::RunLedger::new(
            nl6_ledger::RunWindow {
                start_ns: 0,
                end_ns: 1,
                slices: 1,
            },
            bytes::Bytes::new(),
        )));
        let slot = c.slot.clone();
        drop(c);
        assert_eq!(runs.devices.lock().len(), 1);
        slot.leave();
        runs.prune();
        assert!(runs.devices.lock().is_empty());
    }
}
