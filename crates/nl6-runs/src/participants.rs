//! Which selected devices take part in a run of each protocol, and the ledger each gets.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use nl6_dialout::{Publish, RunLedger, RunSlot, RunWindow};
use nl6_fleet::{DeviceSelection, Fleet};

use crate::error::RunError;
use crate::request::PROTOCOLS;

/// The flavors whose messages are `gnmi.SubscribeResponse`s (the tag goes in field 999).
const GNMI_FLAVORS: &[&str] = &["gnmireverse", "sonic", "nokia"];

/// What a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// gNMI dial-out, every `SubscribeResponse` flavor.
    GnmiDialout,
    /// Cisco MDT dial-out, every transport (gRPC, TCP, UDP).
    Mdt,
    /// gNMI dial-in: the STREAM Subscribe RPCs open to the devices.
    GnmiDialin,
}

impl Protocol {
    /// The protocol named `text` (default gNMI dial-out); the error lists the choices.
    pub(crate) fn parse(text: Option<&str>) -> Result<Protocol, RunError> {
        match text.map(str::trim) {
            None | Some("gnmi-dialout") => Ok(Protocol::GnmiDialout),
            Some("mdt") => Ok(Protocol::Mdt),
            Some("gnmi-dialin") => Ok(Protocol::GnmiDialin),
            Some(other) => Err(RunError::invalid(
                "protocol",
                format!(
                    "{other:?} is not a protocol; use one of {}",
                    PROTOCOLS.join(", ")
                ),
            )),
        }
    }

    /// Its name in requests and reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::GnmiDialout => "gnmi-dialout",
            Protocol::Mdt => "mdt",
            Protocol::GnmiDialin => "gnmi-dialin",
        }
    }

    /// A participant's ledger for `window`: gNMI messages get the tag appended as an
    /// extension; MDT collections carry it in `subscription_id_str`.
    pub(crate) fn ledger(self, window: RunWindow, tag: &str) -> RunLedger {
        match self {
            Protocol::GnmiDialout | Protocol::GnmiDialin => RunLedger::new(
                window,
                Bytes::from(nl6_gnmi::run_tag::subscribe_response_suffix(tag)),
            ),
            Protocol::Mdt => RunLedger::new(window, Bytes::new()).with_tag(tag),
        }
    }
}

/// One device taking part: every session it streams the protocol on shares its ledger.
#[derive(Debug, Clone)]
pub(crate) struct Participant {
    pub ip: Ipv4Addr,
    /// Its flavor (MDT: its sessions' flavors, comma-separated).
    pub flavor: String,
    /// Its collector (MDT: its sessions' collectors, comma-separated).
    pub collector: String,
    /// Where its sessions look for the run.
    pub slots: Vec<RunSlot>,
}

impl Participant {
    /// Puts every session of the device into `ledger`'s run.
    pub(crate) fn join(&self, ledger: &Arc<RunLedger>) {
        for slot in &self.slots {
            slot.join(ledger.clone());
        }
    }

    /// Ends the device's part in the run.
    pub(crate) fn leave(&self) {
        for slot in &self.slots {
            slot.leave();
        }
    }
}

/// The devices selected and the participants among them, by address.
#[derive(Debug)]
pub(crate) struct Found {
    pub selected: usize,
    pub participants: Vec<Participant>,
}

/// `items` without repeats, in first-seen order, comma-separated.
fn joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join(",")
}

/// The participants of a `protocol` run among `selection`; an empty list is an error
/// naming `devices`.
pub(crate) fn find(
    fleet: &Fleet,
    protocol: Protocol,
    selection: &DeviceSelection,
) -> Result<Found, RunError> {
    let found = match protocol {
        Protocol::GnmiDialout => gnmi_dialout(fleet, selection)?,
        Protocol::Mdt => mdt(fleet, selection)?,
        Protocol::GnmiDialin => gnmi_dialin(fleet, selection)?,
    };
    if found.participants.is_empty() {
        let what = match protocol {
            Protocol::GnmiDialout => format!("gNMI dial-out ({})", GNMI_FLAVORS.join(", ")),
            Protocol::Mdt => "MDT dial-out (an mdt block with destination groups)".to_string(),
            Protocol::GnmiDialin => {
                "gNMI dial-in (a STREAM Subscribe RPC open when the run is armed)".to_string()
            }
        };
        return Err(RunError::invalid(
            "devices",
            format!(
                "none of the {} selected devices streams {what}",
                found.selected
            ),
        ));
    }
    Ok(found)
}

fn gnmi_dialout(fleet: &Fleet, selection: &DeviceSelection) -> Result<Found, RunError> {
    let selected = fleet.dialout_members(selection)?;
    let mut participants = Vec::with_capacity(selected.dialout.len());
    for member in selected.dialout {
        if !GNMI_FLAVORS.contains(&member.flavor.as_str()) {
            continue;
        }
        if member.config.publish == Publish::Get {
            return Err(RunError::invalid(
                "devices",
                format!(
                    "device {} publishes Get responses (publish \"get\"), which runs do not measure yet; select devices with publish \"subscribe\"",
                    member.ip
                ),
            ));
        }
        participants.push(Participant {
            ip: member.ip,
            flavor: member.flavor.clone(),
            collector: member
                .config
                .destinations()
                .ok()
                .and_then(|d| d.first().map(|c| c.to_string()))
                .unwrap_or_default(),
            slots: vec![member.run],
        });
    }
    Ok(Found {
        selected: selected.devices,
        participants,
    })
}

fn mdt(fleet: &Fleet, selection: &DeviceSelection) -> Result<Found, RunError> {
    let selected = fleet.mdt_members(selection)?;
    let participants = selected
        .mdt
        .into_iter()
        .map(|member| Participant {
            ip: member.ip,
            flavor: joined(member.sessions.iter().map(|s| s.flavor.as_str())),
            collector: joined(member.sessions.iter().map(|s| s.collector.as_str())),
            slots: member.sessions.into_iter().map(|s| s.run).collect(),
        })
        .collect();
    Ok(Found {
        selected: selected.devices,
        participants,
    })
}

fn gnmi_dialin(fleet: &Fleet, selection: &DeviceSelection) -> Result<Found, RunError> {
    let selected = fleet.dialin_members(selection)?;
    let participants = selected
        .dialin
        .into_iter()
        .map(|member| Participant {
            ip: member.ip,
            flavor: "gnmi-dialin".to_string(),
            collector: String::new(),
            slots: vec![member.run],
        })
        .collect();
    Ok(Found {
        selected: selected.devices,
        participants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_and_name_the_choices() {
        assert_eq!(Protocol::parse(None).unwrap(), Protocol::GnmiDialout);
        assert_eq!(Protocol::parse(Some(" mdt ")).unwrap(), Protocol::Mdt);
        assert_eq!(
            Protocol::parse(Some("gnmi-dialin")).unwrap(),
            Protocol::GnmiDialin
        );
        let e = Protocol::parse(Some("snmp")).unwrap_err().to_string();
        assert!(e.starts_with("invalid protocol:"), "{e}");
        assert!(e.contains("gnmi-dialout, mdt, gnmi-dialin"), "{e}");
    }

    #[test]
    fn joined_keeps_first_seen_order_without_repeats() {
        assert_eq!(joined(["b", "a", "b"].into_iter()), "b,a");
        assert_eq!(joined(std::iter::empty()), "");
    }
}
