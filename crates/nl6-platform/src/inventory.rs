//! What hardware a device has: the counts and names its components derive from.

/// Most entries of one kind a device may have.
pub const MAX_PER_KIND: u32 = 1_024;

/// The hardware of a device. A profile sets it; every device of the profile shares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// Manufacturer (`mfg-name` of every component).
    pub manufacturer: String,
    /// Part number of the chassis (also its `description`).
    pub chassis_part: String,
    /// Line cards (`Linecard1`…); 0 for a fixed-form-factor box.
    pub linecards: u32,
    /// Fan trays (`Fan1`…).
    pub fans: u32,
    /// Power supplies (`PowerSupply1`…).
    pub power_supplies: u32,
    /// Transceivers, one per front-panel port (`Transceiver1`…).
    pub transceivers: u32,
    /// CPU cores (`/system/cpus/cpu[index]`, and one `CPU0` component).
    pub cpus: u32,
    /// Physical memory, bytes.
    pub memory_bytes: u64,
}

impl Default for Inventory {
    /// A small fixed switch: no line cards, 4 fans, 2 power supplies, 10 transceivers,
    /// 4 CPU cores, 8 GiB of memory.
    fn default() -> Self {
        Inventory {
            manufacturer: "nl6".to_string(),
            chassis_part: "NL6-1RU-10".to_string(),
            linecards: 0,
            fans: 4,
            power_supplies: 2,
            transceivers: 10,
            cpus: 4,
            memory_bytes: 8 << 30,
        }
    }
}

/// An inventory value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InventoryError {
    /// The field, e.g. `fans`.
    pub field: &'static str,
    /// Why it is refused.
    pub reason: String,
}

impl Inventory {
    /// Checks every count against [`MAX_PER_KIND`] and that there is a CPU and memory.
    pub fn validate(&self) -> Result<(), InventoryError> {
        let counts = [
            ("linecards", self.linecards),
            ("fans", self.fans),
            ("power_supplies", self.power_supplies),
            ("transceivers", self.transceivers),
            ("cpus", self.cpus),
        ];
        for (field, n) in counts {
            if n > MAX_PER_KIND {
                return Err(InventoryError {
                    field,
                    reason: format!("{n} is more than the {MAX_PER_KIND} allowed"),
                });
            }
        }
        if self.cpus == 0 {
            return Err(InventoryError {
                field: "cpus",
                reason: "a device needs at least 1 CPU".to_string(),
            });
        }
        if self.memory_bytes == 0 {
            return Err(InventoryError {
                field: "memory_bytes",
                reason: "must be more than 0".to_string(),
            });
        }
        for (field, text) in [
            ("manufacturer", &self.manufacturer),
            ("chassis_part", &self.chassis_part),
        ] {
            if text.is_empty() || text.len() > 64 {
                return Err(InventoryError {
                    field,
                    reason: "must be 1 to 64 characters".to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_limits_name_the_field() {
        assert_eq!(Inventory::default().validate(), Ok(()));
        let many = Inventory {
            fans: MAX_PER_KIND + 1,
            ..Inventory::default()
        };
        assert_eq!(many.validate().unwrap_err().field, "fans");
        let none = Inventory {
            cpus: 0,
            ..Inventory::default()
        };
        assert_eq!(none.validate().unwrap_err().field, "cpus");
    }
}
