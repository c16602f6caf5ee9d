//! The nl6 device manager: batches of simulated network devices, each with its own
//! IPv4 address, interface model, gNMI dial-in presence and (optionally) a dial-out
//! exporter. Embeddable without the `nl6d` daemon.
//!
//! ```no_run
//! use nl6_fleet::{BatchSpec, Fleet, FleetConfig};
//!
//! # async fn demo() -> Result<(), nl6_fleet::FleetError> {
//! // Loopback mode: devices on 127.0.0.0/8, dial-in on <device-ip>:9339 (plaintext here).
//! let fleet = Fleet::start(FleetConfig::default()).await?;
//! let report = fleet.create_batch(BatchSpec { device_count: 100, ..BatchSpec::default() }).await?;
//! println!("{} devices from {} to {}", report.created, report.first, report.last);
//! fleet.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod batch;
mod bgp_flap;
mod composition;
mod device;
mod dial;
mod directory;
mod error;
mod fleet;
mod hostname;
mod plane;
mod select;
mod state;
mod topology;

pub use batch::{AddressPlan, MAX_DEVICE_COUNT, NETMASKS, plan};
pub use bgp_flap::{BgpFlap, DEFAULT_BGP_FLAP, MAX_BGP_FLAP};
pub use composition::Composition;
pub use device::{BatchSpec, DeviceInfo, Page};
pub use error::FleetError;
pub use fleet::{BatchReport, DialStats, Fleet, FleetConfig};
pub use hostname::hostname_for;
pub use plane::NetworkMode;
pub use select::{
    DeviceSelection, DialinMember, DialoutMember, MdtMember, MdtSessionMember, Selected,
    SelectedDialin, SelectedMdt,
};
pub use state::{MAX_STATE_DURATION, StateLeaf, StateReply};
pub use topology::{Link, LinkEnd, MAX_LINKS, MAX_LINKS_PER_REQUEST};
