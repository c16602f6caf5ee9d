//! BGP neighbours of simulated devices, as `openconfig-network-instance` subtrees of the
//! default instance's BGP protocol:
//!
//! - [`BgpNeighbors`], `…/bgp/neighbors/neighbor[neighbor-address]/state`: peer and local
//!   AS, peer type, `session-state`, `last-established`;
//! - [`BgpAfiSafis`], `…/neighbor[neighbor-address]/afi-safis/afi-safi[afi-safi-name]/state`:
//!   `active` and `prefixes/{received,sent,installed}`.
//!
//! The prefix of both is
//! `/network-instances/network-instance[name=default]/protocols/protocol[identifier=BGP][name=BGP]/bgp`.
//! A profile declares how many neighbours a device has; they have the addresses
//! `10.255.0.1`, `10.255.0.2`, … (250 per third octet) and one `IPV4_UNICAST` address
//! family each. Neighbour `n` (0-based) runs over interface `n mod interfaces`: while that
//! interface is operationally down its session is `ACTIVE` and it has no prefixes, so the
//! interface flap scenarios (and REST state changes) flap the sessions too. Every other
//! value is analytic: a function of the device seed, the neighbour and the instant, so a
//! profile's devices share one pair of subtrees.
//!
//! ```
//! use nl6_bgp::BgpNeighbors;
//! use nl6_model::{DeviceKey, Subtree, Value};
//!
//! let neighbors = BgpNeighbors::new(2);
//! assert_eq!(neighbors.key(1), "10.255.0.2");
//! let state = neighbors.schema().leaf_index(&["state", "session-state"]).unwrap();
//! let key = DeviceKey { seed: 1, boot_ns: 1_700_000_000_000_000_000 };
//! assert_eq!(neighbors.value(key, 0, state, 1_700_000_100_000_000_000), Some(Value::Enum("ESTABLISHED")));
//!
//! // Over a link that is down, the session is not established.
//! struct Down;
//! impl nl6_model::LinkStates for Down {
//!     fn count(&self) -> usize { 1 }
//!     fn oper_up(&self, _: usize) -> (bool, u64) { (false, 1_700_000_050_000_000_000) }
//! }
//! assert_eq!(
//!     neighbors.value_with_links(key, &Down, 1, state, 1_700_000_100_000_000_000),
//!     Some(Value::Enum("ACTIVE"))
//! );
//! ```

mod sessions;

pub use sessions::{DownState, SessionFlaps, SessionTable};

use std::sync::Arc;

use nl6_model::{
    DeviceKey, LeafClass, LeafSchema, LeafType, LinkStates, ModelInfo, ParentKey, Subtree,
    SubtreeSchema, Value,
};

/// The `openconfig-network-instance` model, as advertised in Capabilities.
pub const NETWORK_INSTANCE_MODEL: ModelInfo = ModelInfo {
    name: "openconfig-network-instance",
    organization: "OpenConfig working group",
    version: "4.4.1",
};

/// Most neighbours a device may have.
pub const MAX_NEIGHBORS: u32 = 1_024;

/// The one address family of every neighbour (the `afi-safi-name` key).
pub const AFI_SAFI: &str = "IPV4_UNICAST";

const NS_PER_S: u64 = 1_000_000_000;

/// The list path down to a neighbour.
const NEIGHBOR_LIST: &[&str] = &[
    "network-instances",
    "network-instance",
    "protocols",
    "protocol",
    "bgp",
    "neighbors",
    "neighbor",
];

/// The schema of `…/bgp/neighbors/neighbor[neighbor-address]`.
pub static NEIGHBORS: SubtreeSchema = SubtreeSchema {
    module: "openconfig-network-instance",
    list: NEIGHBOR_LIST,
    key: Some("neighbor-address"),
    leaves: &[
        leaf(
            &["state", "neighbor-address"],
            LeafType::String,
            LeafClass::Static,
        ),
        leaf(&["state", "peer-as"], LeafType::Uint32, LeafClass::Static),
        leaf(&["state", "local-as"], LeafType::Uint32, LeafClass::Static),
        leaf(&["state", "peer-type"], LeafType::Enum, LeafClass::Static),
        leaf(
            &["state", "session-state"],
            LeafType::Enum,
            LeafClass::OnChange,
        ),
        leaf(
            &["state", "last-established"],
            LeafType::Uint64,
            LeafClass::OnChange,
        ),
        leaf(
            &["state", "established-transitions"],
            LeafType::Uint64,
            LeafClass::OnChange,
        ),
    ],
};

