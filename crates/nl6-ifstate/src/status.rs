//! Link, admin and oper status enums and the per-interface state value.

use crate::parse::{ParseEnumError, lookup};
use std::fmt;
use std::str::FromStr;

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident, $kind:literal, $valid:ident, [$($var:ident => $s:literal),+ $(,)?]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $s, "`.")]
                $var,
            )+
        }

        const $valid: &[&str] = &[$($s),+];

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The OpenConfig identity name without module prefix ("UP", "DOWN", ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$var => $s,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;
            /// Case-insensitive; an `openconfig-interfaces:` prefix is accepted.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bare = s.trim();
                let bare = bare.strip_prefix("openconfig-interfaces:").unwrap_or(bare);
                lookup(bare, $valid)
                    .map(|i| Self::ALL[i])
                    .ok_or_else(|| ParseEnumError::new($kind, s, $valid))
            }
        }
    };
}

status_enum!(
    /// The physical link state, as set by the wire, REST (`oper-status`) or the flap scheduler.
    LinkStatus, "link status", LINK_VALID, [Up => "UP", Down => "DOWN", Testing => "TESTING"]
);
status_enum!(
    /// The administrative state (`admin-status`).
    AdminStatus, "admin status", ADMIN_VALID, [Up => "UP", Down => "DOWN", Testing => "TESTING"]
);
status_enum!(
    /// The operational state (`oper-status`), derived from link and admin per RFC 2863.
    OperStatus, "oper status", OPER_VALID, [
        Up => "UP",
        Down => "DOWN",
        Testing => "TESTING",
        Unknown => "UNKNOWN",
        Dormant => "DORMANT",
        NotPresent => "NOT_PRESENT",
        LowerLayerDown => "LOWER_LAYER_DOWN",
    ]
);

impl LinkStatus {
    pub(crate) fn to_bits(self) -> u64 {
        self as u64
    }
    pub(crate) fn from_bits(b: u64) -> Self {
        match b {
            0 => LinkStatus::Up,
            1 => LinkStatus::Down,
            _ => LinkStatus::Testing,
        }
    }
}

impl AdminStatus {
    pub(crate) fn to_bits(self) -> u64 {
        self as u64
    }
    pub(crate) fn from_bits(b: u64) -> Self {
        match b {
            0 => AdminStatus::Up,
            1 => AdminStatus::Down,
            _ => AdminStatus::Testing,
        }
    }
}

impl From<LinkStatus> for OperStatus {
    fn from(l: LinkStatus) -> Self {
        match l {
            LinkStatus::Up => OperStatus::Up,
            LinkStatus::Down => OperStatus::Down,
            LinkStatus::Testing => OperStatus::Testing,
        }
    }
}

/// One interface's state: link, admin and the time of the last visible change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfState {
    /// Physical link state (kept even while masked by admin).
    pub link: LinkStatus,
    /// Administrative state.
    pub admin: AdminStatus,
    /// Unix ns of the last oper/admin change; 0 = never changed.
    pub last_change_ns: u64,
}

impl IfState {
    /// RFC 2863 derivation: admin DOWN → DOWN, admin TESTING → TESTING, admin UP → link.
    pub fn oper(&self) -> OperStatus {
        match self.admin {
            AdminStatus::Down => OperStatus::Down,
            AdminStatus::Testing => OperStatus::Testing,
            AdminStatus::Up => self.link.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_parse_case_insensitively() {
        for o in OperStatus::ALL {
            assert_eq!(o.as_str().parse::<OperStatus>().unwrap(), *o);
            assert_eq!(o.as_str().to_lowercase().parse::<OperStatus>().unwrap(), *o);
        }
        assert_eq!(
            "lower-layer-down".parse::<OperStatus>().unwrap(),
            OperStatus::LowerLayerDown
        );
        assert_eq!(
            "Testing".parse::<AdminStatus>().unwrap(),
            AdminStatus::Testing
        );
        assert_eq!(
            "openconfig-interfaces:DOWN".parse::<LinkStatus>().unwrap(),
            LinkStatus::Down
        );
        let e = "DORMANT".parse::<LinkStatus>().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("DORMANT") && msg.contains("UP, DOWN, TESTING"),
            "{msg}"
        );
    }

    #[test]
    fn oper_follows_rfc2863() {
        let mk = |link, admin| IfState {
            link,
            admin,
            last_change_ns: 0,
        };
        for l in LinkStatus::ALL {
            assert_eq!(mk(*l, AdminStatus::Down).oper(), OperStatus::Down);
            assert_eq!(mk(*l, AdminStatus::Testing).oper(), OperStatus::Testing);
            assert_eq!(mk(*l, AdminStatus::Up).oper(), OperStatus::from(*l));
        }
        assert_eq!(
            mk(LinkStatus::Down, AdminStatus::Up).oper(),
            OperStatus::Down
        );
    }

    #[test]
    fn bits_round_trip() {
        for l in LinkStatus::ALL {
            assert_eq!(LinkStatus::from_bits(l.to_bits()), *l);
        }
        for a in AdminStatus::ALL {
            assert_eq!(AdminStatus::from_bits(a.to_bits()), *a);
        }
    }
}
