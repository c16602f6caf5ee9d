//! `openconfig-platform` components: `/components/component[name=K]/…`.

use nl6_model::{
    Decimal, DeviceKey, LeafClass, LeafSchema, LeafType, Subtree, SubtreeSchema, Value,
};

use crate::inventory::Inventory;
use crate::wave::{hash, unit, wave};

/// The kinds of component a device has.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// The chassis (`Chassis`).
    Chassis,
    /// A line card (`Linecard1`…).
    Linecard,
    /// A fan tray (`Fan1`…).
    Fan,
    /// A power supply (`PowerSupply1`…).
    PowerSupply,
    /// The CPU (`CPU0`).
    Cpu,
    /// A transceiver (`Transceiver1`…), one per front-panel port.
    Transceiver,
}

impl ComponentKind {
    /// The `openconfig-platform-types` identity of `state/type`.
    pub fn identity(self) -> &'static str {
        match self {
            ComponentKind::Chassis => "openconfig-platform-types:CHASSIS",
            ComponentKind::Linecard => "openconfig-platform-types:LINECARD",
            ComponentKind::Fan => "openconfig-platform-types:FAN",
            ComponentKind::PowerSupply => "openconfig-platform-types:POWER_SUPPLY",
            ComponentKind::Cpu => "openconfig-platform-types:CPU",
            ComponentKind::Transceiver => "openconfig-platform-types:TRANSCEIVER",
        }
    }

    fn code(self) -> u64 {
        self as u64 + 1
    }

    /// Temperature level range (°C) and swing of this kind; fans have no sensor.
    fn temperature(self) -> Option<(f64, f64, f64)> {
        match self {
            ComponentKind::Chassis => Some((30.0, 45.0, 1.5)),
            ComponentKind::Linecard => Some((40.0, 60.0, 3.0)),
            ComponentKind::Cpu => Some((45.0, 70.0, 5.0)),
            ComponentKind::PowerSupply => Some((30.0, 45.0, 2.0)),
            ComponentKind::Transceiver => Some((30.0, 50.0, 1.0)),
            ComponentKind::Fan => None,
        }
    }
}

const fn leaf(path: &'static [&'static str], ty: LeafType, class: LeafClass) -> LeafSchema {
    LeafSchema { path, ty, class }
}

const TEMP: LeafType = LeafType::Decimal64 { fraction_digits: 1 };
const POWER: LeafType = LeafType::Decimal64 { fraction_digits: 2 };

/// The schema of `/components/component`.
pub static COMPONENTS: SubtreeSchema = SubtreeSchema {
    module: "openconfig-platform",
    list: &["components", "component"],
    key: Some("name"),
    leaves: &[
        leaf(&["state", "name"], LeafType::String, LeafClass::Static),
        leaf(&["state", "type"], LeafType::Enum, LeafClass::Static),
        leaf(
            &["state", "oper-status"],
            LeafType::Enum,
            LeafClass::OnChange,
        ),
        leaf(
            &["state", "description"],
            LeafType::String,
            LeafClass::Static,
        ),
        leaf(&["state", "mfg-name"], LeafType::String, LeafClass::Static),
        leaf(&["state", "part-no"], LeafType::String, LeafClass::Static),
        leaf(&["state", "serial-no"], LeafType::String, LeafClass::Static),
        leaf(
            &["state", "temperature", "instant"],
            TEMP,
            LeafClass::Sampled,
        ),
        leaf(&["state", "temperature", "avg"], TEMP, LeafClass::Sampled),
        leaf(&["state", "temperature", "min"], TEMP, LeafClass::Sampled),
        leaf(&["state", "temperature", "max"], TEMP, LeafClass::Sampled),
        leaf(
            &["state", "temperature", "alarm-status"],
            LeafType::Bool,
            LeafClass::OnChange,
        ),
        leaf(
            &["transceiver", "state", "input-power", "instant"],
            POWER,
            LeafClass::Sampled,
        ),
        leaf(
            &["transceiver", "state", "output-power", "instant"],
            POWER,
            LeafClass::Sampled,
        ),
    ],
};

/// The components of devices with one [`Inventory`].
#[derive(Debug)]
pub struct Components {
    names: Vec<String>,
    kinds: Vec<(ComponentKind, u32)>,
    manufacturer: String,
    chassis_part: String,
}

impl Components {
    /// The components `inventory` describes: the chassis, then line cards, fans, power
    /// supplies, the CPU and the transceivers.
    pub fn new(inventory: &Inventory) -> Components {
        let mut names = vec!["Chassis".to_string()];
        let mut kinds = vec![(ComponentKind::Chassis, 0)];
        let groups = [
            (ComponentKind::Linecard, "Linecard", inventory.linecards),
            (ComponentKind::Fan, "Fan", inventory.fans),
            (
                ComponentKind::PowerSupply,
                "PowerSupply",
                inventory.power_supplies,
            ),
        ];
        for (kind, prefix, count) in groups {
            for i in 1..=count {
                names.push(format!("{prefix}{i}"));
                kinds.push((kind, i));
            }
        }
        names.push("CPU0".to_string());
        kinds.push((ComponentKind::Cpu, 0));
        for i in 1..=inventory.transceivers {
            names.push(format!("Transceiver{i}"));
            kinds.push((ComponentKind::Transceiver, i));
        }
        Components {
            names,
            kinds,
            manufacturer: inventory.manufacturer.clone(),
            chassis_part: inventory.chassis_part.clone(),
        }
    }

    /// The kind of `entry`.
    pub fn kind(&self, entry: usize) -> ComponentKind {
        self.kinds[entry].0
    }