/// The schema of `…/neighbor[neighbor-address]/afi-safis/afi-safi[afi-safi-name]`.
pub static AFI_SAFIS: SubtreeSchema = SubtreeSchema {
    module: "openconfig-network-instance",
    list: &[
        "network-instances",
        "network-instance",
        "protocols",
        "protocol",
        "bgp",
        "neighbors",
        "neighbor",
        "afi-safis",
        "afi-safi",
    ],
    key: Some("afi-safi-name"),
    leaves: &[
        leaf(
            &["state", "afi-safi-name"],
            LeafType::Enum,
            LeafClass::Static,
        ),
        leaf(&["state", "active"], LeafType::Bool, LeafClass::OnChange),
        leaf(
            &["state", "prefixes", "received"],
            LeafType::Uint32,
            LeafClass::Sampled,
        ),
        leaf(
            &["state", "prefixes", "sent"],
            LeafType::Uint32,
            LeafClass::Sampled,
        ),
        leaf(
            &["state", "prefixes", "installed"],
            LeafType::Uint32,
            LeafClass::Sampled,
        ),
    ],
};

const fn leaf(path: &'static [&'static str], ty: LeafType, class: LeafClass) -> LeafSchema {
    LeafSchema { path, ty, class }
}

/// The keys above a neighbour: the default instance and its BGP protocol.
fn instance_keys() -> Vec<ParentKey> {
    vec![
        ParentKey {
            depth: 1,
            name: "name",
            value: "default".to_string(),
        },
        ParentKey {
            depth: 3,
            name: "identifier",
            value: "BGP".to_string(),
        },
        ParentKey {
            depth: 3,
            name: "name",
            value: "BGP".to_string(),
        },
    ]
}

/// The address of neighbour `index` (0-based).
pub fn address(index: u32) -> String {
    format!("10.255.{}.{}", index / 250, index % 250 + 1)
}

/// The index of the neighbour at `address` among `count`, if there is one.
pub fn neighbor_index(address: &str, count: u32) -> Option<u32> {
    let rest = address.strip_prefix("10.255.")?;
    let (third, fourth) = rest.split_once('.')?;
    let (third, fourth): (u32, u32) = (third.parse().ok()?, fourth.parse().ok()?);
    if !(1..=250).contains(&fourth) || third >= 5 {
        return None;
    }
    let index = third * 250 + fourth - 1;
    (index < count && self::address(index) == address).then_some(index)
}

/// The session's own flap state, if the subtree reads a session table.
fn flaps_of(sessions: Option<&Arc<SessionTable>>, device: DeviceKey, n: usize) -> SessionFlaps {
    sessions.map_or_else(SessionFlaps::default, |t| t.get(device.seed, n as u32))
}

/// The SplitMix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of the device seed, a leaf family and a neighbour.
fn hash(seed: u64, family: u64, neighbor: u64) -> u64 {
    mix(seed
        ^ mix(family ^ 0x9e37_79b9_7f4a_7c15)
        ^ mix(neighbor ^ 0xd1b5_4a32_d192_ed03).rotate_left(29))
}

/// Whether neighbour `n`'s link is up, and when it last changed (up since boot when there
/// are no interfaces to ask).
fn link_of(links: Option<&dyn LinkStates>, n: usize) -> (bool, u64) {
    match links {
        Some(links) if links.count() > 0 => links.oper_up(n % links.count()),
        _ => (true, 0),
    }
}

/// The device's own AS: a private AS number, 64512…65511.
fn local_as(device: DeviceKey) -> u64 {
    64_512 + hash(device.seed, 0xa5, 0) % 1_000
}

