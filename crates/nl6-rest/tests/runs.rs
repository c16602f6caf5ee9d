//! `/api/v1/runs` over a real socket: validation (400 naming the field, nothing armed),
//! 404s, and a run whose every in-window message carries the run tag.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::{Api, DEADLINE, dev, wait_until};
use nl6_collector::CollectorConfig;
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[tokio::test]
async fn bad_runs_are_refused_naming_the_field_and_nothing_is_armed() {
    let api = Api::start().await;
    api.create(json!({"start_ip": dev(110, 1).to_string(), "device_count": 2, "interfaces": 2}))
        .await;
    let all = json!({"all": true});
    let cases = [
        (json!({"devices": {}}), 400, "invalid devices:"),
        (
            json!({"devices": {"all": true, "batch": "127.0.0.1"}}),
            400,
            "exactly one",
        ),
        (
            json!({"devices": {"first": "127.0.0.9"}}),
            400,
            "invalid devices.last:",
        ),
        (
            json!({"devices": {"first": "nope", "last": "127.0.0.1"}}),
            400,
            "invalid devices.first:",
        ),
        (
            json!({"devices": all, "window": "0.5s"}),
            400,
            "invalid window:",
        ),
        (
            json!({"devices": all, "pre_roll": "later"}),
            400,
            "invalid pre_roll:",
        ),
        (json!({"devices": all, "slices": 0}), 400, "invalid slices:"),
        (
            json!({"devices": all, "tag": "has space"}),
            400,
            "invalid tag:",
        ),
        (json!({"devices": all, "limit": 0}), 400, "invalid limit:"),
        (
            json!({"devices": all, "protocol": "snmp"}),
            400,
            "invalid protocol: \"snmp\" is not a protocol; use one of gnmi-dialout, mdt, gnmi-dialin",
        ),
        // Dial-in-only devices have no MDT dial-out session either.
        (
            json!({"devices": all, "protocol": "mdt"}),
            400,
            "none of the 2 selected devices streams MDT dial-out",
        ),
        // Nobody holds a STREAM Subscribe to them.
        (
            json!({"devices": all, "protocol": "gnmi-dialin"}),
            400,
            "none of the 2 selected devices streams gNMI dial-in",
        ),
        (
            json!({"devices": all, "ramp": {"steps": [2, 1]}}),
            400,
            "invalid ramp.steps: must increase",
        ),
        (
            json!({"devices": all, "ramp": {"hold": "2s"}}),
            400,
            "invalid ramp.steps: required",
        ),
        (
            json!({"devices": all, "ramp": {"steps": [1], "hold": "1h"}}),
            400,
            "invalid ramp.hold:",
        ),
        (
            json!({"devices": all, "ramp": {"by": "rate", "steps": [1]}}),
            400,
            "invalid ramp.by:",
        ),
        (
            json!({"devices": all, "window": "4s", "ramp": {"steps": [1]}}),
            400,
            "invalid window: a ramp run",
        ),
        (
            json!({"devices": all, "ramp": {"steps": [1], "speed": 2}}),
            400,
            "speed",
        ),
        // Dial-in-only devices cannot take part.
        (
            json!({"devices": all}),
            400,
            "none of the 2 selected devices streams gNMI dial-out",
        ),
        (
            json!({"devices": {"batch": "127.81.111.1"}}),
            404,
            "no device 127.81.111.1",
        ),
    ];
    for (body, status, needle) in cases {
        let reply = api.post("/api/v1/runs", &body).await;
        reply.assert_error(status, &[needle]);
    }
    api.get("/api/v1/runs/1")
        .await
        .assert_error(404, &["no run 1"]);
    api.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_run_routes() {
    let api = Api::start().await;
    let doc = api.get("/api/v1/openapi.json").await.json();
    assert_eq!(
        doc["paths"]["/api/v1/runs"]["post"]["operationId"],
        "armRun"
    );
    assert_eq!(
        doc["paths"]["/api/v1/runs/{id}"]["get"]["operationId"],
        "getRun"
    );
    assert!(doc["components"]["schemas"]["RunReport"].is_object());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_silent_outside_its_window_and_tags_every_message() {
    let (tx, mut rx) = mpsc::channel(4096);
    let collector = nl6_collector::start(
        CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(tx),
    )
    .await
    .unwrap();
    let api = Api::start().await;
    let first = dev(112, 1);
    api.create(json!({
        "start_ip": first.to_string(), "device_count": 3, "interfaces": 2,
        "gnmi_dialout": {"collector": collector.local_addr().to_string(),
            "sample_interval": "1s", "tls": {"enabled": false}}
    }))
    .await;
    wait_until("three streams", || {
        let api = &api;
        async move {
            api.get("/api/v1/gnmi/dialout/status").await.json()["collectors"][0]["streams_active"]
                == 3
        }
    })
    .await;
    // Only two of the three take part: the seed picks them.
    let reply = api
        .post(
            "/api/v1/runs",
            &json!({"devices": {"batch": first.to_string()}, "limit": 2, "seed": 5,
                "window": "3s", "slices": 3, "pre_roll": "1s", "drain": "2s", "tag": "t-112"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let armed = reply.json()["data"].clone();
    assert_eq!(armed["participants"], 2);
    assert_eq!(armed["selected_devices"], 3);
    let (t0, t1) = (
        armed["t0_ns"].as_u64().unwrap(),
        armed["t1_ns"].as_u64().unwrap(),
    );
    assert_eq!(t0 % 1_000_000_000, 0, "T0 is on a whole second");
    let id = armed["id"].as_str().unwrap().to_string();
    let participants: Vec<String> = armed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect();

    let mut report = Value::Null;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::time::Instant::now() < deadline {
        while let Ok(r) = rx.try_recv() {
            seen.push(r);
        }
        report = api.get(&format!("/api/v1/runs/{id}")).await.json()["data"].clone();
        if report["state"] == "finished" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(report["state"], "finished", "{report}");
    // Everything sent before the report was final has been read by now or soon.
    let sent = report["totals"]["sent"]["messages"].as_u64().unwrap();
    assert_eq!(sent, 2 * 3, "{report}");
    let tagged = |seen: &[Arc<nl6_collector::Received>]| {
        seen.iter()
            .filter(|r| r.tag.as_deref() == Some("t-112"))
            .count() as u64
    };
    wait_until("every sent message received", || {
        while let Ok(r) = rx.try_recv() {
            seen.push(r);
        }
        let done = tagged(&seen) >= sent;
        async move { done }
    })
    .await;
    let armed_at = humantime::parse_rfc3339(armed["armed_at"].as_str().unwrap()).unwrap();
    let armed_ns = u64::try_from(armed_at.duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap();
    for r in &seen {
        let target = nl6_collector::format::target(&r.notification).to_string();
        let ts = u64::try_from(r.notification.timestamp).unwrap();
        // A participant's samples from just after arming to T1: none before T0 (the
        // pre-roll is silent), every one inside the window tagged.
        if participants.contains(&target) && (armed_ns + 100_000_000..t1).contains(&ts) {
            assert!(
                ts >= t0,
                "{target} sent at {ts}, in the pre-roll before {t0}"
            );
            assert_eq!(r.tag.as_deref(), Some("t-112"), "{target} at {ts}");
        }
    }
    assert_eq!(tagged(&seen), sent);
    assert_eq!(report["per_slice"].as_array().unwrap().len(), 3);
    for device in report["devices"].as_array().unwrap() {
        assert_eq!(device["slices"].as_array().unwrap().len(), 3);
        assert!(device["suppressed"].as_u64().unwrap() >= 1, "{device}");
    }
    api.stop().await;
    collector.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_against_a_healthy_collector_sustains_every_step() {
    let (tx, mut rx) = mpsc::channel(4096);
    let collector = nl6_collector::start(
        CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(tx),
    )
    .await
    .unwrap();
    // Drain the sink so the collector never waits on it.
    let sink = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let api = Api::start().await;
    let first = dev(113, 1);
    api.create(json!({
        "start_ip": first.to_string(), "device_count": 4, "interfaces": 2,
        "gnmi_dialout": {"collector": collector.local_addr().to_string(),
            "sample_interval": "1s", "tls": {"enabled": false}}
    }))
    .await;
    wait_until("four streams", || {
        let api = &api;
        async move {
            api.get("/api/v1/gnmi/dialout/status").await.json()["collectors"][0]["streams_active"]
                == 4
        }
    })
    .await;
    let devices = json!({"batch": first.to_string()});
    api.post(
        "/api/v1/runs",
        &json!({"devices": devices, "ramp": {"steps": [1, 2, 5]}}),
    )
    .await
    .assert_error(
        400,
        &["invalid ramp.steps: the last step has 5 devices, above the 4 participants"],
    );
    let reply = api
        .post(
            "/api/v1/runs",
            &json!({"devices": devices, "seed": 9, "slices": 2, "pre_roll": "1s", "drain": "2s",
                "ramp": {"by": "devices", "steps": [1, 2, 4], "hold": "2s"}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let armed = reply.json()["data"].clone();
    assert_eq!(armed["slices"], 6, "2 slices per step");
    assert_eq!(
        armed["t1_ns"].as_u64().unwrap() - armed["t0_ns"].as_u64().unwrap(),
        6_000_000_000,
        "three holds of 2 s"
    );
    assert_eq!(armed["ramp"]["steps"].as_array().unwrap().len(), 3);
    assert!(armed["ramp"]["ceiling"].is_null());
    let id = armed["id"].as_str().unwrap().to_string();
    let report = api.finished_run(&id).await;
    let ramp = &report["ramp"];
    for (k, step) in ramp["steps"].as_array().unwrap().iter().enumerate() {
        let devices = [1u64, 2, 4][k];
        assert_eq!(step["step"], k + 1);
        assert_eq!(step["devices"], devices);
        assert_eq!(step["ran"], true, "{step}");
        assert_eq!(step["sustained"], true, "{step}");
        assert_eq!(step["reason"], "sustained");
        // 1 s SAMPLE ticks over a 2 s hold: 2 per device (one more or less with the
        // tick phase at the edges).
        let offered = step["offered"]["messages"].as_u64().unwrap();
        assert!(
            (devices..=3 * devices).contains(&offered),
            "step {k}: {offered} offered: {step}"
        );
        assert_eq!(
            step["sent"]["messages"].as_u64().unwrap(),
            offered,
            "{step}"
        );
        assert_eq!(step["dropped"]["messages"], 0);
        assert_eq!(step["sent_ppm"], 1_000_000);
        let (p50, p99) = (
            step["latency_p50_ns"].as_u64().unwrap(),
            step["latency_p99_ns"].as_u64().unwrap(),
        );
        assert!(0 < p50 && p50 <= p99, "{step}");
    }
    let ceiling = &ramp["ceiling"];
    assert_eq!(ceiling["devices"], 4, "{ramp}");
    assert_eq!(ceiling["found"], false, "every step held: a lower bound");
    let rate = ceiling["messages_per_s"].as_f64().unwrap();
    assert!(
        (2.0..=6.0).contains(&rate),
        "4 devices × 1 message/s: {rate}"
    );
    assert!(
        ramp["evidence"]
            .as_str()
            .unwrap()
            .starts_with("every step was sustained"),
        "{ramp}"
    );
    // A device of step 2 or 3 is silent before its step: nothing in the first slices.
    let late: Vec<&Value> = report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["slices"][0]["sent"]["messages"] == 0)
        .collect();
    assert_eq!(late.len(), 3, "one device in step 1: {report}");
    api.stop().await;
    collector.shutdown().await.unwrap();
    sink.abort();
}
