//! The sessions' own flaps: per device and neighbour, whether a BGP flap holds the
//! session down now, and what the flaps done since boot left behind.

use std::collections::HashMap;

use parking_lot::RwLock;

/// Where a flapping session is while it is down.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DownState {
    /// `IDLE`: the session was just torn down.
    Idle,
    /// `ACTIVE`: trying to connect again.
    Active,
}

impl DownState {
    /// The `session-state` value.
    pub fn as_str(self) -> &'static str {
        match self {
            DownState::Idle => "IDLE",
            DownState::Active => "ACTIVE",
        }
    }
}

/// What one neighbour's own flaps left: whether one holds it down now, how many ended
/// since boot, and when the last one ended.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionFlaps {
    /// The state a flap in progress holds the session in; `None` = not flapping.
    pub down: Option<DownState>,
    /// Flaps that ended (the session established again) since boot.
    pub completed: u64,
    /// When the last flap ended, Unix ns (0 = none yet).
    pub last_established_ns: u64,
}

/// The BGP flaps of every device of a fleet, by device seed and neighbour index. Readers
/// (every gNMI read of a neighbour leaf) take a shared lock; only devices with a flap
/// since boot have an entry.
#[derive(Debug, Default)]
pub struct SessionTable {
    by_device: RwLock<HashMap<u64, HashMap<u32, SessionFlaps>>>,
}

impl SessionTable {
    /// Starts a flap of neighbour `neighbor` of device `device` (its seed) in `state`;
    /// `false` (and nothing changed) when one is in progress already.
    pub fn begin(&self, device: u64, neighbor: u32, state: DownState) -> bool {
        let mut by_device = self.by_device.write();
        let session = by_device
            .entry(device)
            .or_default()
            .entry(neighbor)
            .or_default();
        if session.down.is_some() {
            return false;
        }
        session.down = Some(state);
        true
    }

    /// Moves a flap in progress to `state`; `false` when there is none.
    pub fn advance(&self, device: u64, neighbor: u32, state: DownState) -> bool {
        let mut by_device = self.by_device.write();
        match by_device
            .get_mut(&device)
            .and_then(|d| d.get_mut(&neighbor))
        {
            Some(session) if session.down.is_some() => {
                session.down = Some(state);
                true
            }
            _ => false,
        }
    }

    /// Ends a flap in progress at `now_ns`: the session is established again; `false`
    /// when there is none.
    pub fn end(&self, device: u64, neighbor: u32, now_ns: u64) -> bool {
        let mut by_device = self.by_device.write();
        match by_device
            .get_mut(&device)
            .and_then(|d| d.get_mut(&neighbor))
        {
            Some(session) if session.down.is_some() => {
                session.down = None;
                session.completed += 1;
                session.last_established_ns = now_ns;
                true
            }
            _ => false,
        }
    }

    /// What neighbour `neighbor` of device `device` has been through (default: no flap).
    pub fn get(&self, device: u64, neighbor: u32) -> SessionFlaps {
        self.by_device
            .read()
            .get(&device)
            .and_then(|d| d.get(&neighbor))
            .copied()
            .unwrap_or_default()
    }

    /// Forgets device `device` (deleted or rebooted): its sessions start over.
    pub fn forget(&self, device: u64) {
        self.by_device.write().remove(&device);
    }

    /// Number of devices with an entry.
    pub fn len(&self) -> usize {
        self.by_device.read().len()
    }

    /// Whether no device has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flap_goes_down_advances_and_ends_once() {
        let table = SessionTable::default();
        assert_eq!(table.get(1, 0), SessionFlaps::default());
        assert!(!table.advance(1, 0, DownState::Active));
        assert!(!table.end(1, 0, 5));
        assert!(table.begin(1, 0, DownState::Idle));
        assert!(!table.begin(1, 0, DownState::Idle), "one flap at a time");
        assert_eq!(table.get(1, 0).down, Some(DownState::Idle));
        assert!(table.advance(1, 0, DownState::Active));
        assert!(table.end(1, 0, 7));
        assert_eq!(
            table.get(1, 0),
            SessionFlaps {
                down: None,
                completed: 1,
                last_established_ns: 7
            }
        );
        assert_eq!(table.get(1, 1), SessionFlaps::default());
        table.forget(1);
        assert!(table.is_empty());
    }
}