/// `…/bgp/neighbors/neighbor[neighbor-address]/state`: a session is established a seeded
/// 30…300 s after the device booted, and while its interface is up.
#[derive(Debug)]
pub struct BgpNeighbors {
    keys: Vec<String>,
    parents: Vec<ParentKey>,
    sessions: Option<Arc<SessionTable>>,
}

impl BgpNeighbors {
    /// `count` neighbours (at most [`MAX_NEIGHBORS`]).
    pub fn new(count: u32) -> BgpNeighbors {
        BgpNeighbors {
            keys: (0..count.min(MAX_NEIGHBORS)).map(address).collect(),
            parents: instance_keys(),
            sessions: None,
        }
    }

    /// The same neighbours, whose sessions also go down in the flaps of `sessions`.
    pub fn with_sessions(mut self, sessions: Arc<SessionTable>) -> BgpNeighbors {
        self.sessions = Some(sessions);
        self
    }
}

impl BgpNeighbors {
    fn read(
        &self,
        device: DeviceKey,
        links: Option<&dyn LinkStates>,
        entry: usize,
        leaf: usize,
        _unix_ns: u64,
    ) -> Option<Value> {
        let key = self.keys.get(entry)?;
        let n = entry as u64;
        let (up, changed_ns) = link_of(links, entry);
        let flaps = flaps_of(self.sessions.as_ref(), device, entry);
        let first_up = device.boot_ns + (30 + hash(device.seed, 0xe5, n) % 271) * NS_PER_S;
        let last = first_up.max(flaps.last_established_ns);
        Some(match leaf {
            0 => Value::Str(key.clone()),
            1 => Value::Uint(65_000 + hash(device.seed, 0xb9, n) % 500),
            2 => Value::Uint(local_as(device)),
            3 => Value::Enum("EXTERNAL"),
            4 => Value::Enum(match flaps.down {
                Some(state) => state.as_str(),
                None if up => "ESTABLISHED",
                None => "ACTIVE",
            }),
            5 if up => Value::Uint(last.max(changed_ns)),
            5 => Value::Uint(last),
            6 => Value::Uint(1 + flaps.completed),
            _ => return None,
        })
    }
}

impl Subtree for BgpNeighbors {
    fn schema(&self) -> &'static SubtreeSchema {
        &NEIGHBORS
    }

    fn entry_count(&self) -> usize {
        self.keys.len()
    }

    fn key(&self, entry: usize) -> &str {
        &self.keys[entry]
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

    fn parent_keys(&self, _entry: usize) -> &[ParentKey] {
        &self.parents
    }
}

/// `…/neighbor[neighbor-address]/afi-safis/afi-safi[IPV4_UNICAST]/state`: while the
/// session is up, prefix counts that drift by ±1 % on a 10-minute wave around a seeded level (received 1,000…50,000,
/// installed 90…100 % of it, sent 10…2,000).
#[derive(Debug)]
pub struct BgpAfiSafis {
    /// Per neighbour, the instance keys and its `neighbor[neighbor-address]` key.
    parents: Vec<Vec<ParentKey>>,
    sessions: Option<Arc<SessionTable>>,
}

impl BgpAfiSafis {
    /// The address families of `count` neighbours (at most [`MAX_NEIGHBORS`]).
    pub fn new(count: u32) -> BgpAfiSafis {
        let parents = (0..count.min(MAX_NEIGHBORS))
            .map(|i| {
                let mut keys = instance_keys();
                keys.push(ParentKey {
                    depth: NEIGHBOR_LIST.len() - 1,
                    name: "neighbor-address",
                    value: address(i),
                });
                keys
            })
            .collect();
        BgpAfiSafis {
            parents,
            sessions: None,
        }
    }

    /// The same address families, inactive while a flap of `sessions` holds their
    /// session down.
    pub fn with_sessions(mut self, sessions: Arc<SessionTable>) -> BgpAfiSafis {
        self.sessions = Some(sessions);
        self
    }
}

/// `level` ± 1 % on a 10-minute wave with a phase from `w`.
fn drift(level: f64, w: u64, unix_ns: u64) -> u64 {
    const PERIOD_NS: u64 = 600 * NS_PER_S;
    let x = ((unix_ns + w % PERIOD_NS) % PERIOD_NS) as f64 / PERIOD_NS as f64;
    (level * (1.0 + 0.01 * (std::f64::consts::TAU * x).sin())).round() as u64
}

