//! Device specification: scenarios, initial state, validation.

use crate::names::InterfaceNaming;
use crate::parse::{ParseEnumError, lookup};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Largest number of interfaces a device may have.
pub const MAX_INTERFACES: u32 = 1024;

/// Error/discard rate scenario of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ErrorScenario {
    /// No errors or discards.
    #[default]
    Clean,
    /// errors 10–100 ppm, discards 20–200 ppm.
    Typical,
    /// errors 1k–10k ppm, discards 2k–20k ppm.
    Degraded,
    /// errors 10k–100k ppm, discards 20k–200k ppm.
    Failing,
}

const ERROR_VALID: &[&str] = &["clean", "typical", "degraded", "failing"];

impl ErrorScenario {
    /// Lower-case name ("clean", "typical", "degraded", "failing").
    pub fn as_str(self) -> &'static str {
        ERROR_VALID[self as usize]
    }

    /// Per-interface ranges in ppm: `((errors_lo, errors_hi), (discards_lo, discards_hi))`.
    pub fn ppm_ranges(self) -> ((u32, u32), (u32, u32)) {
        match self {
            ErrorScenario::Clean => ((0, 0), (0, 0)),
            ErrorScenario::Typical => ((10, 100), (20, 200)),
            ErrorScenario::Degraded => ((1_000, 10_000), (2_000, 20_000)),
            ErrorScenario::Failing => ((10_000, 100_000), (20_000, 200_000)),
        }
    }
}

impl fmt::Display for ErrorScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorScenario {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [ErrorScenario; 4] = [
            ErrorScenario::Clean,
            ErrorScenario::Typical,
            ErrorScenario::Degraded,
            ErrorScenario::Failing,
        ];
        lookup(s, ERROR_VALID)
            .map(|i| ALL[i])
            .ok_or_else(|| ParseEnumError::new("error scenario", s, ERROR_VALID))
    }
}

/// Link-flap scenario (Poisson arrivals per interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlapScenario {
    /// Never flaps.
    #[default]
    Clean,
    /// Mean 6 h between flaps, down 1–10 s.
    Rare,
    /// Mean 15 min between flaps, down 1–30 s.
    Typical,
    /// Mean 1 min between flaps, down 1–5 s.
    Aggressive,
}

const FLAP_VALID: &[&str] = &["clean", "rare", "typical", "aggressive"];

impl FlapScenario {
    /// Lower-case name ("clean", "rare", "typical", "aggressive").
    pub fn as_str(self) -> &'static str {
        FLAP_VALID[self as usize]
    }

    /// Mean time between flaps of one interface; `None` for [`FlapScenario::Clean`].
    pub fn mean_interval(self) -> Option<Duration> {
        match self {
            FlapScenario::Clean => None,
            FlapScenario::Rare => Some(Duration::from_secs(6 * 3600)),
            FlapScenario::Typical => Some(Duration::from_secs(15 * 60)),
            FlapScenario::Aggressive => Some(Duration::from_secs(60)),
        }
    }

    /// Inclusive range of the down time of one flap.
    pub fn down_range(self) -> (Duration, Duration) {
        let max = match self {
            FlapScenario::Clean => 0,
            FlapScenario::Rare => 10,
            FlapScenario::Typical => 30,
            FlapScenario::Aggressive => 5,
        };
        (Duration::from_secs(max.min(1)), Duration::from_secs(max))
    }
}

impl fmt::Display for FlapScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlapScenario {
    type Err = ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [FlapScenario; 4] = [
            FlapScenario::Clean,
            FlapScenario::Rare,
            FlapScenario::Typical,
            FlapScenario::Aggressive,
        ];
        lookup(s, FLAP_VALID)
            .map(|i| ALL[i])
            .ok_or_else(|| ParseEnumError::new("flap scenario", s, FLAP_VALID))
    }
}

/// Interface state at device construction (no events are emitted for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InitialState {
    /// admin UP, link UP.
    #[default]
    AllUp,
    /// admin DOWN (link UP underneath, so admin UP brings oper UP).
    AllAdminDown,
    /// admin UP, link DOWN.
    OperDown,
    /// admin UP; this percentage of interfaces (rounded to nearest, chosen from the seed) link DOWN.
    PercentOperDown(u8),
}

