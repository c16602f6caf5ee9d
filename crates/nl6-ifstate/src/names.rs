//! Interned interface name lists, one per naming style and interface count: how a
//! vendor names its ports (`Ethernet1`, `HundredGigE0/0/0/0`, `et-0/0/0`, `1/1/c1/1`,
//! `Ethernet0`).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use crate::parse::ParseEnumError;

/// How a device names its interfaces (index `i` is 0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InterfaceNaming {
    /// Arista EOS: `Ethernet1`, `Ethernet2`, ... (the default).
    #[default]
    Arista,
    /// Cisco IOS XR: `HundredGigE0/<slot>/0/<port>`, 36 ports per slot from
    /// `HundredGigE0/0/0/0`.
    Xr,
    /// Juniper Junos: `et-<fpc>/0/<port>`, 48 ports per FPC from `et-0/0/0`.
    Junos,
    /// Nokia SR OS: `1/<card>/c<connector>/1`, 36 connectors per card from `1/1/c1/1`.
    Sros,
    /// SONiC: `Ethernet0`, `Ethernet4`, ... (four lanes per port).
    Sonic,
}

impl InterfaceNaming {
    /// Every style.
    pub const ALL: [InterfaceNaming; 5] = [
        InterfaceNaming::Arista,
        InterfaceNaming::Xr,
        InterfaceNaming::Junos,
        InterfaceNaming::Sros,
        InterfaceNaming::Sonic,
    ];

    /// The style's name in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceNaming::Arista => "arista",
            InterfaceNaming::Xr => "xr",
            InterfaceNaming::Junos => "junos",
            InterfaceNaming::Sros => "sros",
            InterfaceNaming::Sonic => "sonic",
        }
    }

    /// The name of the interface at 0-based `idx`.
    pub fn name(self, idx: u32) -> String {
        match self {
            InterfaceNaming::Arista => format!("Ethernet{}", idx + 1),
            InterfaceNaming::Xr => format!("HundredGigE0/{}/0/{}", idx / 36, idx % 36),
            InterfaceNaming::Junos => format!("et-{}/0/{}", idx / 48, idx % 48),
            InterfaceNaming::Sros => format!("1/{}/c{}/1", idx / 36 + 1, idx % 36 + 1),
            InterfaceNaming::Sonic => format!("Ethernet{}", idx * 4),
        }
    }
}

impl fmt::Display for InterfaceNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InterfaceNaming {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InterfaceNaming::ALL
            .into_iter()
            .find(|n| n.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                ParseEnumError::new(
                    "interface naming",
                    s,
                    &["arista", "xr", "junos", "sros", "sonic"],
                )
            })
    }
}

/// The interface names of a device; shared by every device with the same style and count.
#[derive(Debug)]
pub struct InterfaceNames {
    /// All names concatenated.
    text: String,
    /// `ends[i]` is the end offset of name i in `text` (start is `ends[i-1]` or 0).
    ends: Box<[u32]>,
    /// Name → 0-based index.
    index: HashMap<Box<str>, u32>,
}

impl InterfaceNames {
    /// The shared list for `n` interfaces named Ethernet1..EthernetN; the same `Arc` for
    /// equal `n`.
    pub fn for_count(n: u32) -> Arc<InterfaceNames> {
        Self::for_style(InterfaceNaming::Arista, n)
    }

    /// The shared list for `n` interfaces named in `naming` style; the same `Arc` for the
    /// same style and `n`.
    ///
    /// Lists stay interned for the life of the process (at most one per distinct pair).
    pub fn for_style(naming: InterfaceNaming, n: u32) -> Arc<InterfaceNames> {
        type Table = Mutex<HashMap<(InterfaceNaming, u32), Arc<InterfaceNames>>>;
        static TABLE: OnceLock<Table> = OnceLock::new();
        let table = TABLE.get_or_init(Default::default);
        table
            .lock()
            .entry((naming, n))
            .or_insert_with(|| Arc::new(Self::build(naming, n)))
            .clone()
    }

    fn build(naming: InterfaceNaming, n: u32) -> Self {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(n as usize);
        let mut index = HashMap::with_capacity(n as usize);
        for i in 0..n {
            let name = naming.name(i);
            text.push_str(&name);
            ends.push(text.len() as u32);
            index.insert(name.into_boxed_str(), i);
        }
        Self {
            text,
            ends: ends.into_boxed_slice(),
            index,
        }
    }

    /// Number of interfaces.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the list is empty (never for a valid device).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Name of the interface at 0-based `idx`; "" when out of range.
    pub fn name(&self, idx: usize) -> &str {
        match self.ends.get(idx) {
            Some(&end) => {
                let start = if idx == 0 { 0 } else { self.ends[idx - 1] };
                &self.text[start as usize..end as usize]
            }
            None => "",
        }
    }

    /// 0-based index of `name`, if it is one of these interfaces (exact, case-sensitive).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).map(|&i| i as usize)
    }

    /// The names in ifindex order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(move |i| self.name(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_and_indexed() {
        let a = InterfaceNames::for_count(12);
        let b = InterfaceNames::for_count(12);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &InterfaceNames::for_count(13)));
        assert_eq!(a.len(), 12);
        assert_eq!(a.name(0), "Ethernet1");
        assert_eq!(a.name(11), "Ethernet12");
        assert_eq!(a.name(12), "");
        for (i, n) in a.iter().enumerate() {
            assert_eq!(a.index_of(n), Some(i));
        }
        for bad in [
            "Ethernet0",
            "Ethernet13",
            "Ethernet01",
            "ethernet1",
            "Ethernet",
            "Ethernet1/1",
            "Ethernet+1",
        ] {
            assert_eq!(a.index_of(bad), None, "{bad}");
        }
        assert_eq!(a.iter().count(), 12);
    }

    #[test]
    fn vendor_styles() {
        let first_and_37th = |naming| {
            let names = InterfaceNames::for_style(naming, 40);
            (names.name(0).to_string(), names.name(36).to_string())
        };
        assert_eq!(
            first_and_37th(InterfaceNaming::Xr),
            ("HundredGigE0/0/0/0".into(), "HundredGigE0/1/0/0".into())
        );
        assert_eq!(
            first_and_37th(InterfaceNaming::Junos),
            ("et-0/0/0".into(), "et-0/0/36".into())
        );
        assert_eq!(
            first_and_37th(InterfaceNaming::Sros),
            ("1/1/c1/1".into(), "1/2/c1/1".into())
        );
        assert_eq!(
            first_and_37th(InterfaceNaming::Sonic),
            ("Ethernet0".into(), "Ethernet144".into())
        );
        for naming in InterfaceNaming::ALL {
            let names = InterfaceNames::for_style(naming, 1024);
            for (i, n) in names.iter().enumerate() {
                assert_eq!(names.index_of(n), Some(i), "{naming}: {n}");
            }
            assert_eq!(naming.as_str().parse::<InterfaceNaming>(), Ok(naming));
        }
        assert!("cisco".parse::<InterfaceNaming>().is_err());
    }
}
