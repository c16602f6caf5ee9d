//! The 17 leaves served under `/interfaces/interface[name=K]/state` and their classes.

use nl6_ifstate::Counter;

/// One leaf of an interface's `state` container.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// `state/name` (string, static).
    Name,
    /// `state/ifindex` (uint32, static).
    Ifindex,
    /// `state/oper-status` (enumeration, changes on link and admin transitions).
    OperStatus,
    /// `state/admin-status` (enumeration, changes on admin transitions).
    AdminStatus,
    /// `state/last-change` (uint64 Unix ns, changes with every state event).
    LastChange,
    /// `state/counters/<counter>` (uint64, never fires on-change).
    Counter(Counter),
}

/// How a leaf behaves over time, which decides what ON_CHANGE may subscribe to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LeafClass {
    /// Never changes (`name`, `ifindex`): sent in snapshots only.
    Static,
    /// Changes on interface-state events (`oper-status`, `admin-status`, `last-change`).
    OnChange,
    /// A counter: changes continuously and is only ever sampled.
    Counter,
}

/// Number of leaves per interface.
pub const LEAF_COUNT: usize = 17;

const SCALARS: [Leaf; 5] = [
    Leaf::Name,
    Leaf::Ifindex,
    Leaf::OperStatus,
    Leaf::AdminStatus,
    Leaf::LastChange,
];

impl Leaf {
    /// Every leaf, in wire order: the five scalars, then the 12 counters.
    pub fn all() -> impl Iterator<Item = Leaf> {
        (0..LEAF_COUNT).map(Leaf::from_index)
    }

    /// Position of the leaf in [`Leaf::all`] (0..17).
    pub fn index(self) -> usize {
        match self {
            Leaf::Name => 0,
            Leaf::Ifindex => 1,
            Leaf::OperStatus => 2,
            Leaf::AdminStatus => 3,
            Leaf::LastChange => 4,
            Leaf::Counter(c) => 5 + c.index(),
        }
    }

    /// The leaf at `index` (0..17); panics on an out-of-range index (internal use).
    pub(crate) fn from_index(index: usize) -> Leaf {
        if index < SCALARS.len() {
            SCALARS[index]
        } else {
            Leaf::Counter(Counter::ALL[index - SCALARS.len()])
        }
    }

    /// The YANG leaf name, e.g. `oper-status` or `in-octets`.
    pub fn name(self) -> &'static str {
        match self {
            Leaf::Name => "name",
            Leaf::Ifindex => "ifindex",
            Leaf::OperStatus => "oper-status",
            Leaf::AdminStatus => "admin-status",
            Leaf::LastChange => "last-change",
            Leaf::Counter(c) => c.name(),
        }
    }

    /// The leaf's class (static, on-change capable, or counter).
    pub fn class(self) -> LeafClass {
        match self {
            Leaf::Name | Leaf::Ifindex => LeafClass::Static,
            Leaf::OperStatus | Leaf::AdminStatus | Leaf::LastChange => LeafClass::OnChange,
            Leaf::Counter(_) => LeafClass::Counter,
        }
    }

    /// The leaf's path below the interface list entry, e.g. `state/counters/in-octets`.
    pub fn relative_path(self) -> String {
        match self {
            Leaf::Counter(c) => format!("state/counters/{}", c.name()),
            other => format!("state/{}", other.name()),
        }
    }
}

/// A set of leaves, one bit per leaf.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeafSet(u32);

impl LeafSet {
    /// No leaf.
    pub const EMPTY: LeafSet = LeafSet(0);
    /// All 17 leaves.
    pub const ALL: LeafSet = LeafSet((1 << LEAF_COUNT) - 1);
    /// `name` and `ifindex`.
    pub const STATIC: LeafSet = LeafSet(0b11);
    /// `oper-status`, `admin-status`, `last-change`.
    pub const ON_CHANGE: LeafSet = LeafSet(0b11100);
    /// The 12 counters.
    pub const COUNTERS: LeafSet = LeafSet(((1 << LEAF_COUNT) - 1) & !0b11111);

    /// The set whose bits are `bits` (bit i = the i-th leaf of [`Leaf::all`]);
    /// bits beyond the 17 leaves are ignored.
    pub fn from_bits(bits: u32) -> LeafSet {
        LeafSet(bits & LeafSet::ALL.0)
    }

    /// The raw bits of the set.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The set holding just `leaf`.
    pub fn of(leaf: Leaf) -> LeafSet {
        LeafSet(1 << leaf.index())
    }

    /// Whether `leaf` is in the set.
    pub fn contains(self, leaf: Leaf) -> bool {
        self.0 & (1 << leaf.index()) != 0
    }

    /// Adds `leaf`.
    pub fn insert(&mut self, leaf: Leaf) {
        self.0 |= 1 << leaf.index();
    }

    /// Leaves in either set.
    pub fn union(self, other: LeafSet) -> LeafSet {
        LeafSet(self.0 | other.0)
    }

    /// Leaves in both sets.
    pub fn intersect(self, other: LeafSet) -> LeafSet {
        LeafSet(self.0 & other.0)
    }

    /// Leaves of `self` not in `other`.
    pub fn without(self, other: LeafSet) -> LeafSet {
        LeafSet(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of leaves in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The leaves in wire order.
    pub fn iter(self) -> impl Iterator<Item = Leaf> {
        let bits = self.0;
        (0..LEAF_COUNT)
            .filter(move |i| bits & (1 << i) != 0)
            .map(Leaf::from_index)
    }
}

impl FromIterator<Leaf> for LeafSet {
    fn from_iter<I: IntoIterator<Item = Leaf>>(iter: I) -> Self {
        let mut set = LeafSet::EMPTY;
        for leaf in iter {
            set.insert(leaf);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_round_trip_and_classes_partition_the_leaves() {
        for (i, leaf) in Leaf::all().enumerate() {
            assert_eq!(leaf.index(), i);
            assert_eq!(Leaf::from_index(i), leaf);
            let class_set = match leaf.class() {
                LeafClass::Static => LeafSet::STATIC,
                LeafClass::OnChange => LeafSet::ON_CHANGE,
                LeafClass::Counter => LeafSet::COUNTERS,
            };
            assert!(class_set.contains(leaf), "{leaf:?}");
        }
        assert_eq!(
            LeafSet::STATIC.len() + LeafSet::ON_CHANGE.len() + LeafSet::COUNTERS.len(),
            LEAF_COUNT
        );
        assert_eq!(LeafSet::ALL.len(), 17);
        assert_eq!(
            Leaf::Counter(Counter::InOctets).relative_path(),
            "state/counters/in-octets"
        );
    }
}