const INITIAL_VALID: &[&str] = &["all-up", "all-admin-down", "oper-down", "<0-100>%"];

impl fmt::Display for InitialState {
    /// `all-up`, `all-admin-down`, `oper-down` or `<N>%` (the [`FromStr`] spellings).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitialState::AllUp => f.write_str("all-up"),
            InitialState::AllAdminDown => f.write_str("all-admin-down"),
            InitialState::OperDown => f.write_str("oper-down"),
            InitialState::PercentOperDown(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for InitialState {
    type Err = ParseEnumError;
    /// Accepts `all-up`, `all-admin-down`, `oper-down` (`_` or `-`, any case) or `<N>%`, N ≤ 100.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseEnumError::new("initial state", s, INITIAL_VALID);
        if let Some(n) = s.trim().strip_suffix('%') {
            let p: u8 = n.trim().parse().map_err(|_| err())?;
            return if p <= 100 {
                Ok(InitialState::PercentOperDown(p))
            } else {
                Err(err())
            };
        }
        match lookup(s, &INITIAL_VALID[..3]) {
            Some(0) => Ok(InitialState::AllUp),
            Some(1) => Ok(InitialState::AllAdminDown),
            Some(2) => Ok(InitialState::OperDown),
            _ => Err(err()),
        }
    }
}

/// The fastest interface speed (400 Gbit/s). Counters clamp at `u64::MAX` instead of
/// wrapping; at this speed octet counters keep growing for about 14 years of uptime
/// (58 years at 100 Gbit/s).
pub const MAX_SPEED_BPS: u64 = 400_000_000_000;

/// A bad [`DeviceSpec`] field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// `interfaces` outside 1..=1024.
    #[error("interfaces: {0} is out of range, must be 1..={MAX_INTERFACES}")]
    Interfaces(u32),
    /// `speed_bps` is zero.
    #[error("speed_bps: must be greater than 0")]
    Speed,
    /// `speed_bps` above [`MAX_SPEED_BPS`].
    #[error(
        "speed_bps: {0} is above the {MAX_SPEED_BPS} (400 Gbit/s) maximum, beyond which \
         counters would saturate within about 14 years"
    )]
    SpeedTooHigh(u64),
    /// `initial` percentage above 100.
    #[error("initial: percent-oper-down {0} is out of range, must be 0..=100")]
    Percent(u8),
}

impl SpecError {
    /// The [`DeviceSpec`] field at fault: `interfaces`, `speed_bps` or `initial`.
    pub fn field(&self) -> &'static str {
        match self {
            SpecError::Interfaces(_) => "interfaces",
            SpecError::Speed | SpecError::SpeedTooHigh(_) => "speed_bps",
            SpecError::Percent(_) => "initial",
        }
    }
}

/// What one simulated device looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceSpec {
    /// Seed of every per-device random choice (counter phases, sizes, ppm, initial picks).
    pub seed: u64,
    /// Number of interfaces (1..=1024), named as `naming` says.
    pub interfaces: u32,
    /// Link speed of every interface in bit/s (1..=[`MAX_SPEED_BPS`]).
    pub speed_bps: u64,
    /// Error/discard scenario.
    pub errors: ErrorScenario,
    /// State at construction.
    pub initial: InitialState,
    /// How the interfaces are named.
    pub naming: InterfaceNaming,
    /// When the device booted, Unix seconds: its counters are 0 then and count traffic from
    /// it. `None`: [`seeded_boot_s`](crate::seeded_boot_s)`(seed, `[`DEFAULT_BOOT_BEFORE_S`]`)`,
    /// so a model built without a boot time is still deterministic. A fleet passes each
    /// device's seeded boot time before the fleet's start.
    pub boot_s: Option<u32>,
}

/// The instant a [`DeviceSpec`] without `boot_s` counts its seeded boot time back from:
/// 2023-01-01T00:00:00Z, in Unix seconds.
pub const DEFAULT_BOOT_BEFORE_S: u32 = 1_672_531_200;

