//! `openconfig-system`: `/system/state`, `/system/cpus/cpu[index]`, `/system/memory/state`.

use nl6_model::{DeviceKey, LeafClass, LeafSchema, LeafType, Subtree, SubtreeSchema, Value};

use crate::wave::{hash, unit, wave};

/// The schema of `/system/state`.
pub static SYSTEM_STATE: SubtreeSchema = SubtreeSchema {
    module: "openconfig-system",
    list: &["system", "state"],
    key: None,
    leaves: &[LeafSchema {
        path: &["boot-time"],
        ty: LeafType::Uint64,
        class: LeafClass::OnChange,
    }],
};

/// The schema of `/system/cpus/cpu[index]`.
pub static CPUS: SubtreeSchema = SubtreeSchema {
    module: "openconfig-system",
    list: &["system", "cpus", "cpu"],
    key: Some("index"),
    leaves: &[
        LeafSchema {
            path: &["state", "index"],
            ty: LeafType::Uint32,
            class: LeafClass::Static,
        },
        LeafSchema {
            path: &["state", "total", "instant"],
            ty: LeafType::Uint32,
            class: LeafClass::Sampled,
        },
        LeafSchema {
            path: &["state", "total", "avg"],
            ty: LeafType::Uint32,
            class: LeafClass::Sampled,
        },
        LeafSchema {
            path: &["state", "total", "min"],
            ty: LeafType::Uint32,
            class: LeafClass::Sampled,
        },
        LeafSchema {
            path: &["state", "total", "max"],
            ty: LeafType::Uint32,
            class: LeafClass::Sampled,
        },
    ],
};

/// The schema of `/system/memory/state`.
pub static MEMORY: SubtreeSchema = SubtreeSchema {
    module: "openconfig-system",
    list: &["system", "memory", "state"],
    key: None,
    leaves: &[
        LeafSchema {
            path: &["physical"],
            ty: LeafType::Uint64,
            class: LeafClass::Static,
        },
        LeafSchema {
            path: &["used"],
            ty: LeafType::Uint64,
            class: LeafClass::Sampled,
        },
        LeafSchema {
            path: &["free"],
            ty: LeafType::Uint64,
            class: LeafClass::Sampled,
        },
    ],
};

/// `/system/state`: the device's boot time (Unix ns).
#[derive(Debug)]
pub struct SystemState;

impl Subtree for SystemState {
    fn schema(&self) -> &'static SubtreeSchema {
        &SYSTEM_STATE
    }

    fn entry_count(&self) -> usize {
        1
    }

    fn key(&self, _entry: usize) -> &str {
        ""
    }

    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, _unix_ns: u64) -> Option<Value> {
        (entry == 0 && leaf == 0).then_some(Value::Uint(device.boot_ns))
    }
}

/// `/system/cpus/cpu[index]`: per-core utilisation in percent.
#[derive(Debug)]
pub struct Cpus {
    keys: Vec<String>,
}

impl Cpus {
    /// `count` cores, indexes 0…count−1.
    pub fn new(count: u32) -> Cpus {
        Cpus {
            keys: (0..count).map(|i| i.to_string()).collect(),
        }
    }
}

impl Subtree for Cpus {
    fn schema(&self) -> &'static SubtreeSchema {
        &CPUS
    }

    fn entry_count(&self) -> usize {
        self.keys.len()
    }

    fn key(&self, entry: usize) -> &str {
        &self.keys[entry]
    }

    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, unix_ns: u64) -> Option<Value> {
        if entry >= self.keys.len() {
            return None;
        }
        if leaf == 0 {
            return Some(Value::Uint(entry as u64));
        }
        // Each core idles at 5…40 % and swings by up to 15 points.
        let w = hash(device.seed, 0xc0, entry as u64);
        let level = 5.0 + 35.0 * unit(w);
        let swing = 15.0 * unit(w.rotate_left(23));
        let u = wave(level, swing, w.rotate_left(41), unix_ns);
        let x = match leaf {
            1 => u.instant,
            2 => u.avg,
            3 => u.min,
            4 => u.max,
            _ => return None,
        };
        Some(Value::Uint(x.round().clamp(0.0, 100.0) as u64))
    }
}

/// `/system/memory/state`: physical memory and how much of it is in use.
#[derive(Debug)]
pub struct Memory {
    physical: u64,
}

impl Memory {
    /// A device with `physical` bytes.
    pub fn new(physical: u64) -> Memory {
        Memory { physical }
    }
}

impl Subtree for Memory {
    fn schema(&self) -> &'static SubtreeSchema {
        &MEMORY
    }

    fn entry_count(&self) -> usize {
        1
    }

    fn key(&self, _entry: usize) -> &str {
        ""
    }

    fn value(&self, device: DeviceKey, entry: usize, leaf: usize, unix_ns: u64) -> Option<Value> {
        if entry != 0 {
            return None;
        }
        // 30…60 % in use, ±2 % over the cycle.
        let w = hash(device.seed, 0x3e3, 0);
        let share = wave(0.3 + 0.3 * unit(w), 0.02, w.rotate_left(13), unix_ns).instant;
        let used = (self.physical as f64 * share) as u64;
        match leaf {
            0 => Some(Value::Uint(self.physical)),
            1 => Some(Value::Uint(used)),
            2 => Some(Value::Uint(self.physical - used)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_700_000_000_000_000_000;
    const KEY: DeviceKey = DeviceKey {
        seed: 5,
        boot_ns: 1_600_000_000_000_000_000,
    };

    #[test]
    fn used_and_free_add_up_to_physical() {
        let m = Memory::new(8 << 30);
        let get = |leaf| match m.value(KEY, 0, leaf, T) {
            Some(Value::Uint(v)) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(get(1) + get(2), get(0));
        assert!(get(1) > get(0) / 4 && get(1) < get(0) * 2 / 3);
    }

    #[test]
    fn cpu_utilisation_is_a_percentage_inside_its_cycle() {
        let cpus = Cpus::new(4);
        assert_eq!(cpus.key(3), "3");
        for t in (0..600).map(|s| T + s * 1_000_000_000) {
            let read = |leaf| match cpus.value(KEY, 2, leaf, t) {
                Some(Value::Uint(v)) => v,
                other => panic!("{other:?}"),
            };
            assert!(read(3) <= read(1) && read(1) <= read(4) && read(4) <= 100);
        }
        assert_eq!(cpus.value(KEY, 4, 1, T), None);
    }

    #[test]
    fn boot_time_is_the_devices() {
        assert_eq!(
            SystemState.value(KEY, 0, 0, T),
            Some(Value::Uint(KEY.boot_ns))
        );
    }
}
