//! Subinterfaces (`openconfig-interfaces`
//! `/interfaces/interface[name]/subinterfaces/subinterface[index]/state`) as a subtree
//! that follows its parent interfaces.
//!
//! Every interface of a device has the same number of subinterfaces, indexed `0..n`.
//! A subinterface is operationally up exactly when its parent is, and its counters are a
//! seeded share of the parent's: each of the `n` takes at most `1/n` of every parent
//! counter, so their sum never exceeds the parent's, and they restart with the parent's
//! at a reboot.

use nl6_model::{
    DeviceKey, LeafClass, LeafSchema, LeafType, LinkStates, ParentKey, Subtree, SubtreeSchema,
    Value,
};

use crate::counter::Counter;
use crate::traffic::mix;

/// Most subinterfaces per interface a profile may declare.
pub const MAX_SUBINTERFACES: u32 = 64;

const fn leaf(path: &'static [&'static str], ty: LeafType, class: LeafClass) -> LeafSchema {
    LeafSchema { path, ty, class }
}

/// Where the subinterface leaves start being counters.
const FIRST_COUNTER: usize = 5;

/// The schema of `/interfaces/interface[name]/subinterfaces/subinterface[index]`.
pub static SUBINTERFACES: SubtreeSchema = SubtreeSchema {
    module: "openconfig-interfaces",
    list: &["interfaces", "interface", "subinterfaces", "subinterface"],
    key: Some("index"),
    leaves: &[
        leaf(&["state", "index"], LeafType::Uint32, LeafClass::Static),
        leaf(&["state", "name"], LeafType::String, LeafClass::Static),
        leaf(
            &["state", "admin-status"],
            LeafType::Enum,
            LeafClass::OnChange,
        ),
        leaf(
            &["state", "oper-status"],
            LeafType::Enum,
            LeafClass::OnChange,
        ),
        leaf(
            &["state", "last-change"],
            LeafType::Uint64,
            LeafClass::OnChange,
        ),
        sampled(&["state", "counters", "in-octets"]),
        sampled(&["state", "counters", "in-pkts"]),
        sampled(&["state", "counters", "in-unicast-pkts"]),
        sampled(&["state", "counters", "in-broadcast-pkts"]),
        sampled(&["state", "counters", "in-multicast-pkts"]),
        sampled(&["state", "counters", "in-discards"]),
        sampled(&["state", "counters", "in-errors"]),
        sampled(&["state", "counters", "out-octets"]),
        sampled(&["state", "counters", "out-pkts"]),
        sampled(&["state", "counters", "out-unicast-pkts"]),
        sampled(&["state", "counters", "out-broadcast-pkts"]),
        sampled(&["state", "counters", "out-multicast-pkts"]),
        sampled(&["state", "counters", "out-discards"]),
        sampled(&["state", "counters", "out-errors"]),
    ],
};

const fn sampled(path: &'static [&'static str]) -> LeafSchema {
    leaf(path, LeafType::Uint64, LeafClass::Sampled)
}

/// What each counter leaf (after [`FIRST_COUNTER`]) is made of: the parent counters it
/// sums (`in-pkts` is unicast + broadcast + multicast).
const SOURCES: [&[Counter]; 14] = [
    &[Counter::InOctets],
    &[
        Counter::InUnicastPkts,
        Counter::InBroadcastPkts,
        Counter::InMulticastPkts,
    ],
    &[Counter::InUnicastPkts],
    &[Counter::InBroadcastPkts],
    &[Counter::InMulticastPkts],
    &[Counter::InDiscards],
    &[Counter::InErrors],
    &[Counter::OutOctets],
    &[
        Counter::OutUnicastPkts,
        Counter::OutBroadcastPkts,
        Counter::OutMulticastPkts,
    ],
    &[Counter::OutUnicastPkts],
    &[Counter::OutBroadcastPkts],
    &[Counter::OutMulticastPkts],
    &[Counter::OutDiscards],
    &[Counter::OutErrors],
];

