//! The fleet's topology: links between two devices' interfaces, which each end hears as
//! an LLDP neighbour (`openconfig-lldp`, see [`nl6_lldp`]).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

use nl6_ifstate::{InterfaceNames, unix_now_ns};
use nl6_lldp::{LLDP_MODEL, LldpNeighbors, Neighbor, NeighborTable, chassis_id};
use nl6_model::{NotificationShape, Subtree, Subtrees};
use nl6_profile::ProfileRegistry;
use parking_lot::Mutex;

use crate::device::{BatchSpec, Device};
use crate::directory::DeviceMap;
use crate::error::FleetError;
use crate::fleet::Fleet;

/// Most links a fleet holds.
pub const MAX_LINKS: usize = 100_000;

/// Most links one request may add.
pub const MAX_LINKS_PER_REQUEST: usize = 512;

/// One end of a link: a device and one of its interfaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkEnd {
    /// The device address.
    pub device: Ipv4Addr,
    /// The interface name, as the device names it (`Ethernet1`, `et-0/0/0`).
    pub interface: String,
}

/// A link between two devices' interfaces: each end hears the other as its LLDP
/// neighbour on that interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// One end.
    pub a: LinkEnd,
    /// The other end.
    pub b: LinkEnd,
}

impl Fleet {
    /// Links pairs of device interfaces, all or none (see [`Link`]): both ends then hear
    /// each other as LLDP neighbours, and their ON_CHANGE readers get the new neighbour.
    /// Every device and interface must exist, an interface has at most one link, and a
    /// link joins two different devices; the error names the field
    /// (`links[2].b.interface`). Returns how many links were added.
    pub fn link(&self, links: &[Link]) -> Result<usize, FleetError> {
        self.topology.link(links, &self.devices, &self.profiles)
    }

    /// Every link, once each, ordered by its `a` end (the smaller end).
    pub fn links(&self) -> Vec<Link> {
        self.topology.links(&self.devices)
    }

    /// Removes the link at `end` (either end); both ends stop hearing each other, and
    /// their ON_CHANGE readers get a delete of the neighbour. Returns the link.
    pub fn unlink(&self, end: &LinkEnd) -> Result<Link, FleetError> {
        self.topology.unlink(end, &self.devices)
    }

    /// Removes every link; returns how many there were.
    pub fn unlink_all(&self) -> usize {
        self.topology.unlink_all(&self.devices)
    }
}

/// The subtrees of a batch whose profile serves LLDP: the profile's `base` subtrees and
/// one neighbour slot per interface, read from `neighbors`, in the base's notification
/// shape; Capabilities add `openconfig-lldp`.
pub(crate) fn with_lldp(
    base: Option<&Subtrees>,
    spec: &BatchSpec,
    neighbors: &Arc<NeighborTable>,
) -> Arc<Subtrees> {
    let names = InterfaceNames::for_style(spec.interface_naming, spec.interfaces);
    let names: Vec<String> = (0..names.len())
        .map(|i| names.name(i).to_string())
        .collect();
    let mut items: Vec<Arc<dyn Subtree>> = base.map(|b| b.items().to_vec()).unwrap_or_default();
    items.push(Arc::new(LldpNeighbors::new(&names, neighbors.clone())));
    let mut models = base.map(|b| b.models().to_vec()).unwrap_or_default();
    models.push(LLDP_MODEL);
    let shape = base.map_or(NotificationShape::Flat, Subtrees::shape);
    Arc::new(Subtrees::new(items, models).with_shape(shape))
}

/// An end inside the topology: device and ifindex.
type End = (Ipv4Addr, u32);

/// The links, both directions, and the neighbour table the devices' LLDP subtrees read.
#[derive(Debug, Default)]
pub(crate) struct Topology {
    /// Each end → the other end (every link is here twice).
    peers: Mutex<BTreeMap<End, End>>,
    neighbors: Arc<NeighborTable>,
}

/// A link end checked against the fleet: the device and the interface's index.
struct Resolved {
    device: Arc<Device>,
    ifindex: u32,
}

impl Topology {
    /// The table the LLDP subtrees read.
    pub(crate) fn neighbors(&self) -> &Arc<NeighborTable> {
        &self.neighbors
    }

