//! Analytic interface counters (REFERENCE §2), derived from the device seed at call time.
//!
//! octets(t) = speed/8 · [0.8·t + (0.2·T/2π)·(cos φ − cos(2πt/T + φ))], T = 3600 s, where `t`
//! is the time since the device booted, so every counter is exactly 0 at boot, the rate swings
//! between 60 % and 100 % of link speed and the value never decreases. Nothing is stored per
//! interface: phases, packet sizes, split ratios and ppm rates are re-derived from
//! `hash(seed, ifindex)` on every call (a handful of multiply/xor rounds).
//!
//! Time base: the caller passes the time since boot (Unix time minus the device's boot time,
//! 0 before it). A seeded boot time ([`seeded_boot_s`]) is at most 400 days back, far from
//! u64 overflow: a 400 Gbit/s interface would saturate (values clamp at `u64::MAX`, never
//! wrap) only after about 14 years of uptime, a 100 Gbit/s one after about 58.

use crate::counter::Counters;
use crate::spec::ErrorScenario;

const NS_PER_S: u64 = 1_000_000_000;
/// Period of the load wave, T = 3600 s, in ns.
const PERIOD_NS: u64 = 3_600 * NS_PER_S;
/// Amplitude factor: (1/8 B/bit) · 0.2 · T / 2π, in bytes per (bit/s).
const AMPLITUDE_PER_BPS: f64 = 0.2 * 3_600.0 / (8.0 * std::f64::consts::TAU);
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
/// Mixed into the seed for the boot time, so it is independent of the counter parameters.
const BOOT_SALT: u64 = 0x5b00_7713_e0f1_c2d4;

/// The shortest uptime a seeded boot time gives: 1 day, in seconds.
pub const MIN_SEEDED_UPTIME_S: u32 = 86_400;
/// The longest uptime a seeded boot time gives: 400 days, in seconds.
pub const MAX_SEEDED_UPTIME_S: u32 = 400 * 86_400;

/// The boot time of a device with `seed`, in Unix seconds: `before_s` (Unix seconds, e.g. when
/// the fleet started) minus an uptime drawn uniformly from 1–400 days
/// ([`MIN_SEEDED_UPTIME_S`]..=[`MAX_SEEDED_UPTIME_S`]) by a hash of the seed alone. The same
/// seed and instant always give the same boot time; devices with different seeds spread over
/// the whole range, so a fleet does not look as if it booted together.
pub fn seeded_boot_s(seed: u64, before_s: u32) -> u32 {
    let span = u64::from(MAX_SEEDED_UPTIME_S - MIN_SEEDED_UPTIME_S) + 1;
    // Multiply-shift: a uniform draw from 0..span out of 64 well-mixed bits.
    let draw = ((u128::from(mix(seed ^ BOOT_SALT)) * u128::from(span)) >> 64) as u32;
    before_s.saturating_sub(MIN_SEEDED_UPTIME_S + draw)
}

/// The SplitMix64 finaliser: a cheap, well-mixing 64-bit hash.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform f64 in [0, 1) from the low `n` (≤ 53) bits of `w`.
fn bits_unit(w: u64, n: u32) -> f64 {
    ((w & ((1 << n) - 1)) as i64) as f64 / (1u64 << n) as f64
}

/// A uniform integer in `lo..=hi` from the low `n` (≤ 32) bits of `w`.
fn bits_range(w: u64, n: u32, lo: u32, hi: u32) -> u32 {
    lo + (((w & ((1 << n) - 1)) * u64::from(hi - lo + 1)) >> n) as u32
}

/// Monotone u64 → f64 through the cheap signed conversion (drops bit 0, below f64 precision
/// for large values and at most 1 for small ones).
fn to_f64(x: u64) -> f64 {
    ((x >> 1) as i64) as f64 * 2.0
}

/// Monotone f64 → u64 for counter values: truncates, negatives give 0, saturates at i64::MAX.
fn to_u64(x: f64) -> u64 {
    (x as i64).max(0) as u64
}