/// The subinterfaces of every interface of a device: entry `p * n + i` is subinterface
/// `i` of interface `p`. Shared by every device with the same interface names.
#[derive(Debug)]
pub struct Subinterfaces {
    per_interface: usize,
    /// `"0"`, `"1"`, … (the `index` keys).
    indexes: Vec<String>,
    /// Per interface, its `interface[name]` key.
    parents: Vec<[ParentKey; 1]>,
}

impl Subinterfaces {
    /// `per_interface` subinterfaces (at most [`MAX_SUBINTERFACES`]) on each interface of
    /// `names` (in ifindex order).
    pub fn new(names: &[String], per_interface: u32) -> Subinterfaces {
        let n = per_interface.min(MAX_SUBINTERFACES);
        Subinterfaces {
            per_interface: n as usize,
            indexes: (0..n).map(|i| i.to_string()).collect(),
            parents: names
                .iter()
                .map(|name| {
                    [ParentKey {
                        depth: 1,
                        name: "name",
                        value: name.clone(),
                    }]
                })
                .collect(),
        }
    }

    /// Subinterfaces per interface.
    pub fn per_interface(&self) -> usize {
        self.per_interface
    }

    /// The share of its parent's counters subinterface `sub` of interface `parent` has,
    /// as (numerator, denominator): at most `1 / per_interface`.
    fn share(&self, seed: u64, parent: usize, sub: usize) -> (u128, u128) {
        let w = mix(seed ^ mix((((parent as u64) << 16) | sub as u64) ^ 0x5b1f_0a7c_3e29_d461));
        let n = self.per_interface.max(1) as u128;
        (1 + u128::from(w % 1_000), 1_001 * n)
    }

    fn read(
        &self,
        device: DeviceKey,
        links: Option<&dyn LinkStates>,
        entry: usize,
        leaf: usize,
        unix_ns: u64,
    ) -> Option<Value> {
        if self.per_interface == 0 || entry >= self.entry_count() {
            return None;
        }
        let (parent, sub) = (entry / self.per_interface, entry % self.per_interface);
        let (up, changed_ns) = match links {
            Some(links) if parent < links.count() => links.oper_up(parent),
            _ => (true, 0),
        };
        Some(match leaf {
            0 => Value::Uint(sub as u64),
            1 => Value::Str(format!("{}.{sub}", self.parents[parent][0].value)),
            2 => Value::Enum("UP"),
            3 => Value::Enum(if up { "UP" } else { "DOWN" }),
            4 => Value::Uint(changed_ns),
            _ => {
                let sources = SOURCES.get(leaf - FIRST_COUNTER)?;
                let counters = links.map_or([0; 12], |l| l.counters(parent, unix_ns));
                let (num, den) = self.share(device.seed, parent, sub);
                let total: u128 = sources
                    .iter()
                    .map(|c| u128::from(counters[c.index()]) * num / den)
                    .sum();
                Value::Uint(total as u64)
            }
        })
    }
}

