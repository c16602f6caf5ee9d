//! The settings of one MDT destination: transport, encoding, subscription and sensor
//! paths.

use std::fmt;
use std::str::FromStr;

use crate::encode::MdtEncoding;
use crate::frame::HEADER_LEN;
use crate::sensor::SensorPath;

/// The default largest UDP datagram: 1,472 bytes, what fits a 1,500-byte Ethernet MTU
/// after the IPv4 and UDP headers, so no datagram is fragmented.
pub const DEFAULT_MAX_DATAGRAM: usize = 1472;

/// The largest UDP datagram IPv4 can carry.
pub const MAX_DATAGRAM: usize = 65_507;

/// The smallest maximum datagram accepted: the header and a small row.
pub const MIN_DATAGRAM: usize = 256;

/// How an MDT destination is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MdtTransport {
    /// gRPC dial-out: `/mdt_dialout.gRPCMdtDialout/MdtDialout`, each message an
    /// `MdtDialoutArgs`.
    Grpc,
    /// TCP dial-out: the 12-byte header before every message.
    Tcp,
    /// UDP dial-out: one message per datagram, the header in each.
    Udp,
}

impl MdtTransport {
    /// The name in XR configuration (`protocol grpc`).
    pub fn as_str(self) -> &'static str {
        match self {
            MdtTransport::Grpc => "grpc",
            MdtTransport::Tcp => "tcp",
            MdtTransport::Udp => "udp",
        }
    }
}

impl fmt::Display for MdtTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MdtTransport {
    type Err = MdtConfigError;

    /// `grpc`, `tcp` or `udp`, case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(MdtTransport::Grpc),
            "tcp" => Ok(MdtTransport::Tcp),
            "udp" => Ok(MdtTransport::Udp),
            _ => Err(MdtConfigError::new(
                "transport",
                format!("{s:?} is not a transport: use grpc, tcp or udp"),
            )),
        }
    }
}

/// A field of an [`MdtSessionConfig`] that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct MdtConfigError {
    /// The field, e.g. `sensor_paths` or `max_datagram`.
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
}

impl MdtConfigError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> MdtConfigError {
        MdtConfigError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// What one device sends to one MDT destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdtSessionConfig {
    /// gRPC, TCP or UDP.
    pub transport: MdtTransport,
    /// Self-describing GPB, compact GPB or JSON.
    pub encoding: MdtEncoding,
    /// `subscription_id_str` of every message.
    pub subscription_id: String,
    /// The sensor paths; every sample yields one collection of each.
    pub sensor_paths: Vec<SensorPath>,
    /// UDP only: the largest datagram, header included (default
    /// [`DEFAULT_MAX_DATAGRAM`]); rows are spread over datagrams, and a row that does
    /// not fit one is dropped and counted.
    pub max_datagram: usize,
}

impl MdtSessionConfig {
    /// A configuration of `transport` and `encoding` for `subscription_id` streaming
    /// `sensor_paths`, datagrams of the default size.
    pub fn new(
        transport: MdtTransport,
        encoding: MdtEncoding,
        subscription_id: impl Into<String>,
        sensor_paths: Vec<SensorPath>,
    ) -> MdtSessionConfig {
        MdtSessionConfig {
            transport,
            encoding,
            subscription_id: subscription_id.into(),
            sensor_paths,
            max_datagram: DEFAULT_MAX_DATAGRAM,
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), MdtConfigError> {
        if self.subscription_id.is_empty() || self.subscription_id.len() > 255 {
            return Err(MdtConfigError::new(
                "subscription_id",
                "name the subscription with 1 to 255 characters",
            ));
        }
        if self.sensor_paths.is_empty() {
            return Err(MdtConfigError::new(
                "sensor_paths",
                "name at least one sensor path",
            ));
        }
        if !(MIN_DATAGRAM..=MAX_DATAGRAM).contains(&self.max_datagram) {
            return Err(MdtConfigError::new(
                "max_datagram",
                format!(
                    "{} is out of range: use {MIN_DATAGRAM} to {MAX_DATAGRAM} bytes",
                    self.max_datagram
                ),
            ));
        }
        Ok(())
    }

    /// The largest payload (telemetry message) one wire message may carry.
    pub fn max_payload(&self) -> usize {
        match self.transport {
            MdtTransport::Udp => self.max_datagram - HEADER_LEN,
            MdtTransport::Grpc | MdtTransport::Tcp => crate::encode::MAX_TCP_MESSAGE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let ok = MdtSessionConfig::new(
            MdtTransport::Udp,
            MdtEncoding::Gpb,
            "sub1",
            vec![SensorPath::GenericCounters],
        );
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.max_payload(), 1460);
        let e = MdtSessionConfig {
            sensor_paths: vec![],
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "sensor_paths");
        let e = MdtSessionConfig {
            max_datagram: 70_000,
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "max_datagram");
        assert!(e.to_string().starts_with("max_datagram: 70000"), "{e}");
        let e = MdtSessionConfig {
            subscription_id: String::new(),
            ..ok
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "subscription_id");
        assert_eq!("UDP".parse::<MdtTransport>(), Ok(MdtTransport::Udp));
        assert_eq!(
            "quic".parse::<MdtTransport>().unwrap_err().field,
            "transport"
        );
    }
}
