//! A device's model-driven telemetry configuration, shaped like IOS XR's
//! `telemetry model-driven`: sensor groups (sensor paths), destination groups (where and
//! how to send) and subscriptions (sensor groups × destination groups × interval).
//!
//! ```text
//! telemetry model-driven
//!  destination-group COLLECTOR
//!   address-family ipv4 192.0.2.10 port 57500
//!    encoding self-describing-gpb
//!    protocol tcp
//!  sensor-group IFC
//!   sensor-path Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters
//!  subscription SUB1
//!   sensor-group-id IFC sample-interval 10000
//!   destination-id COLLECTOR
//! ```
//!
//! is, as an nl6 `mdt` block:
//!
//! ```json
//! {
//!   "sensor_groups": {"IFC": ["Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters"]},
//!   "destination_groups": {"COLLECTOR": [{"address": "192.0.2.10", "port": 57500,
//!                                          "encoding": "self-describing-gpb", "protocol": "tcp"}]},
//!   "subscriptions": {"SUB1": {"sensor_groups": ["IFC"], "sample_interval": 10000,
//!                              "destination_groups": ["COLLECTOR"]}}
//! }
//! ```
//!
//! A subscription without destination groups is for gRPC dial-in (a collector's
//! `CreateSubs` names it). `sample_interval` is in milliseconds as on XR; `0` makes the
//! subscription event-driven (a collection whenever an interface changes state).

use std::collections::BTreeMap;
use std::time::Duration;

use nl6_dialout::{DialoutConfig, Mode, TlsSettings};
use serde::{Deserialize, Serialize};

use crate::config::{
    DEFAULT_MAX_DATAGRAM, MAX_DATAGRAM, MIN_DATAGRAM, MdtConfigError, MdtSessionConfig,
    MdtTransport,
};
use crate::encode::MdtEncoding;
use crate::sensor::SensorPath;

/// Most sensor groups, destination groups or subscriptions of one kind on a device.
pub const MAX_GROUPS: usize = 64;

/// Most sensor paths of a sensor group and destinations of a destination group.
pub const MAX_GROUP_MEMBERS: usize = 16;

/// The shortest sample interval, ms (nl6 samples at most once a second).
pub const MIN_SAMPLE_INTERVAL_MS: u64 = 1_000;

/// The longest sample interval, ms (24 h).
pub const MAX_SAMPLE_INTERVAL_MS: u64 = 86_400_000;

/// A device's `mdt` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdtConfig {
    /// Sensor groups by name: the sensor paths each collects.
    #[serde(default)]
    pub sensor_groups: BTreeMap<String, Vec<String>>,
    /// Destination groups by name: the collectors each sends to.
    #[serde(default)]
    pub destination_groups: BTreeMap<String, Vec<MdtDestination>>,
    /// Subscriptions by name (the `subscription_id_str` of their messages).
    #[serde(default)]
    pub subscriptions: BTreeMap<String, MdtSubscription>,
}

/// One collector of a destination group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdtDestination {
    /// The collector's IPv4 address or host name.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// `grpc`, `tcp` or `udp` (XR's `protocol`).
    pub protocol: String,
    /// `self-describing-gpb`, `gpb` (compact) or `json`.
    pub encoding: String,
    /// TLS towards a gRPC collector (as for gNMI dial-out; off by default).
    #[serde(default = "plaintext")]
    pub tls: TlsSettings,
    /// UDP only: the largest datagram in bytes, header included (default 1,472).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_datagram: Option<usize>,
}

