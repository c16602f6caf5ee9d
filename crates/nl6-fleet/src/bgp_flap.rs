//! BGP flaps of a device's sessions: a session goes `IDLE`, then `ACTIVE`, then
//! `ESTABLISHED` again, each step a device event ON_CHANGE readers see.

use std::net::Ipv4Addr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use nl6_bgp::{DownState, SessionTable};
use nl6_ifstate::unix_now_ns;

use crate::device::Device;
use crate::error::FleetError;

/// How long a BGP flap holds its session down when the request names no duration.
pub const DEFAULT_BGP_FLAP: Duration = Duration::from_secs(4);

/// The longest BGP flap one request may ask for.
pub const MAX_BGP_FLAP: Duration = Duration::from_secs(3_600);

/// What a started BGP flap will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpFlap {
    /// The device.
    pub device: Ipv4Addr,
    /// The neighbour's address.
    pub neighbor: String,
    /// How long the session stays down (half of it `IDLE`, then `ACTIVE`).
    pub down: Duration,
}

/// The neighbour index of `address` on `device`, whose profile has `count` neighbours.
pub(crate) fn neighbor_of(device: Ipv4Addr, address: &str, count: u32) -> Result<u32, FleetError> {
    nl6_bgp::neighbor_index(address, count).ok_or_else(|| FleetError::NoSuchNeighbor {
        device,
        neighbor: address.chars().take(64).collect(),
        known: match count {
            0 => "its profile has no BGP".to_string(),
            1 => "it has 10.255.0.1".to_string(),
            n => format!("it has {n}: 10.255.0.1 … {}", nl6_bgp::address(n - 1)),
        },
    })
}

/// Checks a requested down time: (0, [`MAX_BGP_FLAP`]].
pub(crate) fn check_down(down: Duration) -> Result<Duration, FleetError> {
    if down.is_zero() || down > MAX_BGP_FLAP {
        return Err(FleetError::invalid(
            "duration",
            format!("{down:?} is outside (0s, {}s]", MAX_BGP_FLAP.as_secs()),
        ));
    }
    Ok(down)
}

/// Takes neighbour `neighbor`'s session of `device` down now (`IDLE`), to `ACTIVE` after
/// half of `down` and back to `ESTABLISHED` after `down`; `false` when a flap of it is in
/// progress already. The steps stop when the device goes away or is rebooted (its
/// session table entry forgotten).
pub(crate) fn start(
    device: &Arc<Device>,
    sessions: &Arc<SessionTable>,
    neighbor: u32,
    down: Duration,
) -> bool {
    let seed = device.model.key().seed;
    if !sessions.begin(seed, neighbor, DownState::Idle) {
        return false;
    }
    device.model.subtrees_changed(unix_now_ns());
    let weak = Arc::downgrade(device);
    let sessions = Arc::clone(sessions);
    tokio::spawn(async move { finish(weak, sessions, seed, neighbor, down).await });
    true
}

/// The rest of a flap [`start`] began.
async fn finish(
    device: Weak<Device>,
    sessions: Arc<SessionTable>,
    seed: u64,
    neighbor: u32,
    down: Duration,
) {
    tokio::time::sleep(down / 2).await;
    let Some(live) = device.upgrade() else { return };
    if !sessions.advance(seed, neighbor, DownState::Active) {
        return;
    }
    live.model.subtrees_changed(unix_now_ns());
    drop(live);
    tokio::time::sleep(down - down / 2).await;
    let Some(live) = device.upgrade() else { return };
    let now = unix_now_ns();
    if sessions.end(seed, neighbor, now) {
        live.model.subtrees_changed(now);
    }
}
