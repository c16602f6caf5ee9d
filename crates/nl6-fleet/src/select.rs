//! Choosing devices by address range or batch, and handing out what a measured run
//! needs of their gNMI dial-out exports.

use std::net::Ipv4Addr;
use std::sync::Arc;

use nl6_dialout::{DialoutConfig, RunSlot};

use crate::error::FleetError;
use crate::fleet::Fleet;

/// A set of devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelection {
    /// Every device.
    All,
    /// The devices with an address in `first..=last`.
    Range {
        /// Lowest address.
        first: Ipv4Addr,
        /// Highest address.
        last: Ipv4Addr,
    },
    /// The devices of the batch the device at this address belongs to.
    BatchOf(Ipv4Addr),
}

/// A selected device that streams gNMI dial-out.
#[derive(Debug, Clone)]
pub struct DialoutMember {
    /// The device's address (its `Prefix.target`).
    pub ip: Ipv4Addr,
    /// The flavor it streams.
    pub flavor: String,
    /// Its dial-out block.
    pub config: Arc<DialoutConfig>,
    /// Where to put it into a run.
    pub run: RunSlot,
}

/// What [`Fleet::dialout_members`] found.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    /// Devices selected.
    pub devices: usize,
    /// Those that stream gNMI dial-out, by address.
    pub dialout: Vec<DialoutMember>,
}

impl Fleet {
    /// The devices of `selection` and the gNMI dial-out exports among them, by address;
    /// visits only the selected devices. A batch named by an unknown address is an error.
    pub fn dialout_members(&self, selection: &DeviceSelection) -> Result<Selected, FleetError> {
        let devices = match selection {
            DeviceSelection::All => self.devices().snapshot(),
            DeviceSelection::Range { first, last } => {
                if first > last {
                    return Err(FleetError::invalid(
                        "devices.last",
                        format!("{last} is below devices.first {first}"),
                    ));
                }
                self.devices().range(*first, *last)
            }
            DeviceSelection::BatchOf(ip) => {
                let Some(anchor) = self.devices().get(*ip) else {
                    return Err(FleetError::NotFound(*ip));
                };
                self.devices()
                    .snapshot()
                    .into_iter()
                    .filter(|d| Arc::ptr_eq(&d.batch, &anchor.batch))
                    .collect()
            }
        };
        let dialout = devices
            .iter()
            .filter_map(|d| {
                let export = d.export.lock();
                let export = export.as_ref()?;
                Some(DialoutMember {
                    ip: d.ip,
                    flavor: export.flavor().to_string(),
                    config: d.batch.dialout.clone()?,
                    run: export.run_slot().clone(),
                })
            })
            .collect();
        Ok(Selected {
            devices: devices.len(),
            dialout,
        })
    }
}