impl Subtree for Subinterfaces {
    fn schema(&self) -> &'static SubtreeSchema {
        &SUBINTERFACES
    }

    fn entry_count(&self) -> usize {
        self.parents.len() * self.per_interface
    }

    fn key(&self, entry: usize) -> &str {
        &self.indexes[entry % self.per_interface]
    }

    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, unix_ns: u64) -> Option<Value> {
        self.read(device, None, entry, leaf, unix_ns)
    }

    fn value_with_links(
        &self,
        device: DeviceKey,
        links: &dyn LinkStates,
        entry: usize,
        leaf: usize,
        unix_ns: u64,
    ) -> Option<Value> {
        self.read(device, Some(links), entry, leaf, unix_ns)
    }

    fn parent_keys(&self, entry: usize) -> &[ParentKey] {
        match self.parents.get(entry / self.per_interface.max(1)) {
            Some(keys) => keys,
            None => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceModel, DeviceSpec, LinkStatus};

    const T0: u64 = 1_763_000_000_000_000_000;

    fn uint(v: Option<Value>) -> u64 {
        match v {
            Some(Value::Uint(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    fn setup(per_interface: u32) -> (DeviceModel, Subinterfaces) {
        let device = DeviceModel::new(&DeviceSpec {
            seed: 5,
            interfaces: 3,
            ..Default::default()
        })
        .unwrap();
        let names: Vec<String> = (0..3).map(|i| device.names().name(i).to_string()).collect();
        (device, Subinterfaces::new(&names, per_interface))
    }

    #[test]
    fn entries_are_keyed_by_parent_and_index() {
        let (_, subs) = setup(2);
        assert_eq!(subs.entry_count(), 6);
        assert_eq!(subs.key(3), "1");
        assert_eq!(subs.parent_keys(3)[0].value, "Ethernet2");
        assert_eq!(
            SUBINTERFACES.list[subs.parent_keys(3)[0].depth],
            "interface"
        );
        let key = DeviceKey {
            seed: 5,
            boot_ns: 0,
        };
        assert_eq!(
            subs.value(key, 3, 1, 0),
            Some(Value::Str("Ethernet2.1".into()))
        );
        assert_eq!(subs.value(key, 6, 0, 0), None);
        assert_eq!(subs.value(key, 0, SUBINTERFACES.leaves.len(), 0), None);
        assert_eq!(Subinterfaces::new(&["x".into()], 0).entry_count(), 0);
        assert_eq!(SUBINTERFACES.leaves.len(), FIRST_COUNTER + SOURCES.len());
    }

    #[test]
    fn counters_are_a_bounded_share_of_the_parent_and_reset_with_it() {
        let (device, subs) = setup(4);
        let key = device.key();
        let at = device.boot_time_ns() + 3_600 * 1_000_000_000;
        let leaf = |path: &[&str]| SUBINTERFACES.leaf_index(path).unwrap();
        let in_octets = leaf(&["state", "counters", "in-octets"]);
        let in_pkts = leaf(&["state", "counters", "in-pkts"]);
        for parent in 0..3 {
            let c = device.counters_at(parent, at);
            let read = |sub: usize, leaf: usize, t: u64| {
                uint(subs.value_with_links(key, &device, parent * 4 + sub, leaf, t))
            };
            let octets: Vec<u64> = (0..4).map(|s| read(s, in_octets, at)).collect();
            assert!(octets.iter().all(|&o| o > 0), "{octets:?}");
            assert!(octets.iter().sum::<u64>() <= c.get(Counter::InOctets));
            let pkts: u64 = (0..4).map(|s| read(s, in_pkts, at)).sum();
            let parent_pkts = c.get(Counter::InUnicastPkts)
                + c.get(Counter::InBroadcastPkts)
                + c.get(Counter::InMulticastPkts);
            assert!(pkts <= parent_pkts);
            assert!(read(0, in_octets, at + 1_000_000_000) >= octets[0]);
        }
        let boot = device.reboot(at);
        let after = uint(subs.value_with_links(device.key(), &device, 0, in_octets, boot));
        assert_eq!(after, 0);
    }

    #[test]
    fn oper_status_follows_the_parent() {
        let (device, subs) = setup(2);
        let key = device.key();
        let oper = SUBINTERFACES.leaf_index(&["state", "oper-status"]).unwrap();
        let read = |entry| subs.value_with_links(key, &device, entry, oper, T0);
        assert_eq!(read(2), Some(Value::Enum("UP")));
        device.set_link(1, LinkStatus::Down, T0);
        assert_eq!(read(2), Some(Value::Enum("DOWN")));
        assert_eq!(read(3), Some(Value::Enum("DOWN")));
        assert_eq!(read(0), Some(Value::Enum("UP")));
        let last = SUBINTERFACES.leaf_index(&["state", "last-change"]).unwrap();
        assert_eq!(
            subs.value_with_links(key, &device, 3, last, T0),
            Some(Value::Uint(T0))
        );
    }
}
