//! The sensor path catalogue: every path nl6 streams, its keys and content fields with
//! their protobuf types and tags. One table drives the self-describing GPB, compact GPB
//! and JSON encoders and the `.proto` generator, so they always agree.
//!
//! Keys take tags from 1, content fields from 50 (the convention of the `.proto` files
//! IOS XR generates); containers are nested messages whose fields also start at 50.

use std::fmt;
use std::str::FromStr;

/// A sensor path nl6 can stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SensorPath {
    /// `Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters`:
    /// the XR generic-counters bag of every interface.
    GenericCounters,
    /// `Cisco-IOS-XR-pfi-im-cmd-oper:interfaces/interface-xr/interface`: XR interface
    /// state, line state, MTU, bandwidth and last transition.
    InterfaceXr,
    /// `openconfig-interfaces:interfaces/interface`: the OpenConfig `state` container
    /// and its counters, as nl6's gNMI serves them.
    OpenconfigInterfaces,
}

/// The protobuf type of a leaf (and its JSON / self-describing value type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `string`.
    String,
    /// `bool`.
    Bool,
    /// `uint32`.
    Uint32,
    /// `uint64`.
    Uint64,
    /// A container: a nested message of these fields.
    Container(&'static [FieldSpec]),
}

/// One key or content field of a sensor path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The YANG name (`packets-received`); the `.proto` field is the same with `_`.
    pub name: &'static str,
    /// The field's protobuf tag.
    pub tag: u32,
    /// Its type.
    pub kind: FieldKind,
    /// Whether it changes with interface state, and so is sent in event-driven rows.
    pub on_change: bool,
    /// One line for the generated `.proto`.
    pub description: &'static str,
}

impl FieldSpec {
    /// Number of leaves below (and including) this field.
    pub fn leaf_count(&self) -> usize {
        match self.kind {
            FieldKind::Container(fields) => fields.iter().map(FieldSpec::leaf_count).sum(),
            _ => 1,
        }
    }
}

/// A sensor path that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sensor path {path:?}: nl6 streams {}", known_paths())]
pub struct UnknownSensorPath {
    /// The path as given.
    pub path: String,
}

fn known_paths() -> String {
    SensorPath::ALL
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

const fn leaf(
    name: &'static str,
    tag: u32,
    kind: FieldKind,
    description: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        tag,
        kind,
        on_change: false,
        description,
    }
}

const fn state(
    name: &'static str,
    tag: u32,
    kind: FieldKind,
    description: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        tag,
        kind,
        on_change: true,
        description,
    }
}

use FieldKind::{Bool, String as Str, Uint32 as U32, Uint64 as U64};

const INTERFACE_NAME_KEY: &[FieldSpec] = &[state("interface-name", 1, Str, "Interface name")];

const GENERIC_COUNTERS: &[FieldSpec] = &[
    leaf("packets-received", 50, U64, "Packets received"),
    leaf("bytes-received", 51, U64, "Bytes received"),
    leaf("packets-sent", 52, U64, "Packets sent"),
    leaf("bytes-sent", 53, U64, "Bytes sent"),
    leaf(
        "multicast-packets-received",
        54,
        U64,
        "Multicast packets received",
    ),
    leaf(
        "broadcast-packets-received",
        55,
        U64,
        "Broadcast packets received",
    ),
    leaf("multicast-packets-sent", 56, U64, "Multicast packets sent"),
    leaf("broadcast-packets-sent", 57, U64, "Broadcast packets sent"),
    leaf("output-drops", 58, U32, "Total output drops"),
    leaf("output-queue-drops", 59, U32, "Output queue drops"),
    leaf("input-drops", 60, U32, "Total input drops"),
    leaf("input-queue-drops", 61, U32, "Input queue drops"),
    leaf("runt-packets-received", 62, U32, "Received runt packets"),
    leaf("giant-packets-received", 63, U32, "Received giant packets"),
    leaf(
        "throttled-packets-received",
        64,
        U32,
        "Received throttled packets",
    ),
    leaf(
        "parity-packets-received",
        65,
        U32,
        "Received parity packets",
    ),
    leaf(
        "unknown-protocol-packets-received",
        66,
        U32,
        "Unknown protocol packets received",
    ),
    leaf("input-errors", 67, U32, "Total input errors"),
    leaf("crc-errors", 68, U32, "Input CRC errors"),
    leaf("input-overruns", 69, U32, "Input overruns"),
    leaf(
        "framing-errors-received",
        70,
        U32,
        "Framing-errors received",
    ),
    leaf("input-ignored-packets", 71, U32, "Input ignored packets"),
    leaf("input-aborts", 72, U32, "Input aborts"),
    leaf("output-errors", 73, U32, "Total output errors"),
    leaf("output-underruns", 74, U32, "Output underruns"),
    leaf("output-buffer-failures", 75, U32, "Output buffer failures"),
    leaf(
        "output-buffers-swapped-out",
        76,
        U32,
        "Output buffers swapped out",
    ),
    leaf("applique", 77, U32, "Applique"),
    leaf("resets", 78, U32, "Number of board resets"),
    leaf("carrier-transitions", 79, U32, "Carrier transitions"),
    leaf("availability-flag", 80, U32, "Availability bit mask"),
    leaf(
        "last-data-time",
        81,
        U32,
        "Time when counters were last written (in seconds)",
    ),
    leaf(
        "seconds-since-last-clear-counters",
        82,
        U32,
        "Number of seconds since last clear counters",
    ),
    leaf(
        "last-discontinuity-time",
        83,
        U32,
        "SysUpTime when counters were last reset (in seconds)",
    ),
    leaf(
        "seconds-since-packet-received",
        84,
        U32,
        "Seconds since packet received",
    ),
    leaf(
        "seconds-since-packet-sent",
        85,
        U32,
        "Seconds since packet sent",
    ),
];

