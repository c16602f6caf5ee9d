//! Server configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::error::DialinError;

/// The gNMI dial-in port (IANA-registered for gNMI).
pub const DEFAULT_PORT: u16 = 9339;

/// Most ON_CHANGE subscriptions one Subscribe stream may hold (as in nl6).
pub const MAX_ON_CHANGE_PER_STREAM: usize = 64;

/// One mebibyte.
const MIB: usize = 1024 * 1024;

/// How the dial-in server behaves; [`DialinConfig::default`] gives the nl6 values.
#[derive(Clone, Debug)]
pub struct DialinConfig {
    /// TCP port of the listener (9339; 0 picks a free port for the loopback listener).
    pub port: u16,
    /// TLS server configuration (ALPN "h2" is added when missing); `None` = plaintext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Shortest SAMPLE/heartbeat interval accepted; `sample_interval` 0 means this (1 s).
    pub min_sample_interval: Duration,
    /// When set, every RPC must carry matching `username` and `password` metadata.
    pub credentials: Option<(String, String)>,
    /// HTTP/2 concurrent streams per connection (16).
    pub max_streams_per_connection: u32,
    /// HTTP/2 keepalive ping interval (30 s).
    pub keepalive_interval: Duration,
    /// How long a keepalive ping may stay unanswered before the connection is closed (10 s).
    pub keepalive_timeout: Duration,
    /// A connection with no RPC in flight for this long is closed (5 min).
    pub idle_timeout: Duration,
    /// How long a Subscribe RPC may wait for its first request (30 s).
    pub first_request_timeout: Duration,
    /// Depth of each Subscribe stream's drop-oldest queue (100).
    pub queue_depth: usize,
    /// Fleet-wide budget for encoded Subscribe responses queued but not yet handed to
    /// HTTP/2, in bytes (256 MiB; nl6d `--gnmi-queue-budget`). When a new response
    /// does not fit, the streams with the most bytes queued lose their queued updates
    /// (counted in `updates_dropped`); see the README's "Limits".
    pub queue_budget: usize,
    /// The most of [`queue_budget`](Self::queue_budget) the streams of one connection
    /// may hold, in bytes (16 MiB; capped at the budget). Over it, that connection's
    /// own slowest streams drop.
    pub queue_budget_per_connection: usize,
    /// HTTP/2 send buffer per stream: bytes a response may have buffered in HTTP/2
    /// before the server stops pulling from its queue (64 KiB; hyper's default is 400 KiB).
    pub http2_send_buffer: usize,
    /// HTTP/2 initial stream window: request bytes a client may send on one stream
    /// before the server reads them (64 KiB).
    pub http2_stream_window: u32,
    /// HTTP/2 initial connection window: request bytes a client may send on one
    /// connection before the server reads them (1 MiB).
    pub http2_connection_window: u32,
    /// Deadline from accept for the TLS handshake and the client's HTTP/2 connection
    /// preface (10 s); a connection that misses it is closed (`handshake_timeouts`).
    pub handshake_timeout: Duration,
    /// Most connections open at once, fleet-wide; further ones are closed at accept (10,000).
    pub max_connections: usize,
    /// Most connections open at once from one client IP address (4,096). Not lower:
    /// one collector watching many devices is the normal client (in loopback mode every
    /// local client is 127.0.0.1, and the dial-in benchmark opens 1,000 connections
    /// from it), while one address still cannot take the whole fleet limit.
    pub max_connections_per_peer: usize,
    /// Most connections open at once to one device (local address) (64).
    pub max_connections_per_device: usize,
    /// How often a long-lived stream checks that its device is still in the fleet (5 s).
    pub device_check_interval: Duration,
}

impl Default for DialinConfig {
    fn default() -> Self {
        DialinConfig {
            port: DEFAULT_PORT,
            tls: None,
            min_sample_interval: Duration::from_secs(1),
            credentials: None,
            max_streams_per_connection: 16,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            first_request_timeout: Duration::from_secs(30),
            queue_depth: 100,
            queue_budget: 256 * MIB,
            queue_budget_per_connection: 16 * MIB,
            http2_send_buffer: 64 * 1024,
            http2_stream_window: 64 * 1024,
            http2_connection_window: MIB as u32,
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_peer: 4096,
            max_connections_per_device: 64,
            device_check_interval: Duration::from_secs(5),
        }
    }
}

