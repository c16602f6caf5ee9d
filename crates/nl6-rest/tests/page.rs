//! The status page's files, the rate history and the interface read-out it uses, over a
//! real listener.

mod common;

use std::sync::Arc;

use common::{Api, dev, wait_until};
use nl6_collector::CollectorConfig;
use nl6_fleet::{Fleet, FleetConfig};
use nl6_rest::{BearerToken, History, ServeOptions};
use serde_json::json;

const TOKEN: &str = "page-test-token-0123456789";

async fn fleet() -> Arc<Fleet> {
    Arc::new(
        Fleet::start(FleetConfig {
            dialin: None,
            ..FleetConfig::default()
        })
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn the_page_is_served_with_its_files_and_opens_without_the_token() {
    let api = Api::serve(
        fleet().await,
        ServeOptions {
            token: Some(BearerToken::new(TOKEN).unwrap()),
            ..ServeOptions::default()
        },
    )
    .await;
    let page = api.get("/").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.content_type.starts_with("text/html"), "{page:?}");
    assert!(page.text.contains("<script src=\"assets/status.js\""));
    for (path, kind) in [
        ("/assets/status.js", "text/javascript"),
        ("/assets/status.css", "text/css"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let r = api.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.content_type.starts_with(kind),
            "{path}: {}",
            r.content_type
        );
    }
    let csp = api
        .http
        .get(api.url("/"))
        .send()
        .await
        .unwrap()
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // The data needs the token; the page's files do not.
    api.get("/api/v1/history")
        .await
        .assert_error(401, &["bearer token"]);
    api.get("/assets/other.js")
        .await
        .assert_error(401, &["bearer token"]);
    let r = api
        .send(api.http.get(api.url("/api/v1/history")).bearer_auth(TOKEN))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .send(api.http.post(api.url("/")).bearer_auth(TOKEN))
        .await;
    assert_eq!(r.status, 405);
    api.stop().await;
}

#[tokio::test]
async fn the_history_samples_rates_per_destination_every_second() {
    let collector =
        nl6_collector::start(CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let fleet = fleet().await;
    let history = History::new();
    let sampler = history.spawn_sampler(fleet.clone());
    let api = Api::serve(
        fleet,
        ServeOptions {
            history: Some(history.clone()),
            ..ServeOptions::default()
        },
    )
    .await;
    let target = collector.local_addr().to_string();
    api.create(json!({
        "start_ip": dev(90, 1).to_string(), "device_count": 3,
        "gnmi_dialout": {"collector": target, "sample_interval": "1s", "tls": {"enabled": false}}
    }))
    .await;
    // A destination nobody listens on: its opens fail.
    api.create(json!({
        "start_ip": dev(91, 1).to_string(), "device_count": 2,
        "gnmi_dialout": {"collector": "127.0.0.1:1", "tls": {"enabled": false}}
    }))
    .await;
    wait_until(
        "two samples, one with dial-out updates and failed opens",
        || async {
            let doc = api.get("/api/v1/history").await.json();
            let samples = doc["samples"].as_array().unwrap();
            let flowing = samples.iter().any(|s| {
                s["dialout_updates_per_sec"].as_f64() > Some(0.0)
                    && s["dialout_streams"] == 3
                    && s["devices"] == 5
            });
            let failing = samples
                .iter()
                .any(|s| s["open_failures_per_sec"].as_f64() > Some(0.0));
            samples.len() >= 2 && flowing && failing
        },
    )
    .await;
    let doc = api.get("/api/v1/history").await.json();
    assert_eq!(
        (doc["interval_seconds"].clone(), doc["capacity"].clone()),
        (json!(1), json!(900))
    );
    let samples = doc["samples"].as_array().unwrap();
    let last = samples.last().unwrap();
    let rows = last["destinations"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{last}");
    let up = rows.iter().find(|r| r["collector"] == target).unwrap();
    assert_eq!(
        (up["flavor"].as_str(), up["streams_active"].as_u64()),
        (Some("gnmireverse"), Some(3))
    );
    let down = rows
        .iter()
        .find(|r| r["collector"] == "127.0.0.1:1")
        .unwrap();
    assert_eq!(down["streams_active"], 0);
    // `since` returns only what came after; a bad one is a 400 naming it.
    let t = last["t"].as_u64().unwrap();
    let newer = api.get(&format!("/api/v1/history?since={t}")).await.json();
    assert!(
        newer["samples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["t"].as_u64() > Some(t))
    );
    let first = samples[0]["t"].as_u64().unwrap();
    let after_first = api
        .get(&format!("/api/v1/history?since={first}"))
        .await
        .json();
    assert_eq!(after_first["samples"][0]["t"], samples[1]["t"]);
    api.get("/api/v1/history?since=yesterday")
        .await
        .assert_error(400, &["since"]);
    drop(sampler);
    api.stop().await;
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_devices_interfaces_show_state_and_counters_at_one_instant() {
    let api = Api::serve(fleet().await, ServeOptions::default()).await;
    api.create(json!({"start_ip": dev(92, 1).to_string(), "device_count": 1, "interfaces": 3}))
        .await;
    let r = api
        .post(
            &format!("/api/v1/devices/{}/interfaces/2/oper-status", dev(92, 1)),
            &json!({"status": "DOWN"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = api
        .get(&format!("/api/v1/devices/{}/interfaces", dev(92, 1)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["success"], true);
    let ifs = body["data"]["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 3);
    assert_eq!(ifs[0]["name"], "Ethernet1");
    assert_eq!(
        (
            ifs[0]["oper_status"].as_str(),
            ifs[0]["last_change"].as_u64()
        ),
        (Some("UP"), Some(0))
    );
    assert_eq!(
        (ifs[1]["link"].as_str(), ifs[1]["oper_status"].as_str()),
        (Some("DOWN"), Some("DOWN"))
    );
    assert!(ifs[1]["last_change"].as_u64() > Some(0));
    let counters = ifs[2]["counters"].as_object().unwrap();
    assert_eq!(counters.len(), 12);
    assert!(counters["in-octets"].as_u64() > Some(0));
    api.get(&format!("/api/v1/devices/{}/interfaces", dev(92, 9)))
        .await
        .assert_error(404, &[]);
    api.get("/api/v1/devices/not-an-ip/interfaces")
        .await
        .assert_error(400, &[]);
    api.stop().await;
}
