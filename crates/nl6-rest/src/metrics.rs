//! Prometheus metrics through the `metrics` facade: REST requests counted by a middleware,
//! fleet, dial-in and dial-out series refreshed from status snapshots at scrape time.
//!
//! Each router owns its recorder and records through it locally: the library never
//! installs a process-global recorder, so an embedding program keeps its own.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use nl6_fleet::Fleet;

use crate::serve::ListenerStats;

/// A router's own Prometheus recorder.
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Metrics {
    /// A recorder with every nl6 series described.
    pub(crate) fn new() -> Arc<Metrics> {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics { recorder, handle };
        metrics.with(describe);
        Arc::new(metrics)
    }

    /// Runs `f` with this recorder as the thread's recorder.
    pub(crate) fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Counts one REST request by method, matched route template and status.
    pub(crate) fn count_request(&self, method: String, route: String, status: String) {
        self.with(|| {
            counter!("nl6_rest_requests_total", "method" => method, "route" => route, "status" => status)
                .increment(1);
        });
    }

    /// Refreshes the fleet and listener series and renders every series.
    pub(crate) fn render(&self, fleet: &Fleet, listener: &ListenerStats) -> String {
        self.with(|| {
            record_fleet(fleet);
            record_listener(listener);
        });
        self.handle.run_upkeep();
        self.handle.render()
    }
}

fn describe() {
    describe_gauge!("nl6_devices", "Devices in the fleet");
    describe_gauge!("nl6_batch_in_progress", "1 while a batch is being created");
    describe_gauge!(
        "nl6_uptime_seconds",
        Unit::Seconds,
        "Time since the fleet started"
    );
    describe_gauge!(
        "nl6_gnmi_dialin_active",
        "1 while the gNMI dial-in server runs"
    );
    describe_gauge!(
        "nl6_gnmi_dialin_listeners",
        "Devices reachable over gNMI dial-in"
    );
    describe_gauge!("nl6_gnmi_dialin_subscriptions", "Subscribe RPCs open now");
    describe_counter!(
        "nl6_gnmi_dialin_updates_sent_total",
        "Updates (leaves) sent on dial-in Subscribe streams"
    );
    describe_counter!(
        "nl6_gnmi_dialin_updates_dropped_total",
        "Updates (leaves) dropped by full dial-in stream queues"
    );
    describe_counter!(
        "nl6_gnmi_dialin_tls_handshake_failures_total",
        "Failed dial-in TLS handshakes"
    );
    describe_counter!(
        "nl6_gnmi_dialin_accept_failures_total",
        "Failed or refused dial-in accepts"
    );
    describe_gauge!(
        "nl6_gnmi_dialin_connections_open",
        "Dial-in connections open now"
    );
    describe_gauge!(
        "nl6_gnmi_dialin_queued_bytes",
        "Bytes of encoded responses waiting in dial-in Subscribe queues"
    );
    describe_counter!(
        "nl6_gnmi_dialin_handshake_timeouts_total",
        "Dial-in connections closed for missing the TLS/HTTP/2 handshake deadline"
    );
    describe_counter!(
        "nl6_gnmi_dialin_budget_evictions_total",
        "Dial-in streams whose queued updates were dropped because the queue budget was full"
    );
    describe_counter!(
        "nl6_gnmi_dialin_connections_refused_total",
        "Dial-in connections refused at accept, by limit"
    );
    describe_counter!(
        "nl6_state_events_emitted_total",
        "Interface-state events emitted"
    );
    describe_counter!(
        "nl6_state_events_dropped_total",
        "Interface-state events dropped from full listener queues"
    );
    describe_gauge!(
        "nl6_dialout_devices_exporting",
        "Devices with a dial-out exporter"
    );
    describe_gauge!(
        "nl6_dialout_devices",
        "Devices exporting to a (collector, flavor)"
    );
    describe_gauge!(
        "nl6_dialout_streams_active",
        "Dial-out Publish streams open now"
    );
    describe_counter!(
        "nl6_dialout_updates_sent_total",
        "Dial-out updates (leaves) sent"
    );
    describe_counter!(
        "nl6_dialout_updates_dropped_total",
        "Dial-out updates (leaves) dropped by full send queues"
    );
    describe_counter!(
        "nl6_dialout_reconnects_total",
        "Dial-out streams re-established"
    );
    describe_counter!(
        "nl6_dialout_send_failures_total",
        "Dial-out sends that failed"
    );
    describe_gauge!(
        "nl6_dialout_devices_connected",
        "Dial-out devices with a stream open now"
    );
    describe_counter!(
        "nl6_dialout_updates_produced_total",
        "Dial-out updates (leaves) produced while a stream was up"
    );
    describe_counter!(
        "nl6_dialout_updates_discarded_total",
        "Dial-out updates (leaves) lost with a stream that broke before sending them"
    );
    describe_counter!(
        "nl6_dialout_samples_skipped_total",
        "Dial-out SAMPLE ticks that fell in an outage"
    );
    describe_counter!(
        "nl6_dialout_open_failures_total",
        "Dial-out dials, TLS handshakes or stream opens that failed"
    );
    describe_counter!(
        "nl6_dialout_disconnects_total",
        "Dial-out streams that ended without nl6 closing them, by cause"
    );
    describe_counter!(
        "nl6_dialout_too_many_pings_total",
        "GOAWAY too_many_pings answers to dial-out keepalive pings"
    );
    describe_counter!(
        "nl6_dialout_flow_stall_waits_total",
        "Dial-out sends that waited for the collector's HTTP/2 flow-control window"
    );
    describe_counter!(
        "nl6_dialout_flow_stall_milliseconds_total",
        "Time dial-out sends waited for the collector's HTTP/2 flow-control window"
    );
    describe_counter!(
        "nl6_dialout_responses_received_total",
        "Messages dial-out collectors sent back (SONiC and Nokia PublishResponses)"
    );
    describe_counter!(
        "nl6_mdt_dialout_collections_total",
        "MDT dial-out collections encoded"
    );
    describe_counter!(
        "nl6_mdt_dialout_rows_dropped_total",
        "MDT dial-out rows too large for a message or datagram of their own"
    );
    describe_gauge!(
        "nl6_mdt_dialin_subscriptions_active",
        "MDT gRPC dial-in CreateSubs streams sending now"
    );
    describe_counter!(
        "nl6_mdt_dialin_subscriptions_opened_total",
        "MDT CreateSubs calls that started streaming"
    );
    describe_counter!(
        "nl6_mdt_dialin_subscriptions_refused_total",
        "MDT CreateSubs calls answered with errors (unknown subscription or encoding)"
    );
    describe_counter!(
        "nl6_mdt_dialin_messages_sent_total",
        "MDT CreateSubs replies sent"
    );
    describe_counter!(
        "nl6_mdt_dialin_messages_dropped_total",
        "MDT CreateSubs replies dropped from full stream queues (slow collectors)"
    );
    describe_counter!(
        "nl6_mdt_dialin_rows_dropped_total",
        "MDT dial-in rows too large for a message of their own"
    );
    describe_gauge!(
        "nl6_dialout_last_error_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the latest dial-out failure"
    );
    describe_gauge!("nl6_rest_connections_open", "REST connections open now");
    describe_counter!(
        "nl6_rest_connections_refused_total",
        "REST connections closed at accept: the connection limit was reached"
    );
    describe_counter!(
        "nl6_rest_connections_idle_closed_total",
        "REST connections closed for being idle"
    );
    describe_counter!(
        "nl6_rest_requests_total",
        "REST requests by method, route template and status"
    );
}