const INTERFACE_XR: &[FieldSpec] = &[
    leaf("interface-handle", 50, Str, "Interface"),
    leaf("interface-type", 51, Str, "Interface type"),
    leaf(
        "hardware-type-string",
        52,
        Str,
        "Hardware type description string",
    ),
    state("state", 53, Str, "Operational state"),
    state("line-state", 54, Str, "Line protocol state"),
    leaf("encapsulation", 55, Str, "Interface encapsulation"),
    leaf(
        "encapsulation-type-string",
        56,
        Str,
        "Interface encapsulation description string",
    ),
    leaf("mtu", 57, U32, "MTU in bytes"),
    leaf("is-l2-transport-enabled", 58, Bool, "L2 transport"),
    state(
        "state-transition-count",
        59,
        U32,
        "The number of times the state has changed",
    ),
    state(
        "last-state-transition-time",
        60,
        U32,
        "The time elapsed after the last state transition (in seconds)",
    ),
    leaf("is-dampening-enabled", 61, Bool, "Dampening enabled flag"),
    leaf("speed", 62, U32, "Interface speed (Kb/s)"),
    leaf("crc-length", 63, U32, "Cyclic Redundancy Check length"),
    leaf("is-scramble-enabled", 64, Bool, "Interface scramble config"),
    leaf("duplexity", 65, Str, "Interface duplexity"),
    leaf("media-type", 66, Str, "Interface media type"),
    leaf("link-type", 67, Str, "Interface link type"),
    leaf(
        "in-flow-control",
        68,
        Str,
        "Input flow control configuration",
    ),
    leaf(
        "out-flow-control",
        69,
        Str,
        "Output flow control configuration",
    ),
    leaf("bandwidth", 70, U32, "Interface bandwidth (Kb/s)"),
    leaf("max-bandwidth", 71, U32, "Interface max bandwidth (Kb/s)"),
    leaf("keepalive", 72, U32, "Interface keepalive time (s)"),
    leaf("is-l2-looped", 73, Bool, "Loopback detected by layer 2"),
    leaf("parent-interface-name", 74, Str, "Parent interface"),
    leaf(
        "loopback-configuration",
        75,
        Str,
        "Interface loopback configuration",
    ),
    leaf("description", 76, Str, "Interface description string"),
    leaf(
        "is-maintenance-enabled",
        77,
        Bool,
        "Maintenance embargo flag",
    ),
];

const OC_COUNTERS: &[FieldSpec] = &[
    leaf("in-octets", 50, U64, "Octets received"),
    leaf("out-octets", 51, U64, "Octets sent"),
    leaf("in-unicast-pkts", 52, U64, "Unicast packets received"),
    leaf("out-unicast-pkts", 53, U64, "Unicast packets sent"),
    leaf("in-multicast-pkts", 54, U64, "Multicast packets received"),
    leaf("out-multicast-pkts", 55, U64, "Multicast packets sent"),
    leaf("in-broadcast-pkts", 56, U64, "Broadcast packets received"),
    leaf("out-broadcast-pkts", 57, U64, "Broadcast packets sent"),
    leaf("in-discards", 58, U64, "Inbound packets discarded"),
    leaf("out-discards", 59, U64, "Outbound packets discarded"),
    leaf("in-errors", 60, U64, "Inbound packets with errors"),
    leaf("out-errors", 61, U64, "Outbound packets with errors"),
];

const OC_STATE: &[FieldSpec] = &[
    state("name", 50, Str, "The interface name"),
    state("ifindex", 51, U32, "System-assigned ifIndex"),
    state(
        "admin-status",
        52,
        Str,
        "The desired state of the interface",
    ),
    state("oper-status", 53, Str, "The current operational state"),
    state(
        "last-change",
        54,
        U64,
        "When the interface last changed state (ns since the Unix epoch)",
    ),
    leaf(
        "counters",
        55,
        FieldKind::Container(OC_COUNTERS),
        "Interface counters",
    ),
];

const OC_INTERFACE: &[FieldSpec] = &[
    state("name", 50, Str, "The interface name"),
    state(
        "state",
        51,
        FieldKind::Container(OC_STATE),
        "Operational state of the interface",
    ),
];

