//! Server configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::error::DialinError;

/// The gNMI dial-in port (IANA-registered for gNMI).
pub const DEFAULT_PORT: u16 = 9339;

/// Most ON_CHANGE subscriptions one Subscribe stream may hold (as in nl6).
pub const MAX_ON_CHANGE_PER_STREAM: usize = 64;

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
    /// How long a TLS handshake may take (10 s).
    pub handshake_timeout: Duration,
    /// Most connections open at once; further ones are closed at accept (10,000).
    pub max_connections: usize,
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
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
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
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1");
        }
        if let Some((user, _)) = &self.credentials
            && user.is_empty()
        {
            return bad("credentials", "the username must not be empty");
        }
        Ok(())
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
    }
}
