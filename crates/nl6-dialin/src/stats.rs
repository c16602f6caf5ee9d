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
    pub(crate) refused_fleet_limit: AtomicU64,
    pub(crate) refused_peer_limit: AtomicU64,
    pub(crate) refused_device_limit: AtomicU64,
    pub(crate) handshake_timeouts: AtomicU64,
    /// Bytes now in Subscribe queues: the fleet-wide `queue_budget` is charged here.
    pub(crate) queued_bytes: AtomicU64,
    pub(crate) budget_evictions: AtomicU64,
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

    /// `Update` entries (leaves) discarded by full per-stream queues or because the
    /// queue budget was full.
    pub fn updates_dropped(&self) -> u64 {
        self.updates_dropped.load(Ordering::Relaxed)
    }

    /// TLS handshakes that failed or timed out.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.tls_handshake_failures.load(Ordering::Relaxed)
    }

    /// `accept()` errors on the listening socket (e.g. out of file descriptors) plus
    /// connections refused by a connection limit (see [`connections_refused`](Self::connections_refused)).
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

    /// Connections closed at accept because a connection limit was reached, by limit.
    pub fn connections_refused(&self) -> ConnectionsRefused {
        ConnectionsRefused {
            max_connections: self.refused_fleet_limit.load(Ordering::Relaxed),
            max_connections_per_peer: self.refused_peer_limit.load(Ordering::Relaxed),
            max_connections_per_device: self.refused_device_limit.load(Ordering::Relaxed),
        }
    }

    /// Connections closed because the TLS handshake or the HTTP/2 preface did not
    /// complete within `handshake_timeout`.
    pub fn handshake_timeouts(&self) -> u64 {
        self.handshake_timeouts.load(Ordering::Relaxed)
    }

    /// Bytes of encoded responses now waiting in Subscribe queues (what `queue_budget`
    /// bounds).
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    /// Times a stream's queued updates were all dropped because its connection's share
    /// or the fleet-wide queue budget was full.
    pub fn budget_evictions(&self) -> u64 {
        self.budget_evictions.load(Ordering::Relaxed)
    }
}

/// Connections refused at accept, by the limit that refused them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionsRefused {
    /// Refused because `max_connections` (fleet-wide) were open.
    pub max_connections: u64,
    /// Refused because `max_connections_per_peer` were open from the client's address.
    pub max_connections_per_peer: u64,
    /// Refused because `max_connections_per_device` were open to the device.
    pub max_connections_per_device: u64,
}

/// The dial-in status document (`GET /api/v1/gnmi/status`): the nl6 fields, then the
/// limit counters nl6 does not have (`connections_*`, `handshake_timeouts`, `queued_bytes`,
/// `budget_evictions`).
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
    /// `Update` entries (leaves) dropped by full per-stream queues or the queue budget.
    pub updates_dropped: u64,
    /// Failed TLS handshakes.
    pub tls_handshake_failures: u64,
    /// Failed or refused accepts.
    pub listener_accept_failures: u64,
    /// Interface-state events emitted fleet-wide.
    pub state_events_emitted: u64,
    /// Interface-state events dropped from full listener queues fleet-wide.
    pub state_events_dropped: u64,
    /// Connections currently open (handed to HTTP/2).
    pub connections_open: u64,
    /// Connections refused at accept, by limit.
    pub connections_refused: ConnectionsRefused,
    /// Connections closed because the TLS handshake or HTTP/2 preface missed
    /// `handshake_timeout`.
    pub handshake_timeouts: u64,
    /// Bytes of encoded responses now waiting in Subscribe queues (bounded by
    /// `queue_budget`).
    pub queued_bytes: u64,
    /// Streams whose queued updates were dropped because the queue budget was full.
    pub budget_evictions: u64,
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
            connections_open: stats.connections_open(),
            connections_refused: stats.connections_refused(),
            handshake_timeouts: stats.handshake_timeouts(),
            queued_bytes: stats.queued_bytes(),
            budget_evictions: stats.budget_evictions(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_has_the_nl6_fields_and_the_limit_counters() {
        let stats = DialinStats::default();
        stats.updates_sent.fetch_add(3, Ordering::Relaxed);
        stats.refused_peer_limit.fetch_add(2, Ordering::Relaxed);
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
                "budget_evictions",
                "connections_open",
                "connections_refused",
                "handshake_timeouts",
                "listener_accept_failures",
                "listeners",
                "queued_bytes",
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
        assert_eq!(
            json["connections_refused"],
            serde_json::json!({
                "max_connections": 0,
                "max_connections_per_peer": 2,
                "max_connections_per_device": 0,
            })
        );
        assert!(!GnmiStatus::inactive(&EventCounters::default()).subsystem_active);
    }
}
