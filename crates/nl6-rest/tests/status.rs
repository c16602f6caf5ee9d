//! Status endpoints, counters across deletion, `/metrics` and the OpenAPI document.

mod common;

use std::collections::BTreeSet;

use common::{Api, dev, wait_until};
use nl6_collector::CollectorConfig;
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn server_status_and_health() {
    let api = Api::start().await;
    api.create(json!({"start_ip": dev(40, 1).to_string(), "device_count": 4}))
        .await;
    let r = api.get("/api/v1/status").await;
    assert_eq!(r.status, 200);
    let s = r.json();
    assert_eq!(
        keys(&s),
        [
            "batch_in_progress",
            "composition",
            "devices",
            "network_mode",
            "rest",
            "uptime",
            "uptime_seconds",
            "version"
        ]
    );
    assert_eq!(s["network_mode"], "loopback");
    assert_eq!(s["composition"]["by_naming"], json!({"arista": 4}));
    assert_eq!(s["composition"]["interfaces"], 40);
    assert_eq!(s["composition"]["dialin_only"], 4);
    assert_eq!(s["devices"], 4);
    assert_eq!(s["batch_in_progress"], false);
    assert_eq!(s["version"], nl6_rest::VERSION);
    assert!(
        s["uptime"].is_string() && s["uptime_seconds"].is_u64(),
        "{s}"
    );

    let h = api.get("/health").await;
    assert_eq!((h.status, h.json()), (200, json!({"status": "ok"})));
    api.stop().await;
}

