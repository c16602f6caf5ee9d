//! One row per interface: what a sensor path reads from nl6's interface model.
//!
//! Every value comes from the interface's [`InterfaceReading`] (the 12 analytic
//! counters and the state, read at the collection's instant), so MDT, gNMI dial-in and
//! gNMI dial-out agree.
//!
//! **generic-counters** (XR's names, OpenConfig counters on the right):
//!
//! | field | value |
//! |---|---|
//! | `packets-received` | in-unicast + in-multicast + in-broadcast |
//! | `bytes-received` | in-octets |
//! | `packets-sent` | out-unicast + out-multicast + out-broadcast |
//! | `bytes-sent` | out-octets |
//! | `multicast-packets-received` / `broadcast-packets-received` | in-multicast / in-broadcast |
//! | `multicast-packets-sent` / `broadcast-packets-sent` | out-multicast / out-broadcast |
//! | `input-drops` | in-discards (32 bits, wrapping like XR's counter) |
//! | `output-drops` | out-discards (32 bits) |
//! | `input-errors`, `crc-errors` | in-errors (every input error is a CRC error in nl6) |
//! | `output-errors` | out-errors |
//! | `carrier-transitions` | 1 once the interface changed state, else 0 (nl6 keeps no count) |
//! | `last-data-time` | the collection instant, Unix seconds |
//! | `seconds-since-packet-received` / `-sent` | 0 while oper-status is UP, else seconds since the last change |
//! | everything else (queue drops, runts, giants, throttled, parity, unknown protocol, overruns, framing, ignored, aborts, underruns, buffer failures, swapped out, applique, resets, availability-flag, seconds-since-last-clear-counters, last-discontinuity-time) | 0: nl6 simulates none of them and counters are never cleared |
//!
//! **interface-xr**: `state` is the oper-status (`im-state-up`, `im-state-down`, or
//! `im-state-admin-down` when admin-status is DOWN), `line-state` the link (also
//! `im-state-admin-down` under admin DOWN); `mtu` 1514; `speed`, `bandwidth` and
//! `max-bandwidth` the link speed in kbit/s (saturating at u32); `state-transition-count`
//! as `carrier-transitions`; `last-state-transition-time` the seconds since the last
//! change (0 when it never changed); `interface-type` `IFT_ETHERNET`, `encapsulation` `ether` (`ARPA`), full duplex, no
//! flow control, no loopback, keepalive 10 s, CRC length 4, flags false, description
//! and parent empty. Fields follow XR's order (tags 50 to 77).
//!
//! **openconfig-interfaces**: `name`, and `state` with `name`, `ifindex`,
//! `admin-status`, `oper-status`, `last-change` (Unix ns) and `counters` (the 12
//! counters), exactly as nl6's gNMI serves them.

use nl6_ifstate::{AdminStatus, Counter, LinkStatus, OperStatus};
use nl6_resolver::{InterfaceReading, LeafSet, Snapshot};

use crate::sensor::SensorPath;

/// One interface of one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// The interface name (the row's key).
    pub name: &'a str,
    /// Its ifindex.
    pub ifindex: u32,
    /// Its link speed, bit/s.
    pub speed_bps: u64,
    /// Its state and counters at the collection's instant.
    pub reading: InterfaceReading,
}

impl<'a> Row<'a> {
    /// The rows of `snapshot`: every interface it captured, or with `only` the
    /// interfaces whose mask is not empty (an event's changed interfaces); `speed_bps`
    /// is the device's link speed.
    pub fn from_snapshot(
        snapshot: &Snapshot<'a>,
        speed_bps: u64,
        only: Option<&[LeafSet]>,
        out: &mut Vec<Row<'a>>,
    ) {
        let names = snapshot.names();
        for idx in 0..names.len() {
            if only.is_some_and(|masks| masks.get(idx).is_none_or(|m| m.is_empty())) {
                continue;
            }
            if let Some(reading) = snapshot.reading(idx) {
                out.push(Row {
                    name: names.name(idx),
                    ifindex: idx as u32 + 1,
                    speed_bps,
                    reading: *reading,
                });
            }
        }
    }
}