impl BgpAfiSafis {
    fn read(
        &self,
        device: DeviceKey,
        links: Option<&dyn LinkStates>,
        entry: usize,
        leaf: usize,
        unix_ns: u64,
    ) -> Option<Value> {
        if entry >= self.parents.len() {
            return None;
        }
        let (link_up, _) = link_of(links, entry);
        let up = link_up
            && flaps_of(self.sessions.as_ref(), device, entry)
                .down
                .is_none();
        let n = entry as u64;
        let unit = |w: u64| (w >> 11) as f64 / (1u64 << 53) as f64;
        let w = hash(device.seed, 0x9f, n);
        let received = if up {
            drift(1_000.0 + 49_000.0 * unit(w), w.rotate_left(7), unix_ns)
        } else {
            0
        };
        Some(match leaf {
            0 => Value::Enum(AFI_SAFI),
            1 => Value::Bool(up),
            2 => Value::Uint(received),
            3 if !up => Value::Uint(0),
            3 => {
                let w = hash(device.seed, 0x5e, n);
                Value::Uint(drift(10.0 + 1_990.0 * unit(w), w.rotate_left(7), unix_ns))
            }
            4 => {
                let share = 0.9 + 0.1 * unit(w.rotate_left(31));
                Value::Uint((received as f64 * share) as u64)
            }
            _ => return None,
        })
    }
}

