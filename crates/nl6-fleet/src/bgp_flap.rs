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

/// Where a device's BGP flap scenario task sits among its timers: ifindex 0, which no
/// interface has.
pub(crate) const SCENARIO_TIMER: (u32, crate::state::StateLeaf) =
    (0, crate::state::StateLeaf::Oper);

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

/// The fleet-wide cap on BGP flaps started per second (0 = none), shared by every
/// batch's scenario.
#[derive(Debug)]
pub(crate) struct FlapBudget {
    per_sec: u32,
    /// The current one-second window (Unix s) and the flaps started in it.
    window: parking_lot::Mutex<(u64, u32)>,
}

impl FlapBudget {
    pub(crate) fn new(per_sec: u32) -> FlapBudget {
        FlapBudget {
            per_sec,
            window: parking_lot::Mutex::new((0, 0)),
        }
    }

    /// Whether one more flap may start now.
    fn take(&self, now_ns: u64) -> bool {
        if self.per_sec == 0 {
            return true;
        }
        let second = now_ns / 1_000_000_000;
        let mut window = self.window.lock();
        if window.0 != second {
            *window = (second, 0);
        }
        if window.1 >= self.per_sec {
            return false;
        }
        window.1 += 1;
        true
    }
}

/// The SplitMix64 step: the next state and its output.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in (0, 1].
fn unit(state: &mut u64) -> f64 {
    ((next(state) >> 11) + 1) as f64 / (1u64 << 53) as f64
}

/// Flaps `device`'s `neighbors` sessions per `scenario` until the device goes away (or
/// the returned task is aborted): each session's flaps are a Poisson process of the
/// scenario's mean interval, each down for a uniform time of its range, on a schedule
/// seeded by the device. `None` for [`FlapScenario::Clean`] or no neighbours.
///
/// [`FlapScenario::Clean`]: nl6_ifstate::FlapScenario::Clean
pub(crate) fn spawn_scenario(
    device: &Arc<Device>,
    sessions: &Arc<SessionTable>,
    neighbors: u32,
    scenario: nl6_ifstate::FlapScenario,
    budget: &Arc<FlapBudget>,
) -> Option<tokio::task::AbortHandle> {
    let mean = scenario.mean_interval()?;
    if neighbors == 0 {
        return None;
    }
    let (min, max) = scenario.down_range();
    let weak = Arc::downgrade(device);
    let sessions = Arc::clone(sessions);
    let budget = Arc::clone(budget);
    let mut rng = device.model.key().seed ^ 0x6b67_7066_6c61_7073;
    // Flaps of the device as a whole: N sessions, each at 1/mean.
    let mean_gap = mean.as_secs_f64() / f64::from(neighbors);
    let task = tokio::spawn(async move {
        loop {
            let gap = -unit(&mut rng).ln() * mean_gap;
            tokio::time::sleep(Duration::from_secs_f64(gap.min(MAX_BGP_FLAP.as_secs_f64()))).await;
            let Some(live) = weak.upgrade() else { return };
            let neighbor = (next(&mut rng) % u64::from(neighbors)) as u32;
            let span = (max - min).as_millis() as u64;
            let down = min + Duration::from_millis(next(&mut rng) % (span + 1));
            if budget.take(unix_now_ns()) {
                start(
                    &live,
                    &sessions,
                    neighbor,
                    down.max(Duration::from_millis(2)),
                );
            }
        }
    });
    Some(task.abort_handle())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_caps_flaps_per_second() {
        let budget = FlapBudget::new(2);
        let t = 5_000_000_000;
        assert!(budget.take(t) && budget.take(t + 1));
        assert!(!budget.take(t + 2));
        assert!(budget.take(t + 1_000_000_000));
        let free = FlapBudget::new(0);
        assert!((0..100).all(|i| free.take(i)));
    }

    #[test]
    fn draws_are_in_range() {
        let mut rng = 7;
        for _ in 0..1_000 {
            let u = unit(&mut rng);
            assert!(u > 0.0 && u <= 1.0, "{u}");
        }
    }
}