/// Sets the REST listener's series.
fn record_listener(stats: &ListenerStats) {
    gauge!("nl6_rest_connections_open").set(stats.open.load(Relaxed) as f64);
    counter!("nl6_rest_connections_refused_total").absolute(stats.refused.load(Relaxed));
    counter!("nl6_rest_connections_idle_closed_total").absolute(stats.idle_closed.load(Relaxed));
}

/// Sets the fleet-derived series from the fleet's status snapshots.
fn record_fleet(fleet: &Fleet) {
    gauge!("nl6_devices").set(fleet.len() as f64);
    gauge!("nl6_batch_in_progress").set(f64::from(u8::from(fleet.batch_in_progress())));
    gauge!("nl6_uptime_seconds").set(fleet.uptime().as_secs_f64());
    let g = fleet.gnmi_status();
    gauge!("nl6_gnmi_dialin_active").set(f64::from(u8::from(g.subsystem_active)));
    gauge!("nl6_gnmi_dialin_listeners").set(g.listeners as f64);
    gauge!("nl6_gnmi_dialin_subscriptions").set(g.active_subscriptions as f64);
    counter!("nl6_gnmi_dialin_updates_sent_total").absolute(g.updates_sent);
    counter!("nl6_gnmi_dialin_updates_dropped_total").absolute(g.updates_dropped);
    counter!("nl6_gnmi_dialin_tls_handshake_failures_total").absolute(g.tls_handshake_failures);
    counter!("nl6_gnmi_dialin_accept_failures_total").absolute(g.listener_accept_failures);
    gauge!("nl6_gnmi_dialin_connections_open").set(g.connections_open as f64);
    gauge!("nl6_gnmi_dialin_queued_bytes").set(g.queued_bytes as f64);
    counter!("nl6_gnmi_dialin_handshake_timeouts_total").absolute(g.handshake_timeouts);
    counter!("nl6_gnmi_dialin_budget_evictions_total").absolute(g.budget_evictions);
    let refused = [
        ("max_connections", g.connections_refused.max_connections),
        (
            "max_connections_per_peer",
            g.connections_refused.max_connections_per_peer,
        ),
        (
            "max_connections_per_device",
            g.connections_refused.max_connections_per_device,
        ),
    ];
    for (limit, n) in refused {
        counter!("nl6_gnmi_dialin_connections_refused_total", "limit" => limit).absolute(n);
    }
    counter!("nl6_state_events_emitted_total").absolute(g.state_events_emitted);
    counter!("nl6_state_events_dropped_total").absolute(g.state_events_dropped);
    let d = fleet.dialout_status();
    gauge!("nl6_dialout_devices_exporting").set(d.devices_exporting as f64);
    // MDT dial-out rows share the series; their flavor is `mdt-<protocol>-<encoding>`.
    let encoded = fleet.mdt_dialout_counters();
    counter!("nl6_mdt_dialout_collections_total").absolute(encoded.collections());
    counter!("nl6_mdt_dialout_rows_dropped_total").absolute(encoded.rows_dropped());
    if let Some(c) = fleet.mdt_dialin_counters() {
        gauge!("nl6_mdt_dialin_subscriptions_active").set(c.subscriptions_active() as f64);
        counter!("nl6_mdt_dialin_subscriptions_opened_total").absolute(c.subscriptions_opened());
        counter!("nl6_mdt_dialin_subscriptions_refused_total").absolute(c.subscriptions_refused());
        counter!("nl6_mdt_dialin_messages_sent_total").absolute(c.messages_sent());
        counter!("nl6_mdt_dialin_messages_dropped_total").absolute(c.messages_dropped());
        counter!("nl6_mdt_dialin_rows_dropped_total").absolute(c.rows_dropped());
    }
    let mdt = fleet.mdt_status();
    for c in d.collectors.into_iter().chain(mdt.collectors) {
        let labels = [("collector", c.collector), ("flavor", c.flavor)];
        gauge!("nl6_dialout_devices", &labels).set(c.devices as f64);
        gauge!("nl6_dialout_streams_active", &labels).set(c.streams_active as f64);
        counter!("nl6_dialout_updates_sent_total", &labels).absolute(c.updates_sent);
        counter!("nl6_dialout_updates_dropped_total", &labels).absolute(c.updates_dropped);
        counter!("nl6_dialout_reconnects_total", &labels).absolute(c.reconnects);
        counter!("nl6_dialout_send_failures_total", &labels).absolute(c.send_failures);
        gauge!("nl6_dialout_devices_connected", &labels).set(c.devices_connected as f64);
        counter!("nl6_dialout_updates_produced_total", &labels).absolute(c.updates_produced);
        counter!("nl6_dialout_updates_discarded_total", &labels).absolute(c.updates_discarded);
        counter!("nl6_dialout_samples_skipped_total", &labels).absolute(c.samples_skipped);
        counter!("nl6_dialout_open_failures_total", &labels).absolute(c.open_failures);
        counter!("nl6_dialout_too_many_pings_total", &labels).absolute(c.too_many_pings);
        counter!("nl6_dialout_responses_received_total", &labels).absolute(c.responses_received);
        counter!("nl6_dialout_flow_stall_waits_total", &labels).absolute(c.flow_stall_waits);
        counter!("nl6_dialout_flow_stall_milliseconds_total", &labels).absolute(c.flow_stall_ms);
        let causes = [
            ("goaway", c.disconnects.goaway),
            ("reset", c.disconnects.reset),
            ("eof", c.disconnects.eof),
            ("error", c.disconnects.error),
        ];
        for (cause, n) in causes {
            let labels = [
                ("collector", labels[0].1.clone()),
                ("flavor", labels[1].1.clone()),
                ("cause", cause.to_string()),
            ];
            counter!("nl6_dialout_disconnects_total", &labels).absolute(n);
        }
        let at = c
            .last_error_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339(t).ok());
        if let Some(at) = at.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
            gauge!("nl6_dialout_last_error_timestamp_seconds", &labels).set(at.as_secs_f64());
        }
    }
}