impl DialinConfig {
    /// Checks every field; the error names the field and the reason.
    pub fn validate(&self) -> Result<(), DialinError> {
        let bad = |field: &'static str, reason: &str| {
            Err(DialinError::Config {
                field,
                reason: reason.to_string(),
            })
        };
        let durations = [
            ("min_sample_interval", self.min_sample_interval),
            ("keepalive_interval", self.keepalive_interval),
            ("keepalive_timeout", self.keepalive_timeout),
            ("idle_timeout", self.idle_timeout),
            ("first_request_timeout", self.first_request_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("device_check_interval", self.device_check_interval),
        ];
        for (field, value) in durations {
            if value.is_zero() {
                return bad(field, "must be greater than zero");
            }
        }
        if self.max_streams_per_connection == 0 {
            return bad("max_streams_per_connection", "must be at least 1");
        }
        if self.queue_depth == 0 {
            return bad("queue_depth", "must be at least 1");
        }
        let at_least_one = [
            ("max_connections", self.max_connections),
            ("max_connections_per_peer", self.max_connections_per_peer),
            (
                "max_connections_per_device",
                self.max_connections_per_device,
            ),
            ("http2_send_buffer", self.http2_send_buffer),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return bad(field, "must be at least 1");
            }
        }
        // A response must fit in the budget to be sent at all (16 KiB holds a
        // Notification of a few hundred leaves).
        const MIN_BUDGET: usize = 16 * 1024;
        for (field, value) in [
            ("queue_budget", self.queue_budget),
            (
                "queue_budget_per_connection",
                self.queue_budget_per_connection,
            ),
        ] {
            if value < MIN_BUDGET {
                return bad(field, "must be at least 16 KiB");
            }
        }
        // RFC 9113 6.9.2: the window is at least 64 KiB - 1 by default and at most 2^31 - 1.
        for (field, value) in [
            ("http2_stream_window", self.http2_stream_window),
            ("http2_connection_window", self.http2_connection_window),
        ] {
            if !(65_535..=(1 << 31) - 1).contains(&value) {
                return bad(field, "must be between 65,535 and 2^31-1 bytes");
            }
        }
        if let Some((user, _)) = &self.credentials
            && user.is_empty()
        {
            return bad("credentials", "the username must not be empty");
        }
        Ok(())
    }

    /// The per-connection share in force: [`queue_budget_per_connection`](Self::queue_budget_per_connection),
    /// at most [`queue_budget`](Self::queue_budget).
    pub fn connection_share(&self) -> usize {
        self.queue_budget_per_connection.min(self.queue_budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        DialinConfig::default().validate().unwrap();
        let err = DialinConfig {
            queue_depth: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("queue_depth"), "{err}");
        let err = DialinConfig {
            min_sample_interval: Duration::ZERO,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("min_sample_interval"), "{err}");
        for config in [
            DialinConfig {
                max_connections_per_peer: 0,
                ..Default::default()
            },
            DialinConfig {
                queue_budget: 1024,
                ..Default::default()
            },
            DialinConfig {
                http2_stream_window: 1024,
                ..Default::default()
            },
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(
                [
                    "max_connections_per_peer",
                    "queue_budget",
                    "http2_stream_window"
                ]
                .iter()
                .any(|f| err.contains(&format!("field {f}:"))),
                "{err}"
            );
        }
    }

    #[test]
    fn the_connection_share_never_exceeds_the_budget() {
        let config = DialinConfig {
            queue_budget: MIB,
            ..Default::default()
        };
        config.validate().unwrap();
        assert_eq!(config.connection_share(), MIB);
        assert_eq!(DialinConfig::default().connection_share(), 16 * MIB);
    }
}