fn plaintext() -> TlsSettings {
    TlsSettings {
        enabled: false,
        ..TlsSettings::default()
    }
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdtSubscription {
    /// The sensor groups it collects.
    pub sensor_groups: Vec<String>,
    /// Sample interval in ms; `0` = event-driven.
    pub sample_interval: u64,
    /// The destination groups it sends to; empty = dial-in only.
    #[serde(default)]
    pub destination_groups: Vec<String>,
}

/// One dial-out session a configuration asks for: a subscription towards one collector.
#[derive(Debug, Clone)]
pub struct PlannedSession {
    /// The subscription's name.
    pub subscription: String,
    /// `address:port` of the collector.
    pub collector: String,
    /// The exporter settings: collector, interval or on-change, TLS.
    pub dialout: DialoutConfig,
    /// What the MDT flavor sends.
    pub session: MdtSessionConfig,
}

impl MdtConfig {
    /// Checks every field; the error names the first bad one, e.g.
    /// `subscriptions.SUB1.sensor_groups[0]`.
    pub fn validate(&self) -> Result<(), MdtConfigError> {
        self.sessions().map(|_| ())?;
        Ok(())
    }

    /// The sensor paths of subscription `name`, in order and without repeats.
    pub fn sensor_paths(&self, name: &str) -> Result<Vec<SensorPath>, MdtConfigError> {
        let sub = self.subscriptions.get(name).ok_or_else(|| {
            MdtConfigError::new(
                "subidstr",
                format!(
                    "no subscription {name:?} is configured on this device (configured: {})",
                    names(self.subscriptions.keys())
                ),
            )
        })?;
        self.paths_of(name, sub)
    }

    /// Every dial-out session: one per subscription and collector of its destination
    /// groups, checked.
    pub fn sessions(&self) -> Result<Vec<PlannedSession>, MdtConfigError> {
        for (what, n) in [
            ("sensor_groups", self.sensor_groups.len()),
            ("destination_groups", self.destination_groups.len()),
            ("subscriptions", self.subscriptions.len()),
        ] {
            if n > MAX_GROUPS {
                return Err(MdtConfigError::new(
                    what,
                    format!("has {n} entries; a device takes at most {MAX_GROUPS}"),
                ));
            }
        }
        for (name, paths) in &self.sensor_groups {
            let field = format!("sensor_groups.{name}");
            check_name(&field, name)?;
            if paths.is_empty() || paths.len() > MAX_GROUP_MEMBERS {
                return Err(MdtConfigError::new(
                    field,
                    format!("name 1 to {MAX_GROUP_MEMBERS} sensor paths"),
                ));
            }
            for (i, path) in paths.iter().enumerate() {
                path.parse::<SensorPath>()
                    .map_err(|e| MdtConfigError::new(format!("{field}[{i}]"), e.to_string()))?;
            }
        }
        for (name, destinations) in &self.destination_groups {
            let field = format!("destination_groups.{name}");
            check_name(&field, name)?;
            if destinations.is_empty() || destinations.len() > MAX_GROUP_MEMBERS {
                return Err(MdtConfigError::new(
                    field,
                    format!("name 1 to {MAX_GROUP_MEMBERS} destinations"),
                ));
            }
            for (i, d) in destinations.iter().enumerate() {
                d.session_parts(&format!("{field}[{i}]"))?;
            }
        }
        let mut planned = Vec::new();
        for (name, sub) in &self.subscriptions {
            let field = format!("subscriptions.{name}");
            check_name(&field, name)?;
            if sub.sample_interval != 0
                && !(MIN_SAMPLE_INTERVAL_MS..=MAX_SAMPLE_INTERVAL_MS).contains(&sub.sample_interval)
            {
                return Err(MdtConfigError::new(
                    format!("{field}.sample_interval"),
                    format!(
                        "{} ms is out of range: use 0 (event-driven) or {MIN_SAMPLE_INTERVAL_MS} to {MAX_SAMPLE_INTERVAL_MS} ms",
                        sub.sample_interval
                    ),
                ));
            }
            let paths = self.paths_of(name, sub)?;
            if sub.sample_interval == 0 && !paths.iter().any(|p| p.has_state()) {
                return Err(MdtConfigError::new(
                    format!("{field}.sample_interval"),
                    "0 (event-driven) needs a sensor path with interface state; generic-counters never changes state",
                ));
            }
            for (g, group) in sub.destination_groups.iter().enumerate() {
                let destinations = self.destination_groups.get(group).ok_or_else(|| {
                    MdtConfigError::new(
                        format!("{field}.destination_groups[{g}]"),
                        format!(
                            "no destination group {group:?} (configured: {})",
                            names(self.destination_groups.keys())
                        ),
                    )
                })?;
                for (i, d) in destinations.iter().enumerate() {
                    let (transport, encoding, max_datagram) =
                        d.session_parts(&format!("destination_groups.{group}[{i}]"))?;
                    let session = MdtSessionConfig {
                        transport,
                        encoding,
                        subscription_id: name.clone(),
                        sensor_paths: paths.clone(),
                        max_datagram,
                    };
                    session.validate().map_err(|e| {
                        MdtConfigError::new(format!("{field}.{}", e.field), e.reason)
                    })?;
                    let collector = format!("{}:{}", d.address, d.port);
                    let mut dialout = DialoutConfig::new(collector.clone());
                    dialout.tls = d.tls.clone();
                    if sub.sample_interval == 0 {
                        dialout.mode = Mode::OnChange;
                    } else {
                        dialout.mode = Mode::Sample;
                        dialout.sample_interval = Duration::from_millis(sub.sample_interval);
                    }
                    dialout.validate_common().map_err(|e| {
                        MdtConfigError::new(
                            format!(
                                "destination_groups.{group}[{i}].{}",
                                dialout_field(&e.field)
                            ),
                            e.reason,
                        )
                    })?;
                    planned.push(PlannedSession {
                        subscription: name.clone(),
                        collector,
                        dialout,
                        session,
                    });
                }
            }
        }
        Ok(planned)
    }

    fn paths_of(
        &self,
        name: &str,
        sub: &MdtSubscription,
    ) -> Result<Vec<SensorPath>, MdtConfigError> {
        let field = format!("subscriptions.{name}");
        if sub.sensor_groups.is_empty() {
            return Err(MdtConfigError::new(
                format!("{field}.sensor_groups"),
                "name at least one sensor group",
            ));
        }
        let mut paths = Vec::new();
        for (g, group) in sub.sensor_groups.iter().enumerate() {
            let texts = self.sensor_groups.get(group).ok_or_else(|| {
                MdtConfigError::new(
                    format!("{field}.sensor_groups[{g}]"),
                    format!(
                        "no sensor group {group:?} (configured: {})",
                        names(self.sensor_groups.keys())
                    ),
                )
            })?;
            for (i, text) in texts.iter().enumerate() {
                let path = text.parse::<SensorPath>().map_err(|e| {
                    MdtConfigError::new(format!("sensor_groups.{group}[{i}]"), e.to_string())
                })?;
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        Ok(paths)
    }
}

impl MdtDestination {
    /// The typed transport, encoding and datagram size; errors name `field.<part>`.
    fn session_parts(
        &self,
        field: &str,
    ) -> Result<(MdtTransport, MdtEncoding, usize), MdtConfigError> {
        let transport = self
            .protocol
            .parse::<MdtTransport>()
            .map_err(|e| MdtConfigError::new(format!("{field}.protocol"), e.reason))?;
        let encoding = self
            .encoding
            .parse::<MdtEncoding>()
            .map_err(|e| MdtConfigError::new(format!("{field}.encoding"), e.to_string()))?;
        if self.address.trim().is_empty() {
            return Err(MdtConfigError::new(
                format!("{field}.address"),
                "must not be empty",
            ));
        }
        if self.port == 0 {
            return Err(MdtConfigError::new(
                format!("{field}.port"),
                "0 is not a port: use 1 to 65535",
            ));
        }
        if self.tls.enabled && transport != MdtTransport::Grpc {
            return Err(MdtConfigError::new(
                format!("{field}.tls"),
                format!("TLS is for protocol grpc; {transport} is sent in the clear"),
            ));
        }
        if self.max_datagram.is_some() && transport != MdtTransport::Udp {
            return Err(MdtConfigError::new(
                format!("{field}.max_datagram"),
                format!("is for protocol udp, not {transport}"),
            ));
        }
        if let Some(size) = self.max_datagram
            && !(MIN_DATAGRAM..=MAX_DATAGRAM).contains(&size)
        {
            return Err(MdtConfigError::new(
                format!("{field}.max_datagram"),
                format!("{size} is out of range: use {MIN_DATAGRAM} to {MAX_DATAGRAM} bytes"),
            ));
        }
        Ok((
            transport,
            encoding,
            self.max_datagram.unwrap_or(DEFAULT_MAX_DATAGRAM),
        ))
    }
}

/// A gNMI dial-out field name as the MDT block spells it.
fn dialout_field(field: &str) -> String {
    match field {
        "collector" => "address".to_string(),
        other => other.to_string(),
    }
}

fn check_name(field: &str, name: &str) -> Result<(), MdtConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(MdtConfigError::new(
            field,
            format!("{name:?} is not a name: use 1 to 64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn names<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let all: Vec<&str> = keys.map(String::as_str).collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTERS: &str = "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters";

    fn config(json: &str) -> MdtConfig {
        serde_json::from_str(json).unwrap()
    }

    fn sample() -> MdtConfig {
        config(&format!(
            r#"{{
                "sensor_groups": {{"IFC": ["{COUNTERS}"], "STATE": ["Cisco-IOS-XR-pfi-im-cmd-oper:interfaces/interface-xr/interface"]}},
                "destination_groups": {{"COL": [
                    {{"address": "127.0.0.1", "port": 57500, "protocol": "tcp", "encoding": "self-describing-gpb"}},
                    {{"address": "127.0.0.1", "port": 57501, "protocol": "udp", "encoding": "gpb", "max_datagram": 9000}}
                ]}},
                "subscriptions": {{
                    "SUB1": {{"sensor_groups": ["IFC", "STATE"], "sample_interval": 10000, "destination_groups": ["COL"]}},
                    "EDT": {{"sensor_groups": ["STATE"], "sample_interval": 0, "destination_groups": ["COL"]}},
                    "DIALIN": {{"sensor_groups": ["IFC"], "sample_interval": 30000}}
                }}
            }}"#
        ))
    }

    #[test]
    fn a_subscription_becomes_one_session_per_collector() {
        let sessions = sample().sessions().unwrap();
        let seen: Vec<(&str, &str, MdtTransport, Mode)> = sessions
            .iter()
            .map(|s| {
                (
                    s.subscription.as_str(),
                    s.collector.as_str(),
                    s.session.transport,
                    s.dialout.mode,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("EDT", "127.0.0.1:57500", MdtTransport::Tcp, Mode::OnChange),
                ("EDT", "127.0.0.1:57501", MdtTransport::Udp, Mode::OnChange),
                ("SUB1", "127.0.0.1:57500", MdtTransport::Tcp, Mode::Sample),
                ("SUB1", "127.0.0.1:57501", MdtTransport::Udp, Mode::Sample),
            ]
        );
        let sub1 = &sessions[2];
        assert_eq!(sub1.dialout.sample_interval, Duration::from_secs(10));
        assert_eq!(
            sub1.session.sensor_paths,
            [SensorPath::GenericCounters, SensorPath::InterfaceXr]
        );
        assert_eq!(sessions[3].session.max_datagram, 9000);
        assert_eq!(sessions[2].session.max_datagram, DEFAULT_MAX_DATAGRAM);
        assert_eq!(
            sample().sensor_paths("DIALIN").unwrap(),
            [SensorPath::GenericCounters]
        );
        let e = sample().sensor_paths("NOPE").unwrap_err();
        assert!(e.reason.contains("DIALIN, EDT, SUB1"), "{e}");
    }

    /// A change to a valid configuration, and the field its error names.
    type BadCase = (Box<dyn Fn(&mut MdtConfig)>, &'static str);

    #[test]
    fn errors_name_the_field() {
        let cases: Vec<BadCase> = vec![
            (
                Box::new(|c| {
                    c.subscriptions.get_mut("SUB1").unwrap().sensor_groups[1] = "X".into()
                }),
                "subscriptions.SUB1.sensor_groups[1]",
            ),
            (
                Box::new(|c| c.sensor_groups.get_mut("IFC").unwrap()[0] = "bogus:path".into()),
                "sensor_groups.IFC[0]",
            ),
            (
                Box::new(|c| {
                    c.destination_groups.get_mut("COL").unwrap()[1].protocol = "quic".into()
                }),
                "destination_groups.COL[1].protocol",
            ),
            (
                Box::new(|c| {
                    c.destination_groups.get_mut("COL").unwrap()[0].encoding = "xml".into()
                }),
                "destination_groups.COL[0].encoding",
            ),
            (
                Box::new(|c| {
                    c.destination_groups.get_mut("COL").unwrap()[0].max_datagram = Some(900)
                }),
                "destination_groups.COL[0].max_datagram",
            ),
            (
                Box::new(|c| {
                    c.destination_groups.get_mut("COL").unwrap()[1].max_datagram = Some(70_000)
                }),
                "destination_groups.COL[1].max_datagram",
            ),
            (
                Box::new(|c| c.subscriptions.get_mut("SUB1").unwrap().sample_interval = 10),
                "subscriptions.SUB1.sample_interval",
            ),
            (
                Box::new(|c| {
                    c.subscriptions.get_mut("EDT").unwrap().sensor_groups = vec!["IFC".into()]
                }),
                "subscriptions.EDT.sample_interval",
            ),
            (
                Box::new(|c| {
                    c.subscriptions.get_mut("SUB1").unwrap().destination_groups =
                        vec!["NONE".into()]
                }),
                "subscriptions.SUB1.destination_groups[0]",
            ),
            (
                Box::new(|c| c.destination_groups.get_mut("COL").unwrap()[0].port = 0),
                "destination_groups.COL[0].port",
            ),
            (
                Box::new(|c| {
                    c.destination_groups.get_mut("COL").unwrap()[0].address = "bad host:x".into()
                }),
                "destination_groups.COL[0].address",
            ),
        ];
        for (change, field) in cases {
            let mut c = sample();
            change(&mut c);
            let e = c.validate().unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
        assert!(serde_json::from_str::<MdtConfig>(r#"{"sensor_group": {}}"#).is_err());
    }
}
