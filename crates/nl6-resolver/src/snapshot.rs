//! Reading a device at one captured instant.

use nl6_ifstate::{Counters, DeviceModel, IfState, InterfaceNames};
use nl6_model::{Subtrees, Value};

use crate::leaf::{Leaf, LeafSet};
use crate::select::Selection;

/// What one interface reads at the captured instant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InterfaceReading {
    /// Link, admin and last-change.
    pub state: IfState,
    /// The 12 counters (all zero when no counter was asked for).
    pub counters: Counters,
}

/// A leaf's value, before encoding.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LeafValue<'a> {
    /// A string (`name`).
    Str(&'a str),
    /// An enumeration value, e.g. `UP` (`oper-status`, `admin-status`).
    Enum(&'static str),
    /// A uint32 (`ifindex`).
    U32(u32),
    /// A uint64 (`last-change`, counters).
    U64(u64),
}

/// A device's values at one instant: every value a response carries comes from here,
/// so two views built from the same snapshot agree exactly.
#[derive(Clone, Debug)]
pub struct Snapshot<'m> {
    names: &'m InterfaceNames,
    timestamp_ns: u64,
    readings: Vec<Option<InterfaceReading>>,
    subtrees: Option<&'m Subtrees>,
    extras: Vec<ExtraReading>,
}

/// One leaf of one entry of a device's other subtrees, read at the captured instant.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtraReading {
    /// Index of the subtree in the device's [`Subtrees`].
    pub subtree: u16,
    /// The entry.
    pub entry: u32,
    /// The leaf (index into the subtree schema's leaves).
    pub leaf: u8,
    /// Its value.
    pub value: Value,
}

impl<'m> Snapshot<'m> {
    /// Reads the interfaces `selection` touches at `timestamp_ns` (Unix ns).
    pub fn capture(model: &'m DeviceModel, timestamp_ns: u64, selection: &Selection) -> Self {
        let readings = selection
            .masks()
            .iter()
            .enumerate()
            .map(|(idx, mask)| {
                if mask.is_empty() {
                    return None;
                }
                let counters = if mask.intersect(LeafSet::COUNTERS).is_empty() {
                    Counters([0; 12])
                } else {
                    model.counters_at(idx, timestamp_ns)
                };
                Some(InterfaceReading {
                    state: model.state(idx),
                    counters,
                })
            })
            .collect();
        let subtrees = model.subtrees().map(|s| &**s);
        let mut extras = Vec::new();
        if let Some(subtrees) = subtrees {
            let key = model.key();
            for pick in selection.extras() {
                let Some(subtree) = subtrees.get(usize::from(pick.subtree)) else {
                    continue;
                };
                let entry = pick.entry as usize;
                for leaf in (0..64).filter(|b| pick.leaves & (1 << b) != 0) {
                    if let Some(value) =
                        subtree.value_with_links(key, model, entry, leaf, timestamp_ns)
                    {
                        extras.push(ExtraReading {
                            subtree: pick.subtree,
                            entry: pick.entry,
                            leaf: leaf as u8,
                            value,
                        });
                    }
                }
            }
        }
        Snapshot {
            names: model.names(),
            timestamp_ns,
            readings,
            subtrees,
            extras,
        }
    }

    /// A snapshot of one interface in a known state (an on-change event's `after`).
    pub fn of_state(model: &'m DeviceModel, timestamp_ns: u64, idx: usize, state: IfState) -> Self {
        let mut readings = vec![None; model.interface_count()];
        if let Some(slot) = readings.get_mut(idx) {
            *slot = Some(InterfaceReading {
                state,
                counters: Counters([0; 12]),
            });
        }
        Snapshot {
            names: model.names(),
            timestamp_ns,
            readings,
            subtrees: None,
            extras: Vec::new(),
        }
    }

    /// The same instant with only the other-subtree leaves `selection` picks (for one
    /// path of a request whose union was captured).
    pub fn narrowed(&self, selection: &Selection) -> Snapshot<'m> {
        let picks = selection.extras();
        self.keeping_extras(|r| {
            picks.iter().any(|p| {
                (p.subtree, p.entry) == (r.subtree, r.entry) && p.leaves & (1 << r.leaf) != 0
            })
        })
    }

    /// The same instant with only the other-subtree leaves whose value differs from
    /// `before` (for `suppress_redundant` and on-change).
    pub fn changed_since(&self, before: &Snapshot<'_>) -> Snapshot<'m> {
        self.changed_since_readings(&before.extras)
    }

    /// The same instant with only the other-subtree leaves whose value differs from
    /// the readings `before` (what was last sent).
    pub fn changed_since_readings(&self, before: &[ExtraReading]) -> Snapshot<'m> {
        self.keeping_extras(|r| !before.contains(r))
    }

    /// The same instant with the interface readings and the other-subtree readings
    /// `keep` accepts.
    fn keeping_extras(&self, keep: impl Fn(&ExtraReading) -> bool) -> Snapshot<'m> {
        Snapshot {
            extras: self.extras.iter().filter(|r| keep(r)).cloned().collect(),
            readings: self.readings.clone(),
            ..*self
        }
    }

    /// The leaves of the device's other subtrees read at this instant, in update order.
    pub fn extras(&self) -> &[ExtraReading] {
        &self.extras
    }

    /// The device's other subtrees (for the schema and keys of [`Snapshot::extras`]).
    pub fn subtrees(&self) -> Option<&'m Subtrees> {
        self.subtrees
    }

    /// The captured instant, Unix ns.
    pub fn timestamp_ns(&self) -> u64 {
        self.timestamp_ns
    }

    /// The interface names of the device.
    pub fn names(&self) -> &'m InterfaceNames {
        self.names
    }

    /// The reading of interface `idx`, when captured.
    pub fn reading(&self, idx: usize) -> Option<&InterfaceReading> {
        self.readings.get(idx).and_then(Option::as_ref)
    }

    /// The value of `leaf` on interface `idx`, when captured.
    pub fn value(&self, idx: usize, leaf: Leaf) -> Option<LeafValue<'m>> {
        let reading = self.reading(idx)?;
        Some(match leaf {
            Leaf::Name => LeafValue::Str(self.names.name(idx)),
            Leaf::Ifindex => LeafValue::U32(idx as u32 + 1),
            Leaf::OperStatus => LeafValue::Enum(reading.state.oper().as_str()),
            Leaf::AdminStatus => LeafValue::Enum(reading.state.admin.as_str()),
            Leaf::LastChange => LeafValue::U64(reading.state.last_change_ns),
            Leaf::Counter(c) => LeafValue::U64(reading.counters.get(c)),
        })
    }
}