impl Default for DeviceSpec {
    fn default() -> Self {
        Self {
            seed: 0,
            interfaces: 10,
            speed_bps: 1_000_000_000,
            errors: ErrorScenario::Clean,
            initial: InitialState::AllUp,
            naming: InterfaceNaming::Arista,
            boot_s: None,
        }
    }
}

impl DeviceSpec {
    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SpecError> {
        if !(1..=MAX_INTERFACES).contains(&self.interfaces) {
            return Err(SpecError::Interfaces(self.interfaces));
        }
        if self.speed_bps == 0 {
            return Err(SpecError::Speed);
        }
        if self.speed_bps > MAX_SPEED_BPS {
            return Err(SpecError::SpeedTooHigh(self.speed_bps));
        }
        if let InitialState::PercentOperDown(p) = self.initial
            && p > 100
        {
            return Err(SpecError::Percent(p));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_errors_name_their_field() {
        for (e, field) in [
            (SpecError::Interfaces(0), "interfaces"),
            (SpecError::Speed, "speed_bps"),
            (SpecError::SpeedTooHigh(u64::MAX), "speed_bps"),
            (SpecError::Percent(101), "initial"),
        ] {
            assert_eq!(e.field(), field);
            assert!(e.to_string().starts_with(&format!("{field}: ")), "{e}");
        }
    }

    #[test]
    fn scenarios_parse_and_print() {
        for s in ["clean", "typical", "degraded", "failing"] {
            assert_eq!(s.parse::<ErrorScenario>().unwrap().as_str(), s);
            assert_eq!(
                s.to_uppercase().parse::<ErrorScenario>().unwrap().as_str(),
                s
            );
        }
        for s in ["clean", "rare", "typical", "aggressive"] {
            assert_eq!(s.parse::<FlapScenario>().unwrap().as_str(), s);
        }
        let e = "bad".parse::<FlapScenario>().unwrap_err().to_string();
        assert!(e.contains("\"bad\"") && e.contains("aggressive"), "{e}");
        assert_eq!(ErrorScenario::default(), ErrorScenario::Clean);
        assert_eq!(FlapScenario::default(), FlapScenario::Clean);
    }

    #[test]
    fn initial_state_parses() {
        for st in [
            InitialState::AllUp,
            InitialState::AllAdminDown,
            InitialState::OperDown,
            InitialState::PercentOperDown(30),
        ] {
            assert_eq!(st.to_string().parse::<InitialState>().unwrap(), st);
        }
        assert_eq!(
            "ALL_ADMIN_DOWN".parse::<InitialState>().unwrap(),
            InitialState::AllAdminDown
        );
        assert!("101%".parse::<InitialState>().is_err());
        assert!("x%".parse::<InitialState>().is_err());
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(DeviceSpec::default().validate(), Ok(()));
        let bad = DeviceSpec {
            interfaces: 0,
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err(SpecError::Interfaces(0)));
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .starts_with("interfaces")
        );
        let bad = DeviceSpec {
            interfaces: 1025,
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err(SpecError::Interfaces(1025)));
        let bad = DeviceSpec {
            speed_bps: 0,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .starts_with("speed_bps")
        );
        let bad = DeviceSpec {
            speed_bps: MAX_SPEED_BPS + 1,
            ..Default::default()
        };
        assert_eq!(
            bad.validate(),
            Err(SpecError::SpeedTooHigh(MAX_SPEED_BPS + 1))
        );
        let fast = DeviceSpec {
            speed_bps: MAX_SPEED_BPS,
            ..Default::default()
        };
        assert_eq!(fast.validate(), Ok(()));
        let bad = DeviceSpec {
            initial: InitialState::PercentOperDown(101),
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err(SpecError::Percent(101)));
        let ok = DeviceSpec {
            interfaces: 1024,
            initial: InitialState::PercentOperDown(100),
            ..Default::default()
        };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn flap_parameters() {
        assert_eq!(FlapScenario::Clean.mean_interval(), None);
        assert_eq!(
            FlapScenario::Aggressive.mean_interval(),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            FlapScenario::Typical.down_range(),
            (Duration::from_secs(1), Duration::from_secs(30))
        );
    }
}
