//! Choosing devices by address range or batch, and handing out what a measured run
//! needs of their gNMI and MDT dial-out exports.

use std::net::Ipv4Addr;
use std::sync::Arc;

use nl6_dialout::{DialoutConfig, RunSlot};

use crate::device::Device;
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

/// One MDT dial-out session (a subscription towards one collector) of a selected device.
#[derive(Debug, Clone)]
pub struct MdtSessionMember {
    /// Its flavor (`mdt-<protocol>-<encoding>`).
    pub flavor: String,
    /// The collector it streams to (`host:port`).
    pub collector: String,
    /// Where to put it into a run.
    pub run: RunSlot,
}

/// A selected device with MDT dial-out sessions.
#[derive(Debug, Clone)]
pub struct MdtMember {
    /// The device's address.
    pub ip: Ipv4Addr,
    /// Its sessions, in configuration order.
    pub sessions: Vec<MdtSessionMember>,
}

/// What [`Fleet::mdt_members`] found.
#[derive(Debug, Clone, Default)]
pub struct SelectedMdt {
    /// Devices selected.
    pub devices: usize,
    /// Those with at least one MDT dial-out session, by address.
    pub mdt: Vec<MdtMember>,
}

/// A selected device with STREAM Subscribe RPCs open on dial-in.
#[derive(Debug, Clone)]
pub struct DialinMember {
    /// The device's address.
    pub ip: Ipv4Addr,
    /// Its STREAM RPCs open now.
    pub streams: usize,
    /// Where to put them into a run (streams opened later share it).
    pub run: RunSlot,
}

/// What [`Fleet::dialin_members`] found.
#[derive(Debug, Clone, Default)]
pub struct SelectedDialin {
    /// Devices selected.
    pub devices: usize,
    /// Those with at least one STREAM RPC open, by address.
    pub dialin: Vec<DialinMember>,
}

impl Fleet {
    /// The devices of `selection` and those among them with STREAM Subscribe RPCs open
    /// now, by address. A batch named by an unknown address is an error.
    pub fn dialin_members(
        &self,
        selection: &DeviceSelection,
    ) -> Result<SelectedDialin, FleetError> {
        let devices = self.selected(selection)?;
        let dialin = match self.dialin_runs() {
            Some(runs) => {
                runs.prune();
                devices
                    .iter()
                    .filter_map(|d| {
                        let (streams, run) = runs.streaming(d.ip)?;
                        Some(DialinMember {
                            ip: d.ip,
                            streams,
                            run,
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        Ok(SelectedDialin {
            devices: devices.len(),
            dialin,
        })
    }

    /// The devices of `selection` and the MDT dial-out sessions among them, by address;
    /// visits only the selected devices. A batch named by an unknown address is an error.
    pub fn mdt_members(&self, selection: &DeviceSelection) -> Result<SelectedMdt, FleetError> {
        let devices = self.selected(selection)?;
        let mdt = devices
            .iter()
            .filter_map(|d| {
                let exports = d.mdt_exports.lock();
                let sessions: Vec<MdtSessionMember> = exports
                    .iter()
                    .map(|e| MdtSessionMember {
                        flavor: e.flavor().to_string(),
                        collector: e
                            .collectors()
                            .first()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        run: e.run_slot().clone(),
                    })
                    .collect();
                (!sessions.is_empty()).then_some(MdtMember { ip: d.ip, sessions })
            })
            .collect();
        Ok(SelectedMdt {
            devices: devices.len(),
            mdt,
        })
    }

    /// The devices of `selection`, by address.
    fn selected(&self, selection: &DeviceSelection) -> Result<Vec<Arc<Device>>, FleetError> {
        Ok(match selection {
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
        })
    }

    /// The devices of `selection` and the gNMI dial-out exports among them, by address;
    /// visits only the selected devices. A batch named by an unknown address is an error.
    pub fn dialout_members(&self, selection: &DeviceSelection) -> Result<Selected, FleetError> {
        let devices = self.selected(selection)?;
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
