//! One interface's state packed into a single `u64` (stored in an `AtomicU64`).
//!
//! Layout: `word = slot * 9 + admin * 3 + link` (link and admin are 0..3, so 9 combinations).
//! That leaves `u64::MAX / 9` ≈ 2.05e18 slots for last-change, stored exactly in nanoseconds in
//! two windows:
//!
//! * `[0, 2^58)` ns (1970 – early 1979) as is, so synthetic clocks in tests round-trip exactly;
//! * `[2020-09-13T12:26:40Z, 2076-07)` ns, offset by [`HIGH_START_NS`], covering real clocks.
//!
//! A time in the gap between the windows is recorded as the start of the high window; a time
//! after the high window as its end. Slot 0 is "never changed" (last-change 0).

use crate::status::{AdminStatus, IfState, LinkStatus};

const LOW_END_NS: u64 = 1 << 58;
/// Start of the high last-change window: 2020-09-13T12:26:40Z in Unix ns.
pub(crate) const HIGH_START_NS: u64 = 1_600_000_000_000_000_000;
const MAX_SLOT: u64 = (u64::MAX - 8) / 9;
const HIGH_END_NS: u64 = HIGH_START_NS + (MAX_SLOT - LOW_END_NS);
// The high window reaches into 2076.
const _: () = assert!(HIGH_END_NS > 3_345_000_000 * 1_000_000_000);

fn slot_of(t: u64) -> u64 {
    if t < LOW_END_NS {
        t
    } else {
        LOW_END_NS + (t.clamp(HIGH_START_NS, HIGH_END_NS) - HIGH_START_NS)
    }
}

fn time_of(slot: u64) -> u64 {
    if slot < LOW_END_NS {
        slot
    } else {
        slot - LOW_END_NS + HIGH_START_NS
    }
}

/// Packs a state into one word.
pub(crate) fn pack(s: IfState) -> u64 {
    slot_of(s.last_change_ns) * 9 + s.admin.to_bits() * 3 + s.link.to_bits()
}

/// Unpacks a word made by [`pack`].
pub(crate) fn unpack(w: u64) -> IfState {
    let slot = w / 9;
    let rem = w % 9;
    IfState {
        link: LinkStatus::from_bits(rem % 3),
        admin: AdminStatus::from_bits(rem / 3),
        last_change_ns: time_of(slot),
    }
}

/// What `t` reads back as after a pack/unpack round trip.
pub fn stored_last_change(t: u64) -> u64 {
    time_of(slot_of(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_states(t: u64) -> impl Iterator<Item = IfState> {
        LinkStatus::ALL.iter().flat_map(move |l| {
            AdminStatus::ALL.iter().map(move |a| IfState {
                link: *l,
                admin: *a,
                last_change_ns: t,
            })
        })
    }

    #[test]
    fn windows_are_exact_and_gap_clamps() {
        for t in [
            0,
            1,
            5,
            1_000,
            LOW_END_NS - 1,
            HIGH_START_NS,
            1_763_000_000_123_456_789,
            HIGH_END_NS,
        ] {
            for s in all_states(t) {
                assert_eq!(unpack(pack(s)), s);
            }
        }
        assert_eq!(stored_last_change(LOW_END_NS), HIGH_START_NS);
        assert_eq!(stored_last_change(u64::MAX), HIGH_END_NS);
    }

    proptest! {
        #[test]
        fn round_trip(t in prop_oneof![0..LOW_END_NS, HIGH_START_NS..=HIGH_END_NS], l in 0u64..3, a in 0u64..3) {
            let s = IfState { link: LinkStatus::from_bits(l), admin: AdminStatus::from_bits(a), last_change_ns: t };
            prop_assert_eq!(unpack(pack(s)), s);
        }

        #[test]
        fn stored_time_is_monotonic(a: u64, b: u64) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(stored_last_change(lo) <= stored_last_change(hi));
        }
    }
}
