//! Counters of the dial-in subsystem and the status document built from them.

use std::sync::atomic::{AtomicU64, Ordering};

use nl6_ifstate::EventCounters;
use serde::{Deserialize, Serialize};

/// Live counters of one [`DialinServer`](crate::DialinServer) (all relaxed atomics).
#[derive(Debug, Default)]
pub struct DialinStats {
    pub(crate) active_subscriptions: AtomicU64,
    pub(crate) updates_sent: AtomicU64,
    pub(crate) updates_dropped: AtomicU64,
    pub(crate) tls_handshake_failures: AtomicU64,
    pub(crate) listener_accept_failures: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_rejected: AtomicU64,
}

impl DialinStats {
    /// Subscribe RPCs currently open (one per stream, however many paths it holds).
    pub fn active_subscriptions(&self) -> u64 {
        self.active_subscriptions.load(Ordering::Relaxed)
    }

    /// `Update` entries (leaves) handed to gRPC on Subscribe streams.
    pub fn updates_sent(&self) -> u64 {
        self.updates_sent.load(Ordering::Relaxed)
    }

    /// `Update` entries (leaves) discarded by full per-stream queues.
    pub fn updates_dropped(&self) -> u64 {
        self.updates_dropped.load(Ordering::Relaxed)
    }

    /// TLS handshakes that failed or timed out.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_handshake_failures.load(Ordering::Relaxed)
    }

    /// `accept()` errors on the listening socket (e.g. out of file descriptors) plus
    /// connections refused because `max_connections` were open.
    pub fn listener_accept_failures(&self) -> u64 {
        self.listener_accept_failures.load(Ordering::Relaxed)
    }

    /// Connections currently handed to the gRPC server.
    pub fn connections_open(&self) -> u64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// Connections closed at once because their local address is not a device.
    pub fn connections_rejected(&self) -> u64 {
        self.connections_rejected.load(Ordering::Relaxed)
    }
}

/// The dial-in status document (`GET /api/v1/gnmi/status`), field for field as in nl6.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GnmiStatus {
    /// Whether the dial-in server is running.
    pub subsystem_active: bool,
    /// Whether connections are served over TLS.
    pub tls_enabled: bool,
    /// Devices reachable over dial-in (nl6 has one listener per device).
    pub listeners: u64,
    /// Subscribe RPCs currently open.
    pub active_subscriptions: u64,
    /// `Update` entries (leaves) sent on Subscribe streams.
    pub updates_sent: u64,
    /// `Update` entries (leaves) dropped by full per-stream queues.
    pub updates_dropped: u64,
    /// Failed TLS handshakes.
    pub tls_handshake_failures: u64,
    /// Failed or refused accepts.
    pub listener_accept_failures: u64,
    /// Interface-state events emitted fleet-wide.
    pub state_events_emitted: u64,
    /// Interface-state events dropped from full listener queues fleet-wide.
    pub state_events_dropped: u64,
}

impl GnmiStatus {
    /// The status while dial-in is switched off (only the state-event counters move).
    pub fn inactive(events: &EventCounters) -> GnmiStatus {
        GnmiStatus {
            state_events_emitted: events.emitted(),
            state_events_dropped: events.dropped(),
            ..GnmiStatus::default()
        }
    }

    /// The status of a running server.
    pub(crate) fn active(
        stats: &DialinStats,
        tls_enabled: bool,
        listeners: usize,
        events: &EventCounters,
    ) -> GnmiStatus {
        GnmiStatus {
            subsystem_active: true,
            tls_enabled,
            listeners: listeners as u64,
            active_subscriptions: stats.active_subscriptions(),
            updates_sent: stats.updates_sent(),
            updates_dropped: stats.updates_dropped(),
            tls_handshake_failures: stats.tls_handshake_failures(),
            listener_accept_failures: stats.listener_accept_failures(),
            state_events_emitted: events.emitted(),
            state_events_dropped: events.dropped(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_has_exactly_the_nl6_fields() {
        let stats = DialinStats::default();
        stats.updates_sent.fetch_add(3, Ordering::Relaxed);
        let status = GnmiStatus::active(&stats, true, 7, &EventCounters::default());
        let json = serde_json::to_value(&status).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "active_subscriptions",
                "listener_accept_failures",
                "listeners",
                "state_events_dropped",
                "state_events_emitted",
                "subsystem_active",
                "tls_enabled",
                "tls_handshake_failures",
                "updates_dropped",
                "updates_sent",
            ]
        );
        assert_eq!(json["updates_sent"], 3);
        assert_eq!(json["listeners"], 7);
        assert!(!GnmiStatus::inactive(&EventCounters::default()).subsystem_active);
    }
}