#[tokio::test]
async fn gnmi_status_has_the_nl6_shape_and_counters_survive_deletion() {
    let api = Api::start().await;
    let ip = dev(41, 1);
    api.create(json!({"start_ip": ip.to_string(), "device_count": 2}))
        .await;
    let s = api.get("/api/v1/gnmi/status").await.json();
    assert_eq!(
        keys(&s),
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
            "updates_sent"
        ]
    );
    assert_eq!(s["subsystem_active"], true);
    assert_eq!(s["tls_enabled"], false);
    assert_eq!(s["listeners"], 2);

    let r = api
        .post(
            &format!("/api/v1/devices/{ip}/interfaces/1/oper-status"),
            &json!({"status": "DOWN"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let before = api.get("/api/v1/gnmi/status").await.json();
    let emitted = before["state_events_emitted"].as_u64().unwrap();
    assert!(emitted >= 1, "{before}");
    api.delete("/api/v1/devices").await;
    let after = api.get("/api/v1/gnmi/status").await.json();
    assert_eq!(after["listeners"], 0);
    assert!(
        after["state_events_emitted"].as_u64().unwrap() >= emitted,
        "{after}"
    );
    api.stop().await;
}

/// The dial-out counters as `(updates_sent, reconnects, send_failures, updates_dropped)`.
fn totals(c: &Value) -> [u64; 4] {
    [
        "updates_sent",
        "reconnects",
        "send_failures",
        "updates_dropped",
    ]
    .map(|k| c[k].as_u64().unwrap())
}

#[tokio::test]
async fn dialout_status_has_the_seed_shape_and_is_monotonic_across_deletion() {
    let collector =
        nl6_collector::start(CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let api = Api::start().await;
    let empty = api.get("/api/v1/gnmi/dialout/status").await.json();
    assert_eq!(empty["collectors"], json!([]));
    assert_eq!(empty["devices_exporting"], 0);
    let target = collector.local_addr().to_string();
    api.create(json!({
        "start_ip": dev(42, 1).to_string(),
        "device_count": 3,
        "interfaces": 2,
        "gnmi_dialout": {"collector": target, "sample_interval": "1s", "tls": {"enabled": false}}
    }))
    .await;
    wait_until("three streams and some updates", || {
        let api = &api;
        async move {
            let s = api.get("/api/v1/gnmi/dialout/status").await.json();
            s["collectors"][0]["streams_active"] == 3
                && s["collectors"][0]["updates_sent"].as_u64() > Some(0)
        }
    })
    .await;
    let s = api.get("/api/v1/gnmi/dialout/status").await.json();
    assert_eq!(
        keys(&s),
        ["collectors", "devices_exporting", "subsystem_active"]
    );
    assert_eq!(s["subsystem_active"], true);
    assert_eq!(s["devices_exporting"], 3);
    let c = &s["collectors"][0];
    assert_eq!(
        keys(c),
        [
            "collector",
            "devices",
            "devices_connected",
            "disconnects",
            "flavor",
            "flow_stall_ms",
            "flow_stall_waits",
            "open_failures",
            "reconnects",
            "responses_received",
            "samples_skipped",
            "send_failures",
            "streams_active",
            "too_many_pings",
            "updates_discarded",
            "updates_dropped",
            "updates_produced",
            "updates_sent"
        ],
        "the seed's keys (collector, devices, flavor, reconnects, send_failures, \
         streams_active, updates_dropped, updates_sent) and nl6's additions"
    );
    assert_eq!(
        (
            c["collector"].as_str(),
            c["flavor"].as_str(),
            c["devices"].as_u64()
        ),
        (Some(target.as_str()), Some("gnmireverse"), Some(3))
    );
    let mut last = totals(c);

    api.delete(&format!("/api/v1/devices/{}", dev(42, 2))).await;
    let s = api.get("/api/v1/gnmi/dialout/status").await.json();
    let c = &s["collectors"][0];
    assert_eq!(c["devices"], 2);
    let now = totals(c);
    assert!(
        now.iter().zip(last).all(|(n, l)| *n >= l),
        "{now:?} < {last:?}"
    );
    last = now;

    api.delete("/api/v1/devices").await;
    let s = api.get("/api/v1/gnmi/dialout/status").await.json();
    assert_eq!(s["devices_exporting"], 0);
    let c = &s["collectors"][0];
    assert_eq!(
        (c["devices"].as_u64(), c["streams_active"].as_u64()),
        (Some(0), Some(0))
    );
    let now = totals(c);
    assert!(
        now.iter().zip(last).all(|(n, l)| *n >= l),
        "{now:?} < {last:?}"
    );
    assert!(now[0] > 0);
    api.stop().await;
    collector.shutdown().await.unwrap();
}

/// One sample line of the Prometheus text format: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `name{k="v",...} value`; `Err` names what is wrong.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let (series, value) = line.rsplit_once(' ').ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}"))?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let body = rest.strip_suffix('}').ok_or("unterminated labels")?;
            let mut labels = Vec::new();
            let mut rest = body;
            while !rest.is_empty() {
                let (key, after) = rest.split_once("=\"").ok_or("label without =\"")?;
                if !is_name(key) {
                    return Err(format!("label name {key:?}"));
                }
                let mut value = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next().ok_or("unterminated label value")? {
                        (_, '\\') => value.push(chars.next().ok_or("dangling escape")?.1),
                        (i, '"') => break i,
                        (_, c) => value.push(c),
                    }
                };
                labels.push((key.to_string(), value));
                rest = &after[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
            (name, labels)
        }
    };
    if !is_name(name) {
        return Err(format!("metric name {name:?}"));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_every_series() {
    let collector =
        nl6_collector::start(CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let api = Api::start().await;
    api.create(json!({
        "start_ip": dev(43, 1).to_string(),
        "gnmi_dialout": {"collector": collector.local_addr().to_string(), "tls": {"enabled": false}}
    }))
    .await;
    api.get("/api/v1/devices/127.81.43.200").await; // a 404 on a templated route
    api.get("/no/such/thing").await;
    let r = api.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/plain"),
        "{}",
        r.content_type
    );
    let mut samples = Vec::new();
    for line in r.text.lines().filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        samples.push(parse_sample(line).unwrap_or_else(|e| panic!("{line:?}: {e}")));
    }
    let names: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    for name in [
        "nl6_devices",
        "nl6_batch_in_progress",
        "nl6_uptime_seconds",
        "nl6_gnmi_dialin_active",
        "nl6_gnmi_dialin_listeners",
        "nl6_gnmi_dialin_subscriptions",
        "nl6_gnmi_dialin_updates_sent_total",
        "nl6_gnmi_dialin_updates_dropped_total",
        "nl6_gnmi_dialin_tls_handshake_failures_total",
        "nl6_gnmi_dialin_accept_failures_total",
        "nl6_state_events_emitted_total",
        "nl6_state_events_dropped_total",
        "nl6_dialout_devices_exporting",
        "nl6_dialout_devices",
        "nl6_dialout_streams_active",
        "nl6_dialout_updates_sent_total",
        "nl6_dialout_updates_dropped_total",
        "nl6_dialout_reconnects_total",
        "nl6_dialout_send_failures_total",
        "nl6_dialout_flow_stall_waits_total",
        "nl6_dialout_flow_stall_milliseconds_total",
        "nl6_rest_requests_total",
    ] {
        assert!(names.contains(name), "{name} missing from:\n{}", r.text);
    }
    let has = |name: &str, labels: &[(&str, &str)]| {
        samples.iter().any(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    };
    let target = collector.local_addr().to_string();
    assert!(has(
        "nl6_dialout_devices",
        &[("collector", &target), ("flavor", "gnmireverse")]
    ));
    assert!(has(
        "nl6_rest_requests_total",
        &[
            ("method", "POST"),
            ("route", "/api/v1/devices"),
            ("status", "201")
        ]
    ));
    assert!(has(
        "nl6_rest_requests_total",
        &[
            ("method", "GET"),
            ("route", "/api/v1/devices/{ip}"),
            ("status", "404")
        ]
    ));
    assert!(has(
        "nl6_rest_requests_total",
        &[("route", "unmatched"), ("status", "404")]
    ));
    assert!(samples.iter().all(|s| s.value >= 0.0));
    api.stop().await;
    collector.shutdown().await.unwrap();
}

/// Every `$ref` in `v` (recursively).
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_resolves() {
    let api = Api::start().await;
    let r = api.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "nl6 REST API");
    assert_eq!(doc["info"]["version"], nl6_rest::VERSION);

    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].is_object(),
                "{method} {path} has no responses"
            );
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path} undocumented"
            );
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: BTreeSet<String> = [
        "POST /api/v1/devices",
        "GET /api/v1/devices",
        "DELETE /api/v1/devices",
        "GET /api/v1/devices/{ip}",
        "DELETE /api/v1/devices/{ip}",
        "GET /api/v1/devices/{ip}/interfaces",
        "POST /api/v1/devices/{ip}/reboot",
        "POST /api/v1/devices/{ip}/bgp/neighbors/{address}/flap",
        "POST /api/v1/runs",
        "GET /api/v1/runs",
        "GET /api/v1/runs/{id}",
        "POST /api/v1/topology",
        "GET /api/v1/topology",
        "DELETE /api/v1/topology",
        "POST /api/v1/devices/{ip}/interfaces/{ifindex}/oper-status",
        "POST /api/v1/devices/{ip}/interfaces/{ifindex}/admin-status",
        "GET /api/v1/status",
        "GET /api/v1/gnmi/status",
        "GET /api/v1/gnmi/dialout/status",
        "GET /api/v1/mdt/status",
        "GET /api/v1/mdt/proto",
        "GET /api/v1/history",
        "GET /health",
        "GET /metrics",
        "GET /api/v1/openapi.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);

    // Every reference resolves, and the request bodies forbid unknown fields at every level.
    let schemas = &doc["components"]["schemas"];
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas[name].is_object(), "{r} does not resolve");
    }
    for name in [
        "CreateDevices",
        "DialoutBody",
        "TlsBody",
        "InterfaceStateBody",
        "BgpFlapBody",
        "RunRequest",
        "DevicesBody",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"], false,
            "{name}: {}",
            schemas[name]
        );
    }
    assert_eq!(schemas["CreateDevices"]["required"], json!(["start_ip"]));
    for field in [
        "collector",
        "flavor",
        "encoding",
        "mode",
        "paths",
        "sample_interval",
        "tls",
    ] {
        assert!(
            schemas["DialoutBody"]["properties"][field].is_object(),
            "{field}"
        );
    }

    // Every GET in the document is served (the router and the document agree); the one
    // with a required query parameter gets it.
    for route in &routes {
        if let Some(path) = route.strip_prefix("GET ")
            && !path.contains('{')
        {
            let path = if path == "/api/v1/mdt/proto" {
                "/api/v1/mdt/proto?path=openconfig-interfaces:interfaces/interface"
            } else {
                path
            };
            let r = api.get(path).await;
            assert_eq!(r.status, 200, "{route}: {}", r.text);
        }
    }
    api.stop().await;
}