const OC_KEY: &[FieldSpec] = &[state("name", 1, Str, "The interface name")];

impl SensorPath {
    /// Every path, in catalogue order.
    pub const ALL: [SensorPath; 3] = [
        SensorPath::GenericCounters,
        SensorPath::InterfaceXr,
        SensorPath::OpenconfigInterfaces,
    ];

    /// The path as configured and sent in `encoding_path`.
    pub fn as_str(self) -> &'static str {
        match self {
            SensorPath::GenericCounters => {
                "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters"
            }
            SensorPath::InterfaceXr => {
                "Cisco-IOS-XR-pfi-im-cmd-oper:interfaces/interface-xr/interface"
            }
            SensorPath::OpenconfigInterfaces => "openconfig-interfaces:interfaces/interface",
        }
    }

    /// The key fields of a row (tags from 1).
    pub fn keys(self) -> &'static [FieldSpec] {
        match self {
            SensorPath::GenericCounters | SensorPath::InterfaceXr => INTERFACE_NAME_KEY,
            SensorPath::OpenconfigInterfaces => OC_KEY,
        }
    }

    /// The content fields of a row (tags from 50).
    pub fn content(self) -> &'static [FieldSpec] {
        match self {
            SensorPath::GenericCounters => GENERIC_COUNTERS,
            SensorPath::InterfaceXr => INTERFACE_XR,
            SensorPath::OpenconfigInterfaces => OC_INTERFACE,
        }
    }

    /// The content message's name in the generated `.proto` (the keys message is this
    /// name with `_KEYS`).
    pub fn message_name(self) -> &'static str {
        match self {
            SensorPath::GenericCounters => "ifstatsbag_generic",
            SensorPath::InterfaceXr => "im_cmd_info",
            SensorPath::OpenconfigInterfaces => "interface",
        }
    }

    /// The content message's one-line description.
    pub(crate) fn description(self) -> &'static str {
        match self {
            SensorPath::GenericCounters => "Generic set of interface counters",
            SensorPath::InterfaceXr => "Interface information",
            SensorPath::OpenconfigInterfaces => "An interface and its operational state",
        }
    }

    /// The package of the generated `.proto`: the module and path, lower case, with `_`
    /// for `-` and `.` for `/`.
    pub fn proto_package(self) -> String {
        self.as_str()
            .replace(':', "/")
            .split('/')
            .map(|part| part.to_ascii_lowercase().replace('-', "_"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Whether any content field changes with interface state (event-driven
    /// subscriptions send only such paths).
    pub fn has_state(self) -> bool {
        self.content().iter().any(|f| f.on_change)
    }

    /// Number of key and content leaves of one full row.
    pub fn leaf_count(self) -> usize {
        self.keys()
            .iter()
            .chain(self.content())
            .map(FieldSpec::leaf_count)
            .sum()
    }
}

impl fmt::Display for SensorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SensorPath {
    type Err = UnknownSensorPath;

    /// The exact path (surrounding spaces and one trailing `/` are ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bare = s.trim();
        let bare = bare.strip_suffix('/').unwrap_or(bare);
        SensorPath::ALL
            .into_iter()
            .find(|p| p.as_str() == bare)
            .ok_or_else(|| UnknownSensorPath {
                path: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags_ok(fields: &[FieldSpec], first: u32) {
        for (i, f) in fields.iter().enumerate() {
            assert_eq!(f.tag, first + i as u32, "{}", f.name);
            if let FieldKind::Container(children) = f.kind {
                tags_ok(children, 50);
            }
        }
    }

    #[test]
    fn paths_parse_and_tags_follow_the_xr_convention() {
        for path in SensorPath::ALL {
            assert_eq!(path.as_str().parse::<SensorPath>(), Ok(path));
            tags_ok(path.keys(), 1);
            tags_ok(path.content(), 50);
        }
        assert_eq!(SensorPath::GenericCounters.content().len(), 36);
        assert_eq!(SensorPath::GenericCounters.leaf_count(), 37);
        assert_eq!(
            SensorPath::OpenconfigInterfaces.leaf_count(),
            1 + 1 + 5 + 12
        );
        assert_eq!(
            SensorPath::GenericCounters.proto_package(),
            "cisco_ios_xr_infra_statsd_oper.infra_statistics.interfaces.interface.latest.generic_counters"
        );
        assert!(!SensorPath::GenericCounters.has_state());
        assert!(SensorPath::InterfaceXr.has_state());
    }

    #[test]
    fn an_unknown_path_names_itself_and_the_known_ones() {
        let e = "Cisco-IOS-XR-foo:bar".parse::<SensorPath>().unwrap_err();
        assert_eq!(e.path, "Cisco-IOS-XR-foo:bar");
        let text = e.to_string();
        assert!(text.contains("\"Cisco-IOS-XR-foo:bar\""), "{text}");
        for p in SensorPath::ALL {
            assert!(text.contains(p.as_str()), "{text}");
        }
    }
}