    /// Adds `links`, all or none: every device and interface must exist, no interface
    /// may be linked already (or twice in `links`), and no link may join a device to
    /// itself. The error names the field (`links[2].b.interface`).
    pub(crate) fn link(
        &self,
        links: &[Link],
        devices: &DeviceMap,
        profiles: &ProfileRegistry,
    ) -> Result<usize, FleetError> {
        if links.is_empty() {
            return Err(FleetError::invalid(
                "links",
                "is empty: give at least one link",
            ));
        }
        if links.len() > MAX_LINKS_PER_REQUEST {
            return Err(FleetError::invalid(
                "links",
                format!(
                    "{} links in one request; at most {MAX_LINKS_PER_REQUEST} are allowed",
                    links.len()
                ),
            ));
        }
        let mut peers = self.peers.lock();
        if peers.len() / 2 + links.len() > MAX_LINKS {
            return Err(FleetError::invalid(
                "links",
                format!(
                    "the topology has {} links; {} more would pass the limit of {MAX_LINKS}",
                    peers.len() / 2,
                    links.len()
                ),
            ));
        }
        let mut planned: Vec<(Resolved, Resolved)> = Vec::with_capacity(links.len());
        let mut taken: Vec<End> = Vec::with_capacity(2 * links.len());
        for (i, link) in links.iter().enumerate() {
            let a = resolve(&link.a, &format!("links[{i}].a"), devices)?;
            let b = resolve(&link.b, &format!("links[{i}].b"), devices)?;
            if link.a.device == link.b.device {
                return Err(FleetError::invalid(
                    format!("links[{i}].b.device"),
                    format!(
                        "{} is the device of end a too; a link joins two different devices",
                        link.b.device
                    ),
                ));
            }
            for (end, side, resolved) in [(&link.a, "a", &a), (&link.b, "b", &b)] {
                let key = (end.device, resolved.ifindex);
                let field = format!("links[{i}].{side}.interface");
                if let Some(&(peer, peer_if)) = peers.get(&key) {
                    let peer_name = devices
                        .get(peer)
                        .map(|d| interface_name(&d, peer_if))
                        .unwrap_or_default();
                    return Err(FleetError::invalid(
                        field,
                        format!(
                            "{} on {} is linked already (to {peer_name} on {peer}); delete that link first",
                            end.interface, end.device
                        ),
                    ));
                }
                if taken.contains(&key) {
                    return Err(FleetError::invalid(
                        field,
                        format!(
                            "{} on {} is in another link of this request",
                            end.interface, end.device
                        ),
                    ));
                }
                taken.push(key);
            }
            planned.push((a, b));
        }
        let now = unix_now_ns();
        for (a, b) in &planned {
            peers.insert((a.device.ip, a.ifindex), (b.device.ip, b.ifindex));
            peers.insert((b.device.ip, b.ifindex), (a.device.ip, a.ifindex));
            self.neighbors
                .set(seed(&a.device), a.ifindex, advertisement(b, profiles));
            self.neighbors
                .set(seed(&b.device), b.ifindex, advertisement(a, profiles));
        }
        drop(peers);
        for (a, b) in &planned {
            a.device.model.subtrees_changed(now);
            b.device.model.subtrees_changed(now);
        }
        Ok(planned.len())
    }

    /// Every link, once each, ordered by its `a` end (the smaller one).
    pub(crate) fn links(&self, devices: &DeviceMap) -> Vec<Link> {
        let peers = self.peers.lock();
        peers
            .iter()
            .filter(|(a, b)| a < b)
            .filter_map(|(&a, &b)| {
                Some(Link {
                    a: end_of(a, devices)?,
                    b: end_of(b, devices)?,
                })
            })
            .collect()
    }

    /// Removes the link at `end`; returns it.
    pub(crate) fn unlink(&self, end: &LinkEnd, devices: &DeviceMap) -> Result<Link, FleetError> {
        let resolved = resolve(end, "", devices)?;
        let mut peers = self.peers.lock();
        let key = (end.device, resolved.ifindex);
        let Some(other) = peers.remove(&key) else {
            return Err(FleetError::NotLinked {
                device: end.device,
                interface: end.interface.clone(),
            });
        };
        peers.remove(&other);
        drop(peers);
        let link = Link {
            a: end.clone(),
            b: end_of(other, devices).unwrap_or(LinkEnd {
                device: other.0,
                interface: String::new(),
            }),
        };
        let now = unix_now_ns();
        self.neighbors
            .remove(seed(&resolved.device), resolved.ifindex);
        resolved.device.model.subtrees_changed(now);
        if let Some(peer) = devices.get(other.0) {
            self.neighbors.remove(seed(&peer), other.1);
            peer.model.subtrees_changed(now);
        }
        Ok(link)
    }