impl Subtree for BgpAfiSafis {
    fn schema(&self) -> &'static SubtreeSchema {
        &AFI_SAFIS
    }

    fn entry_count(&self) -> usize {
        self.parents.len()
    }

    fn key(&self, _entry: usize) -> &str {
        AFI_SAFI
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
        self.parents.get(entry).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: DeviceKey = DeviceKey {
        seed: 9,
        boot_ns: 1_700_000_000_000_000_000,
    };

    fn uint(v: Option<Value>) -> u64 {
        match v {
            Some(Value::Uint(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn addresses_are_distinct_and_keys_sit_on_their_lists() {
        let n = BgpNeighbors::new(MAX_NEIGHBORS + 5);
        assert_eq!(n.entry_count(), MAX_NEIGHBORS as usize);
        let mut seen: Vec<&str> = (0..n.entry_count()).map(|e| n.key(e)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), MAX_NEIGHBORS as usize);
        assert_eq!(n.key(249), "10.255.0.250");
        assert_eq!(n.key(250), "10.255.1.1");
        for p in n.parent_keys(0) {
            assert!(["network-instance", "protocol"].contains(&NEIGHBORS.list[p.depth]));
        }
        let afi = BgpAfiSafis::new(3);
        let last = afi.parent_keys(2).last().unwrap();
        assert_eq!(
            (AFI_SAFIS.list[last.depth], last.value.as_str()),
            ("neighbor", "10.255.0.3")
        );
    }

    #[test]
    fn sessions_come_up_after_boot_and_prefix_counts_hold_together() {
        let n = BgpNeighbors::new(4);
        for e in 0..4 {
            let up = uint(n.value(KEY, e, 5, 0));
            assert!((KEY.boot_ns + 30 * NS_PER_S..=KEY.boot_ns + 300 * NS_PER_S).contains(&up));
            assert!((65_000..65_500).contains(&uint(n.value(KEY, e, 1, 0))));
        }
        assert_eq!(uint(n.value(KEY, 0, 2, 0)), uint(n.value(KEY, 3, 2, 0)));
        assert_eq!(n.value(KEY, 0, 6, 0), Some(Value::Uint(1)));
        assert_eq!(n.value(KEY, 0, 7, 0), None);
        let afi = BgpAfiSafis::new(4);
        for t in (0..600).map(|s| KEY.boot_ns + s * NS_PER_S) {
            let received = uint(afi.value(KEY, 1, 2, t));
            let installed = uint(afi.value(KEY, 1, 4, t));
            assert!((990..=50_500).contains(&received), "{received}");
            assert!(installed <= received && installed * 10 >= received * 9 - 10);
            assert!((9..=2_021).contains(&uint(afi.value(KEY, 1, 3, t))));
        }
        assert_eq!(afi.value(KEY, 4, 2, 0), None);
    }
}

#[cfg(test)]
mod flap_tests {
    use super::*;

    #[test]
    fn a_flap_takes_the_session_through_idle_and_active_and_counts() {
        let key = DeviceKey {
            seed: 3,
            boot_ns: 1_700_000_000_000_000_000,
        };
        let table = Arc::new(SessionTable::default());
        let n = BgpNeighbors::new(2).with_sessions(table.clone());
        let afi = BgpAfiSafis::new(2).with_sessions(table.clone());
        let at = key.boot_ns + 86_400 * NS_PER_S;
        let state = |e| n.value(key, e, 4, at);
        assert_eq!(state(1), Some(Value::Enum("ESTABLISHED")));
        assert_eq!(n.value(key, 1, 6, at), Some(Value::Uint(1)));
        assert!(table.begin(3, 1, DownState::Idle));
        assert_eq!(state(1), Some(Value::Enum("IDLE")));
        assert_eq!(state(0), Some(Value::Enum("ESTABLISHED")));
        assert_eq!(afi.value(key, 1, 1, at), Some(Value::Bool(false)));
        assert_eq!(afi.value(key, 1, 2, at), Some(Value::Uint(0)));
        table.advance(3, 1, DownState::Active);
        assert_eq!(state(1), Some(Value::Enum("ACTIVE")));
        table.end(3, 1, at);
        assert_eq!(state(1), Some(Value::Enum("ESTABLISHED")));
        assert_eq!(n.value(key, 1, 5, at), Some(Value::Uint(at)));
        assert_eq!(n.value(key, 1, 6, at), Some(Value::Uint(2)));
        assert_eq!(afi.value(key, 1, 1, at), Some(Value::Bool(true)));
    }

    #[test]
    fn neighbor_addresses_map_back_to_their_index() {
        for i in [0, 1, 249, 250, 1_023] {
            assert_eq!(neighbor_index(&address(i), 1_024), Some(i));
        }
        for bad in [
            "10.255.0.0",
            "10.255.0.251",
            "10.255.0.01",
            "10.255.0.5",
            "1.2.3.4",
            "x",
        ] {
            assert_eq!(neighbor_index(bad, 4), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    /// Two interfaces that last changed at `.0`: the first up, the second down.
    struct Links(u64);

    impl LinkStates for Links {
        fn count(&self) -> usize {
            2
        }
        fn oper_up(&self, idx: usize) -> (bool, u64) {
            (idx == 0, self.0)
        }
    }

    #[test]
    fn a_session_follows_the_interface_it_runs_over() {
        let key = DeviceKey {
            seed: 4,
            boot_ns: 1_700_000_000_000_000_000,
        };
        let late = key.boot_ns + 86_400 * NS_PER_S;
        let (n, afi) = (BgpNeighbors::new(3), BgpAfiSafis::new(3));
        let read = |e, leaf| n.value_with_links(key, &Links(late), e, leaf, late + 1);
        // Neighbours 0 and 2 ride interface 0 (up), neighbour 1 interface 1 (down).
        assert_eq!(read(0, 4), Some(Value::Enum("ESTABLISHED")));
        assert_eq!(read(2, 4), Some(Value::Enum("ESTABLISHED")));
        assert_eq!(read(1, 4), Some(Value::Enum("ACTIVE")));
        assert_eq!(read(0, 5), Some(Value::Uint(late)));
        assert!(matches!(read(1, 5), Some(Value::Uint(t)) if t < late));
        let prefixes = |e, leaf| afi.value_with_links(key, &Links(late), e, leaf, late + 1);
        assert_eq!(prefixes(1, 1), Some(Value::Bool(false)));
        for leaf in 2..=4 {
            assert_eq!(prefixes(1, leaf), Some(Value::Uint(0)));
        }
        assert!(matches!(prefixes(0, 2), Some(Value::Uint(v)) if v >= 990));
    }
}
