//! Seeded slow waves: a level, an amplitude and a phase per (device, entry, leaf).

const NS_PER_S: u64 = 1_000_000_000;
/// The wave's period: 10 minutes.
pub(crate) const PERIOD_NS: u64 = 600 * NS_PER_S;

/// The SplitMix64 finaliser.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of the device seed and up to two small discriminators. Each discriminator is
/// mixed on its own before they are combined, so no two small `(a, b)` pairs collide
/// (`(k, 0)` and `(k + 1, 1)` did when they were combined arithmetically).
pub(crate) fn hash(seed: u64, a: u64, b: u64) -> u64 {
    mix(seed ^ mix(a ^ 0x9e37_79b9_7f4a_7c15) ^ mix(b ^ 0xd1b5_4a32_d192_ed03).rotate_left(29))
}

/// A uniform value in `[0, 1)` from a hash word.
pub(crate) fn unit(w: u64) -> f64 {
    (w >> 11) as f64 / (1u64 << 53) as f64
}

/// A value that swings by `±amplitude` around `level` over [`PERIOD_NS`], with a phase
/// from `w`; and the cycle's minimum, maximum and mean.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Wave {
    pub(crate) instant: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) avg: f64,
}

pub(crate) fn wave(level: f64, amplitude: f64, w: u64, unix_ns: u64) -> Wave {
    let phase = (w % PERIOD_NS) as f64 / PERIOD_NS as f64;
    let x = (unix_ns % PERIOD_NS) as f64 / PERIOD_NS as f64 + phase;
    let instant = level + amplitude * (std::f64::consts::TAU * x).sin();
    Wave {
        instant,
        min: level - amplitude,
        max: level + amplitude,
        avg: level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wave_stays_inside_its_cycle_bounds() {
        for t in (0..PERIOD_NS).step_by((PERIOD_NS / 97) as usize) {
            let w = wave(40.0, 3.0, hash(1, 2, 3), t);
            assert!(w.min <= w.instant && w.instant <= w.max, "{w:?}");
            assert_eq!(w.avg, 40.0);
        }
        assert_ne!(hash(1, 2, 3), hash(2, 2, 3));
        // Every pair of small discriminators gives its own hash.
        let mut seen = std::collections::HashSet::new();
        for a in 0..64 {
            for b in 0..1_100 {
                assert!(seen.insert(hash(7, a, b)), "({a}, {b}) collides");
            }
        }
        assert!((0.0..1.0).contains(&unit(u64::MAX)));
    }
}