    fn part_no(&self, kind: ComponentKind) -> String {
        match kind {
            ComponentKind::Chassis => self.chassis_part.clone(),
            ComponentKind::Linecard => format!("{}-LC", self.chassis_part),
            ComponentKind::Fan => format!("{}-FAN", self.chassis_part),
            ComponentKind::PowerSupply => format!("{}-PSU", self.chassis_part),
            ComponentKind::Cpu => format!("{}-CPU", self.chassis_part),
            ComponentKind::Transceiver => "QSFP-100G-SR4".to_string(),
        }
    }

    fn description(kind: ComponentKind) -> &'static str {
        match kind {
            ComponentKind::Chassis => "Chassis",
            ComponentKind::Linecard => "Line card",
            ComponentKind::Fan => "Fan tray",
            ComponentKind::PowerSupply => "Power supply",
            ComponentKind::Cpu => "Control-plane CPU",
            ComponentKind::Transceiver => "100GBASE-SR4 QSFP28",
        }
    }
}

/// A decimal with `fraction_digits` from an f64 (rounded).
fn decimal(x: f64, fraction_digits: u8) -> Value {
    let scaled = (x * 10f64.powi(i32::from(fraction_digits))).round() as i64;
    Value::Decimal(Decimal {
        digits: scaled,
        fraction_digits,
    })
}

impl Subtree for Components {
    fn schema(&self) -> &'static SubtreeSchema {
        &COMPONENTS
    }

    fn entry_count(&self) -> usize {
        self.names.len()
    }

    fn key(&self, entry: usize) -> &str {
        &self.names[entry]
    }

    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, unix_ns: u64) -> Option<Value> {
        let (kind, n) = *self.kinds.get(entry)?;
        let w = hash(device.seed, kind.code(), u64::from(n));
        Some(match leaf {
            0 => Value::Str(self.names[entry].clone()),
            1 => Value::Enum(kind.identity()),
            2 => Value::Enum("openconfig-platform-types:ACTIVE"),
            3 => Value::Str(Self::description(kind).to_string()),
            4 => Value::Str(self.manufacturer.clone()),
            5 => Value::Str(self.part_no(kind)),
            6 => Value::Str(format!("NL6{:09X}", w & 0xf_ffff_ffff)),
            7..=10 => {
                let (lo, hi, swing) = kind.temperature()?;
                let level = lo + (hi - lo) * unit(w);
                let t = wave(level, swing, w.rotate_left(17), unix_ns);
                let x = [t.instant, t.avg, t.min, t.max][leaf - 7];
                decimal(x, 1)
            }
            11 => {
                kind.temperature()?;
                Value::Bool(false)
            }
            12 | 13 if kind == ComponentKind::Transceiver => {
                // Receive −4…0 dBm, transmit −1…+2 dBm, a tenth of a dB of wobble.
                let (lo, hi) = if leaf == 12 { (-4.0, 0.0) } else { (-1.0, 2.0) };
                let level = lo + (hi - lo) * unit(w.rotate_left(leaf as u32 * 7));
                decimal(wave(level, 0.1, w, unix_ns).instant, 2)
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000_000_000_000;

    fn key(seed: u64) -> DeviceKey {
        DeviceKey { seed, boot_ns: 0 }
    }

    #[test]
    fn the_inventory_decides_the_entries() {
        let c = Components::new(&Inventory {
            linecards: 2,
            ..Inventory::default()
        });
        let names: Vec<&str> = (0..c.entry_count()).map(|e| c.key(e)).collect();
        assert_eq!(
            &names[..5],
            ["Chassis", "Linecard1", "Linecard2", "Fan1", "Fan2"]
        );
        assert_eq!(c.entry_count(), 1 + 2 + 4 + 2 + 1 + 10);
        assert_eq!(c.kind(c.entry_count() - 1), ComponentKind::Transceiver);
    }

    #[test]
    fn serials_differ_per_device_and_temperatures_stay_in_their_range() {
        let c = Components::new(&Inventory::default());
        let serial = |seed| c.value(key(seed), 0, 6, T);
        assert_ne!(serial(1), serial(2));
        assert_eq!(serial(1), serial(1));
        for t in (0..1_200).map(|s| T + s * 1_000_000_000) {
            let Some(Value::Decimal(d)) = c.value(key(9), 0, 7, t) else {
                panic!("chassis temperature");
            };
            assert!((28.5..=46.5).contains(&d.to_f64()), "{d}");
        }
    }

    #[test]
    fn every_component_of_a_device_has_its_own_serial() {
        let c = Components::new(&Inventory {
            linecards: 8,
            fans: 8,
            power_supplies: 8,
            transceivers: 64,
            ..Inventory::default()
        });
        for seed in 0..32 {
            let mut serials: Vec<_> = (0..c.entry_count())
                .map(|e| c.value(key(seed), e, 6, T).unwrap())
                .collect();
            serials.sort_by_key(|v| format!("{v:?}"));
            serials.dedup();
            assert_eq!(serials.len(), c.entry_count(), "seed {seed}");
        }
    }

    #[test]
    fn leaves_an_entry_lacks_are_absent() {
        let c = Components::new(&Inventory::default());
        let fan = (0..c.entry_count()).find(|&e| c.key(e) == "Fan1").unwrap();
        assert_eq!(c.value(key(1), fan, 7, T), None);
        assert_eq!(c.value(key(1), fan, 12, T), None);
        let xcvr = c.entry_count() - 1;
        assert!(matches!(
            c.value(key(1), xcvr, 12, T),
            Some(Value::Decimal(_))
        ));
        assert_eq!(c.value(key(1), 0, COMPONENTS.leaves.len(), T), None);
    }
}