/// One leaf value, typed as the catalogue says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// A string.
    Str(&'a str),
    /// A bool.
    Bool(bool),
    /// A uint32.
    U32(u32),
    /// A uint64.
    U64(u64),
}

/// The most leaves one row of any path has.
pub(crate) const MAX_LEAVES: usize = 40;

/// The content leaves of `row` for `path`, in catalogue (depth-first) order, at
/// `now_ms`; returns how many were written.
pub(crate) fn content_values<'a>(
    path: SensorPath,
    row: &Row<'a>,
    now_ms: u64,
    out: &mut [Value<'a>; MAX_LEAVES],
) -> usize {
    let c = &row.reading.counters;
    let state = &row.reading.state;
    let now_s = now_ms / 1000;
    let changed = state.last_change_ns != 0;
    let since_change = if changed {
        now_s.saturating_sub(state.last_change_ns / 1_000_000_000)
    } else {
        0
    };
    let u32_of = |v: u64| Value::U32(v as u32);
    match path {
        SensorPath::GenericCounters => {
            let get = |k: Counter| c.get(k);
            let idle = if state.oper() == OperStatus::Up {
                0
            } else {
                since_change
            };
            let values = [
                Value::U64(
                    get(Counter::InUnicastPkts)
                        .wrapping_add(get(Counter::InMulticastPkts))
                        .wrapping_add(get(Counter::InBroadcastPkts)),
                ),
                Value::U64(get(Counter::InOctets)),
                Value::U64(
                    get(Counter::OutUnicastPkts)
                        .wrapping_add(get(Counter::OutMulticastPkts))
                        .wrapping_add(get(Counter::OutBroadcastPkts)),
                ),
                Value::U64(get(Counter::OutOctets)),
                Value::U64(get(Counter::InMulticastPkts)),
                Value::U64(get(Counter::InBroadcastPkts)),
                Value::U64(get(Counter::OutMulticastPkts)),
                Value::U64(get(Counter::OutBroadcastPkts)),
                u32_of(get(Counter::OutDiscards)),
                Value::U32(0),
                u32_of(get(Counter::InDiscards)),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                u32_of(get(Counter::InErrors)),
                u32_of(get(Counter::InErrors)),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                u32_of(get(Counter::OutErrors)),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(0),
                Value::U32(u32::from(changed)),
                Value::U32(0),
                u32_of(now_s),
                Value::U32(0),
                Value::U32(0),
                u32_of(idle),
                u32_of(idle),
            ];
            out[..values.len()].copy_from_slice(&values);
            values.len()
        }
        SensorPath::InterfaceXr => {
            let admin_down = state.admin == AdminStatus::Down;
            let xr_state = |up: bool| {
                if admin_down {
                    "im-state-admin-down"
                } else if up {
                    "im-state-up"
                } else {
                    "im-state-down"
                }
            };
            let kbps = Value::U32(u32::try_from(row.speed_bps / 1000).unwrap_or(u32::MAX));
            let values = [
                Value::Str(row.name),
                Value::Str("IFT_ETHERNET"),
                Value::Str("Ethernet"),
                Value::Str(xr_state(state.oper() == OperStatus::Up)),
                Value::Str(xr_state(state.link == LinkStatus::Up)),
                Value::Str("ether"),
                Value::Str("ARPA"),
                Value::U32(1514),
                Value::Bool(false),
                Value::U32(u32::from(changed)),
                u32_of(since_change),
                Value::Bool(false),
                kbps,
                Value::U32(4),
                Value::Bool(false),
                Value::Str("im-attr-duplex-full"),
                Value::Str("im-attr-media-other"),
                Value::Str("im-attr-link-type-force"),
                Value::Str("im-attr-flow-control-off"),
                Value::Str("im-attr-flow-control-off"),
                kbps,
                kbps,
                Value::U32(10),
                Value::Bool(false),
                Value::Str(""),
                Value::Str("no-loopback"),
                Value::Str(""),
                Value::Bool(false),
            ];
            out[..values.len()].copy_from_slice(&values);
            values.len()
        }
        SensorPath::OpenconfigInterfaces => {
            let head = [
                Value::Str(row.name),
                Value::Str(row.name),
                Value::U32(row.ifindex),
                Value::Str(state.admin.as_str()),
                Value::Str(state.oper().as_str()),
                Value::U64(state.last_change_ns),
            ];
            out[..head.len()].copy_from_slice(&head);
            for (slot, value) in out[head.len()..].iter_mut().zip(c.0) {
                *slot = Value::U64(value);
            }
            head.len() + c.0.len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_ifstate::{Counters, IfState};

    fn row(link: LinkStatus, admin: AdminStatus, last_change_ns: u64) -> Row<'static> {
        let mut counters = [0u64; 12];
        for (i, c) in counters.iter_mut().enumerate() {
            *c = (i as u64 + 1) * 1000;
        }
        Row {
            name: "Ethernet1",
            ifindex: 1,
            speed_bps: 10_000_000_000,
            reading: InterfaceReading {
                state: IfState {
                    link,
                    admin,
                    last_change_ns,
                },
                counters: Counters(counters),
            },
        }
    }

    #[test]
    fn every_path_fills_one_value_per_leaf() {
        let r = row(LinkStatus::Up, AdminStatus::Up, 0);
        for path in SensorPath::ALL {
            let mut out = [Value::U32(0); MAX_LEAVES];
            let n = content_values(path, &r, 1_000, &mut out);
            let keys: usize = path.keys().len();
            assert_eq!(n + keys, path.leaf_count(), "{path}");
        }
    }

    #[test]
    fn generic_counters_derive_from_the_analytic_counters() {
        let r = row(LinkStatus::Down, AdminStatus::Up, 40_000_000_000);
        let mut out = [Value::U32(0); MAX_LEAVES];
        content_values(SensorPath::GenericCounters, &r, 100_000, &mut out);
        // in-unicast 3000 + in-multicast 5000 + in-broadcast 7000.
        assert_eq!(out[0], Value::U64(15_000));
        assert_eq!(out[1], Value::U64(1_000));
        assert_eq!(out[2], Value::U64(4_000 + 6_000 + 8_000));
        assert_eq!(out[10], Value::U32(9_000), "input-drops = in-discards");
        assert_eq!(out[8], Value::U32(10_000), "output-drops = out-discards");
        assert_eq!(out[17], Value::U32(11_000), "input-errors");
        assert_eq!(out[23], Value::U32(12_000), "output-errors");
        assert_eq!(out[29], Value::U32(1), "carrier-transitions");
        assert_eq!(out[31], Value::U32(100), "last-data-time");
        assert_eq!(out[34], Value::U32(60), "down for 60 s");
    }

    #[test]
    fn interface_xr_states_follow_admin_and_link() {
        let mut out = [Value::U32(0); MAX_LEAVES];
        content_values(
            SensorPath::InterfaceXr,
            &row(LinkStatus::Up, AdminStatus::Down, 0),
            0,
            &mut out,
        );
        assert_eq!(out[3], Value::Str("im-state-admin-down"));
        assert_eq!(out[4], Value::Str("im-state-admin-down"));
        content_values(
            SensorPath::InterfaceXr,
            &row(LinkStatus::Down, AdminStatus::Up, 0),
            0,
            &mut out,
        );
        assert_eq!(out[3], Value::Str("im-state-down"));
        assert_eq!(out[12], Value::U32(10_000_000), "10 Gbit/s in kbit/s");
    }
}