/// `floor(x)` as an integer without a libm call (saturating outside the i64 range).
fn floor_i64(x: f64) -> i64 {
    let i = x as i64;
    i - i64::from((i as f64) > x)
}

/// `sin` and `cos` of the wave angle 2π·x/T for `x` in `[0, T)` ns.
///
/// Every interface of every device read at one instant shares this angle, so the last result
/// is cached per thread: a device's interfaces read at one captured instant pay for it once.
fn wave_at(x: u64) -> (f64, f64) {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<(u64, f64, f64)> = const { Cell::new((0, 0.0, 1.0)) };
    }
    LAST.with(|last| {
        let (lx, s, c) = last.get();
        if lx == x {
            return (s, c);
        }
        let (s, c) = (std::f64::consts::TAU * (x as f64 / PERIOD_NS as f64)).sin_cos();
        last.set((x, s, c));
        (s, c)
    })
}

/// The seeded parameters of one direction of one interface.
struct Direction {
    /// cos φ and sin φ (a point on the unit circle).
    cos_phi: f64,
    sin_phi: f64,
    /// Packets per octet of unicast, multicast, broadcast, discards, errors:
    /// share / size for the first three (shares sum to 1), ppm · 1e-6 / size for the others.
    per_octet: [f64; 5],
}

impl Direction {
    /// Derives one direction from two hash words (bit fields below).
    fn derive(w0: u64, w1: u64, nominal: [f64; 3], errors: ErrorScenario) -> Self {
        // w0: bits 32..64 phase, bit 31 phase half.
        // w1: 3 × 12 bits share jitter, 12 bits packet size, 8 + 8 bits ppm.
        // φ: rational parametrisation of the unit circle, u in [-1, 1), sign bit picks the half.
        let u = bits_unit(w0 >> 32, 32) * 2.0 - 1.0;
        let sign = if w0 & (1 << 31) == 0 { 1.0 } else { -1.0 };
        // Unicast/multicast/broadcast shares ±3 %, normalised below.
        let jitter = |shift: u32| 0.97 + 0.06 * bits_unit(w1 >> shift, 12);
        let raw = [
            nominal[0] * jitter(0),
            nominal[1] * jitter(12),
            nominal[2] * jitter(24),
        ];
        let size = f64::from(bits_range(w1 >> 36, 12, 400, 600));
        let sum = raw[0] + raw[1] + raw[2];
        // One division for the three reciprocals 1/(1+u²), 1/sum and 1/size.
        let circle = 1.0 + u * u;
        let r = 1.0 / (circle * sum * size);
        let d = r * sum * size;
        let share_per_octet = r * circle; // 1 / (sum · size)
        let inv_size = share_per_octet * sum;
        let ((elo, ehi), (dlo, dhi)) = errors.ppm_ranges();
        Self {
            cos_phi: sign * (1.0 - u * u) * d,
            sin_phi: sign * 2.0 * u * d,
            per_octet: [
                raw[0] * share_per_octet,
                raw[1] * share_per_octet,
                raw[2] * share_per_octet,
                f64::from(bits_range(w1 >> 56, 8, dlo, dhi)) * 1e-6 * inv_size,
                f64::from(bits_range(w1 >> 48, 8, elo, ehi)) * 1e-6 * inv_size,
            ],
        }
    }

    /// Octets at time `t` since boot, given the shared linear part and wave.
    fn octets(&self, lin_int: u128, lin_frac: f64, amp: f64, sin_t: f64, cos_t: f64) -> u64 {
        // cos φ − cos(θ + φ) = cos φ·(1 − cos θ) + sin φ·sin θ
        let wave = amp * (self.cos_phi * (1.0 - cos_t) + self.sin_phi * sin_t);
        // Sum unclamped (the wave part may be negative), saturate only the result.
        let total = lin_int as i128 + floor_i64(lin_frac + wave) as i128;
        total.clamp(0, u64::MAX as i128) as u64
    }
}

