//! The 12 interface counters (`state/counters/*`).

/// One of the 12 uint64 counters under `state/counters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// `in-octets`.
    InOctets,
    /// `out-octets`.
    OutOctets,
    /// `in-unicast-pkts`.
    InUnicastPkts,
    /// `out-unicast-pkts`.
    OutUnicastPkts,
    /// `in-multicast-pkts`.
    InMulticastPkts,
    /// `out-multicast-pkts`.
    OutMulticastPkts,
    /// `in-broadcast-pkts`.
    InBroadcastPkts,
    /// `out-broadcast-pkts`.
    OutBroadcastPkts,
    /// `in-discards`.
    InDiscards,
    /// `out-discards`.
    OutDiscards,
    /// `in-errors`.
    InErrors,
    /// `out-errors`.
    OutErrors,
}

const NAMES: [&str; 12] = [
    "in-octets",
    "out-octets",
    "in-unicast-pkts",
    "out-unicast-pkts",
    "in-multicast-pkts",
    "out-multicast-pkts",
    "in-broadcast-pkts",
    "out-broadcast-pkts",
    "in-discards",
    "out-discards",
    "in-errors",
    "out-errors",
];

impl Counter {
    /// All counters in leaf order; `ALL[c.index()] == c`.
    pub const ALL: [Counter; 12] = [
        Counter::InOctets,
        Counter::OutOctets,
        Counter::InUnicastPkts,
        Counter::OutUnicastPkts,
        Counter::InMulticastPkts,
        Counter::OutMulticastPkts,
        Counter::InBroadcastPkts,
        Counter::OutBroadcastPkts,
        Counter::InDiscards,
        Counter::OutDiscards,
        Counter::InErrors,
        Counter::OutErrors,
    ];

    /// The YANG leaf name, e.g. `"in-octets"`.
    pub fn name(self) -> &'static str {
        NAMES[self.index()]
    }

    /// The counter with YANG leaf name `s` (exact match), if any.
    pub fn from_name(s: &str) -> Option<Counter> {
        NAMES.iter().position(|n| *n == s).map(|i| Counter::ALL[i])
    }

    /// Position in [`Counter::ALL`] and in [`Counters`]' array (0..12).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The 12 counter values of one interface at one instant, indexed by [`Counter::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters(pub [u64; 12]);

impl Counters {
    /// The value of counter `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c.index()]
    }

    /// `(counter, value)` pairs in leaf order.
    pub fn iter(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        Counter::ALL.iter().map(|c| (*c, self.get(*c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indexes_agree() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(Counter::from_name(c.name()), Some(*c));
        }
        assert_eq!(Counter::InOctets.name(), "in-octets");
        assert_eq!(Counter::OutErrors.name(), "out-errors");
        assert_eq!(Counter::from_name("in-octet"), None);
        let mut v = Counters::default();
        v.0[Counter::OutDiscards.index()] = 7;
        assert_eq!(v.get(Counter::OutDiscards), 7);
        assert_eq!(v.iter().filter(|(_, x)| *x == 7).count(), 1);
    }
}