    /// Removes every link; returns how many there were.
    pub(crate) fn unlink_all(&self, devices: &DeviceMap) -> usize {
        let taken = std::mem::take(&mut *self.peers.lock());
        let now = unix_now_ns();
        let mut touched: Vec<Ipv4Addr> = Vec::new();
        for &(ip, ifindex) in taken.keys() {
            if let Some(device) = devices.get(ip) {
                self.neighbors.remove(seed(&device), ifindex);
                touched.push(ip);
            }
        }
        touched.dedup();
        for ip in touched {
            if let Some(device) = devices.get(ip) {
                device.model.subtrees_changed(now);
            }
        }
        taken.len() / 2
    }

    /// Drops the links of `removed` devices (already out of the fleet): their peers stop
    /// hearing them, and the peers' on-change readers learn it.
    pub(crate) fn forget(&self, removed: &[Arc<Device>], devices: &DeviceMap) {
        let mut peers = self.peers.lock();
        if peers.is_empty() {
            return;
        }
        let gone: HashMap<Ipv4Addr, u64> = removed.iter().map(|d| (d.ip, seed(d))).collect();
        let mut notify: Vec<Arc<Device>> = Vec::new();
        for device in removed {
            let ends: Vec<End> = peers
                .range((device.ip, 0)..=(device.ip, u32::MAX))
                .map(|(&k, _)| k)
                .collect();
            for end in ends {
                let Some(other) = peers.remove(&end) else {
                    continue;
                };
                peers.remove(&other);
                self.neighbors.remove(seed(device), end.1);
                if let Some(peer) = devices.get(other.0) {
                    self.neighbors.remove(seed(&peer), other.1);
                    if !notify.iter().any(|d| d.ip == peer.ip) {
                        notify.push(peer);
                    }
                } else if let Some(&peer_seed) = gone.get(&other.0) {
                    // Removed together (deleting every device): nobody to tell.
                    self.neighbors.remove(peer_seed, other.1);
                }
            }
        }
        drop(peers);
        let now = unix_now_ns();
        for peer in notify {
            peer.model.subtrees_changed(now);
        }
    }
}

/// Checks `end` against the fleet; `field` prefixes the field names of errors.
fn resolve(end: &LinkEnd, field: &str, devices: &DeviceMap) -> Result<Resolved, FleetError> {
    let dotted = |name: &str| {
        if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        }
    };
    let device = devices.get(end.device).ok_or_else(|| {
        FleetError::invalid(dotted("device"), format!("no device {}", end.device))
    })?;
    let names = device.model.names();
    let idx = names.index_of(&end.interface).ok_or_else(|| {
        let count = device.model.interface_count();
        FleetError::invalid(
            dotted("interface"),
            format!(
                "device {} has no interface {:?} (it has {} … {})",
                end.device,
                end.interface,
                names.name(0),
                names.name(count.saturating_sub(1))
            ),
        )
    })?;
    Ok(Resolved {
        device,
        ifindex: idx as u32 + 1,
    })
}

/// What the far end of a link advertises: the LLDP neighbour its peer hears.
fn advertisement(from: &Resolved, profiles: &ProfileRegistry) -> Neighbor {
    let device_type = &from.device.batch.spec.device_type;
    let description = profiles
        .get(device_type)
        .map(|p| p.description().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| device_type.clone());
    Neighbor {
        system_name: from.device.hostname.to_string(),
        system_description: description,
        chassis_id: chassis_id(seed(&from.device)),
        port_id: interface_name(&from.device, from.ifindex),
        management_address: from.device.ip.to_string(),
    }
}

/// A device's identity in the neighbour table: its seed, unique in a fleet (a bijection
/// of its address for the fleet seed).
fn seed(device: &Device) -> u64 {
    device.model.key().seed
}

fn interface_name(device: &Device, ifindex: u32) -> String {
    device
        .model
        .names()
        .name(ifindex.saturating_sub(1) as usize)
        .to_string()
}

fn end_of((ip, ifindex): End, devices: &DeviceMap) -> Option<LinkEnd> {
    let device = devices.get(ip)?;
    Some(LinkEnd {
        device: ip,
        interface: interface_name(&device, ifindex),
    })
}