/// Counter values of interface `idx` of a device with `seed`, `since_boot_ns` after its boot
/// (all 0 at 0).
pub(crate) fn counters(
    seed: u64,
    speed_bps: u64,
    errors: ErrorScenario,
    idx: usize,
    since_boot_ns: u64,
) -> Counters {
    let key = mix(seed ^ (idx as u64).wrapping_add(1).wrapping_mul(GOLDEN));
    let w = |k: u64| mix(key.wrapping_add(k.wrapping_mul(GOLDEN)));
    let speed = speed_bps as f64;
    let dirs = [
        Direction::derive(w(1), w(2), [0.85, 0.10, 0.05], errors),
        Direction::derive(w(3), w(4), [0.90, 0.08, 0.02], errors),
    ];

    let t = since_boot_ns;
    // Linear part 0.8·speed/8·t = speed·t_ns/1e10 bytes; whole seconds exactly in integers.
    let (secs, frac_ns) = (t / NS_PER_S, t % NS_PER_S);
    // speed·secs/10 = q·secs + r·secs/10 with speed = 10q + r; r·secs < 9·2^64/1e9 fits.
    let (q, r) = (speed_bps / 10, speed_bps % 10);
    let rs = r * secs;
    let lin_int = q as u128 * secs as u128 + (rs / 10) as u128;
    let lin_frac = ((rs % 10) as i64) as f64 * 0.1 + speed * (frac_ns as i64) as f64 * 1e-10;
    let (sin_t, cos_t) = wave_at(t % PERIOD_NS);
    let amp = speed * AMPLITUDE_PER_BPS;

    let mut out = [0u64; 12];
    for (d, p) in dirs.iter().enumerate() {
        let octets = p.octets(lin_int, lin_frac, amp, sin_t, cos_t);
        // Each step (u64→f64, ×positive constant, truncation) is monotone, so every counter is.
        let of = to_f64(octets);
        out[d] = octets;
        for (k, per_octet) in p.per_octet.iter().enumerate() {
            out[2 * k + 2 + d] = to_u64(of * per_octet);
        }
    }
    Counters(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counter::Counter;
    use proptest::prelude::*;

    const GBPS: u64 = 1_000_000_000;
    /// 30 days after boot.
    const UP: u64 = 30 * 86_400 * NS_PER_S;
    const DAY_S: u32 = 86_400;

    fn check_le(a: &Counters, b: &Counters) -> Result<(), TestCaseError> {
        for c in Counter::ALL {
            prop_assert!(a.get(c) <= b.get(c), "{c:?}: {} > {}", a.get(c), b.get(c));
        }
        Ok(())
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = counters(7, GBPS, ErrorScenario::Typical, 3, UP);
        assert_eq!(a, counters(7, GBPS, ErrorScenario::Typical, 3, UP));
        assert_ne!(a, counters(8, GBPS, ErrorScenario::Typical, 3, UP));
        assert_ne!(a, counters(7, GBPS, ErrorScenario::Typical, 4, UP));
    }

    #[test]
    fn every_counter_is_zero_at_boot_and_grows_from_it() {
        for seed in 0..50 {
            for scenario in [ErrorScenario::Clean, ErrorScenario::Failing] {
                for speed in [1, GBPS, MAX_SPEED] {
                    let idx = seed as usize % 7;
                    assert_eq!(counters(seed, speed, scenario, idx, 0), Counters([0; 12]));
                    let mut prev = Counters([0; 12]);
                    for t in [1, 1_000, NS_PER_S, 60 * NS_PER_S, PERIOD_NS, UP] {
                        let next = counters(seed, speed, scenario, idx, t);
                        check_le(&prev, &next).unwrap();
                        prev = next;
                    }
                    if speed >= GBPS {
                        assert!(
                            counters(seed, speed, scenario, idx, NS_PER_S).get(Counter::InOctets)
                                > 0
                        );
                    }
                }
            }
        }
    }

    const MAX_SPEED: u64 = crate::spec::MAX_SPEED_BPS;

    #[test]
    fn rate_stays_between_60_and_100_percent() {
        for idx in 0..20 {
            let mut prev = counters(1, GBPS, ErrorScenario::Clean, idx, UP);
            for step in 1..=120u64 {
                let next = counters(
                    1,
                    GBPS,
                    ErrorScenario::Clean,
                    idx,
                    UP + step * 30 * NS_PER_S,
                );
                for d in [Counter::InOctets, Counter::OutOctets] {
                    let rate = (next.get(d) - prev.get(d)) as f64 / 30.0 * 8.0 / GBPS as f64;
                    assert!((0.599..=1.001).contains(&rate), "rate {rate}");
                }
                prev = next;
            }
        }
    }

    #[test]
    fn packets_split_and_errors_are_sane() {
        // Whole load periods average 80 % of link speed exactly.
        let c = counters(99, GBPS, ErrorScenario::Clean, 0, 86_400 * NS_PER_S);
        let day_at_80 = GBPS as f64 / 8.0 * 0.8 * 86_400.0;
        for d in [Counter::InOctets, Counter::OutOctets] {
            let r = c.get(d) as f64 / day_at_80;
            assert!((0.999_999..=1.000_001).contains(&r), "24 h ratio {r}");
        }
        let t = UP;
        for idx in 0..50 {
            let c = counters(5, GBPS, ErrorScenario::Clean, idx, t);
            assert_eq!(c.get(Counter::InErrors) + c.get(Counter::OutDiscards), 0);
            let pkts = c.get(Counter::InUnicastPkts)
                + c.get(Counter::InMulticastPkts)
                + c.get(Counter::InBroadcastPkts);
            let size = c.get(Counter::InOctets) as f64 / pkts as f64;
            assert!((399.0..=601.0).contains(&size), "size {size}");
            let uni = c.get(Counter::InUnicastPkts) as f64 / pkts as f64;
            assert!((0.82..0.88).contains(&uni), "unicast share {uni}");
            let bc = c.get(Counter::OutBroadcastPkts) as f64
                / (c.get(Counter::OutUnicastPkts)
                    + c.get(Counter::OutMulticastPkts)
                    + c.get(Counter::OutBroadcastPkts)) as f64;
            assert!((0.018..0.022).contains(&bc), "broadcast share {bc}");
        }
        for (scenario, lo, hi) in [
            (ErrorScenario::Typical, 10.0, 100.0),
            (ErrorScenario::Degraded, 1e3, 1e4),
            (ErrorScenario::Failing, 1e4, 1e5),
        ] {
            for idx in 0..20 {
                let c = counters(5, GBPS, scenario, idx, t);
                let pkts = c.get(Counter::OutUnicastPkts)
                    + c.get(Counter::OutMulticastPkts)
                    + c.get(Counter::OutBroadcastPkts);
                let ppm = c.get(Counter::OutErrors) as f64 / pkts as f64 * 1e6;
                assert!(
                    ppm >= lo * 0.99 && ppm <= hi * 1.01,
                    "{scenario:?} errors ppm {ppm}"
                );
                let pkts = c.get(Counter::InUnicastPkts)
                    + c.get(Counter::InMulticastPkts)
                    + c.get(Counter::InBroadcastPkts);
                let ppm = c.get(Counter::InDiscards) as f64 / pkts as f64 * 1e6;
                assert!(
                    ppm >= 2.0 * lo * 0.95 && ppm <= 2.0 * hi * 1.05,
                    "{scenario:?} discards ppm {ppm}"
                );
            }
        }
    }

    #[test]
    fn far_from_overflow_and_clamped_beyond() {
        // The longest seeded uptime plus 5 years at the fastest speed: well below u64::MAX.
        let long = (u64::from(MAX_SEEDED_UPTIME_S) + 5 * 365 * 86_400) * NS_PER_S;
        let c = counters(1, MAX_SPEED, ErrorScenario::Clean, 0, long);
        assert!(c.get(Counter::InOctets) < u64::MAX / 4 * 3, "{c:?}");
        let c = counters(1, MAX_SPEED, ErrorScenario::Clean, 0, u64::MAX);
        assert_eq!(c.get(Counter::InOctets), u64::MAX);
    }

    #[test]
    fn monotonic_across_second_and_period_boundaries() {
        for speed in [1, 10_000, GBPS, MAX_SPEED] {
            for base in [
                UP - UP % PERIOD_NS,
                400 * 86_400 * NS_PER_S + 3 * PERIOD_NS,
                2 * PERIOD_NS,
                5 * NS_PER_S,
                2_000,
            ] {
                let mut prev = counters(3, speed, ErrorScenario::Failing, 1, base - 2_000);
                for dt in (0..4_000).step_by(7) {
                    let next = counters(3, speed, ErrorScenario::Failing, 1, base - 2_000 + dt);
                    check_le(&prev, &next).unwrap();
                    prev = next;
                }
            }
        }
    }

    #[test]
    fn seeded_boot_times_spread_over_1_to_400_days() {
        let start = 1_790_000_000u32;
        let boots: Vec<u32> = (0..20_000u64).map(|s| seeded_boot_s(s, start)).collect();
        assert!(
            boots
                .iter()
                .all(|b| (start - 400 * DAY_S..=start - DAY_S).contains(b))
        );
        let distinct: std::collections::BTreeSet<u32> = boots.iter().copied().collect();
        assert!(distinct.len() > 19_900, "{} distinct", distinct.len());
        // Uniform: 40 buckets of 10 days (the first one 9 days) hold their share ± 25 %.
        let mut buckets = [0u32; 40];
        for b in &boots {
            buckets[((start - b - 1) / (10 * DAY_S)) as usize] += 1;
        }
        for (i, n) in buckets.iter().enumerate() {
            let want = 20_000.0 / 399.0 * if i == 0 { 9.0 } else { 10.0 };
            assert!(
                (f64::from(*n) - want).abs() < want * 0.25,
                "bucket {i}: {n}"
            );
        }
        // The seed alone decides the uptime; a start too early saturates at the epoch.
        assert_eq!(seeded_boot_s(9, start), seeded_boot_s(9, start));
        assert_eq!(
            start - seeded_boot_s(9, start),
            start + 5 - seeded_boot_s(9, start + 5)
        );
        assert_eq!(seeded_boot_s(9, 1_000), 0);
    }

    proptest! {
        #[test]
        fn non_decreasing_over_random_pairs(
            seed: u64,
            idx in 0usize..1024,
            speed in prop_oneof![Just(GBPS), 1u64..1_000_000_000_000],
            a: u64,
            b: u64,
            scenario in prop_oneof![Just(ErrorScenario::Clean), Just(ErrorScenario::Typical), Just(ErrorScenario::Degraded), Just(ErrorScenario::Failing)],
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            check_le(&counters(seed, speed, scenario, idx, lo), &counters(seed, speed, scenario, idx, hi))?;
        }

        #[test]
        fn non_decreasing_over_close_pairs(
            seed: u64,
            idx in 0usize..1024,
            t in prop_oneof![0u64..PERIOD_NS, 0..100 * 365 * 86_400 * NS_PER_S],
            dt in 0u64..5_000,
        ) {
            check_le(&counters(seed, GBPS, ErrorScenario::Failing, idx, t), &counters(seed, GBPS, ErrorScenario::Failing, idx, t + dt))?;
        }

        #[test]
        fn same_seed_same_values(seed: u64, idx in 0usize..1024, t: u64) {
            prop_assert_eq!(counters(seed, GBPS, ErrorScenario::Typical, idx, t), counters(seed, GBPS, ErrorScenario::Typical, idx, t));
        }

        #[test]
        fn seeded_boot_is_1_to_400_days_back(seed: u64, start in 400 * 86_400u32..) {
            let up = start - seeded_boot_s(seed, start);
            prop_assert!((MIN_SEEDED_UPTIME_S..=MAX_SEEDED_UPTIME_S).contains(&up));
        }
    }
}
