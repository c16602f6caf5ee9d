//! `/api/v1/devices`: create, list, get, delete; validation, all-or-nothing batches, 409.

mod common;

use std::time::{Duration, Instant};

use common::{Api, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn create_list_get_delete() {
    let api = Api::start().await;
    let reply = api
        .create(json!({"start_ip": "127.81.1.1", "device_count": 3, "interfaces": 4}))
        .await;
    assert_eq!(reply["success"], true);
    assert_eq!(reply["data"]["created"], 3);
    assert_eq!(reply["data"]["requested"], 3);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("created 3 devices")
    );

    let list = api.get("/api/v1/devices").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    assert_eq!(list["success"], true);
    assert_eq!(list["data"]["total"], 3);
    assert!(list["data"].get("next_cursor").is_none(), "{list}");
    let ips: Vec<&str> = list["data"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["127.81.1.1", "127.81.1.2", "127.81.1.3"]);

    // Every default is echoed.
    let one = api.get("/api/v1/devices/127.81.1.2").await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["data"]["ip"], "127.81.1.2");
    assert_eq!(one["data"]["interfaces"], 4);
    assert_eq!(one["data"]["dialout"], false);
    assert_eq!(
        one["data"]["config"],
        json!({
            "start_ip": "127.81.1.1", "device_count": 3, "netmask": 24, "interfaces": 4,
            "if_speed_bps": 1_000_000_000u64, "if_error_scenario": "clean",
            "if_flap_scenario": "clean", "bgp_flap_scenario": "clean",
            "if_initial_state": "all-up",
            "interface_naming": "arista", "device_type": "generic"
        })
    );
    assert!(one["data"]["created"].as_str().unwrap().ends_with('Z'));

    let gone = api.delete("/api/v1/devices/127.81.1.2").await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_eq!(gone.json()["data"]["deleted"], 1);
    api.get("/api/v1/devices/127.81.1.2")
        .await
        .assert_error(404, &["127.81.1.2"]);
    api.delete("/api/v1/devices/127.81.1.2")
        .await
        .assert_error(404, &["no device 127.81.1.2"]);
    api.get("/api/v1/devices/not-an-ip")
        .await
        .assert_error(400, &["\"not-an-ip\" is not an IPv4 address"]);
    api.delete("/api/v1/devices/1.2.3")
        .await
        .assert_error(400, &["ip"]);

    let all = api.delete("/api/v1/devices").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json()["data"]["deleted"], 2);
    assert_eq!(api.fleet.len(), 0);
    let empty = api.get("/api/v1/devices").await.json();
    assert_eq!(empty["data"], json!({"total": 0, "devices": []}));
    api.stop().await;
}

#[tokio::test]
async fn dialout_block_is_applied_and_echoed() {
    let api = Api::start().await;
    api.create(json!({
        "start_ip": "127.81.2.1",
        "netmask": "16",
        "if_error_scenario": "typical",
        "if_flap_scenario": "rare",
        "if_initial_state": "25%",
        "gnmi_dialout": {
            "collector": "127.0.0.1:1",
            "encoding": "proto",
            "mode": "on_change",
            "paths": ["/interfaces/interface[name=*]/state/oper-status"],
            "tls": {"enabled": false, "ca_file": ""}
        }
    }))
    .await;
    let d = api.get("/api/v1/devices/127.81.2.1").await.json();
    assert_eq!(d["data"]["dialout"], true);
    let cfg = &d["data"]["config"];
    assert_eq!(cfg["netmask"], 16);
    assert_eq!(cfg["if_error_scenario"], "typical");
    assert_eq!(cfg["if_flap_scenario"], "rare");
    assert_eq!(cfg["if_initial_state"], "25%");
    assert_eq!(
        cfg["gnmi_dialout"],
        json!({
            "collector": "127.0.0.1:1", "flavor": "gnmireverse", "encoding": "proto",
            "mode": "on-change", "paths": ["/interfaces/interface[name=*]/state/oper-status"],
            "sample_interval": "10s", "phase": "spread", "keepalive": "0",
            "tls": {"enabled": false, "insecure_skip_verify": false, "mtls": false}
        })
    );
    // The echo can be posted again (at another address).
    let mut again = cfg.clone();
    again["start_ip"] = json!("127.81.2.100");
    api.create(again).await;
    assert_eq!(api.fleet.len(), 2);
    api.stop().await;
}

/// The body of a batch that fails validation must leave the fleet as it was.
async fn rejected(api: &Api, body: Value, status: u16, needles: &[&str]) {
    let before = api.fleet.len();
    api.post("/api/v1/devices", &body)
        .await
        .assert_error(status, needles);
    assert_eq!(api.fleet.len(), before, "a rejected batch created devices");
}

#[tokio::test]
async fn unknown_fields_are_rejected_at_every_level() {
    let api = Api::start().await;
    rejected(
        &api,
        json!({"start_ip": "127.81.3.1", "colour": "red"}),
        400,
        &["unknown field `colour`", "line 1 column"],
    )
    .await;
    rejected(
        &api,
        json!({"start_ip": "127.81.3.1", "gnmi_dialout": {"collector": "127.0.0.1:1", "intervall": "1s"}}),
        400,
        &["gnmi_dialout", "unknown field `intervall`"],
    )
    .await;
    rejected(
        &api,
        json!({"start_ip": "127.81.3.1", "gnmi_dialout": {"collector": "127.0.0.1:1", "tls": {"enabled": true, "verify": false}}}),
        400,
        &["gnmi_dialout.tls", "unknown field `verify`"],
    )
    .await;
    api.stop().await;
}

#[tokio::test]
async fn every_bad_field_fails_the_batch_with_400_and_creates_nothing() {
    let api = Api::start().await;
    let dialout =
        |block: Value| json!({"start_ip": "127.81.4.1", "device_count": 5, "gnmi_dialout": block});
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"start_ip": "10.1.2"}),
            &["start_ip", "not an IPv4 address"],
        ),
        (json!({}), &["missing field `start_ip`"]),
        (
            json!({"start_ip": "127.81.4.1", "device_count": 0}),
            &["device_count"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "device_count": -1}),
            &["device_count", "invalid value"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "device_count": "ten"}),
            &["device_count", "invalid type"],
        ),
        (
            json!({"start_ip": "127.81.4.250", "device_count": 10}),
            &["device_count", "do not fit"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "netmask": "255.255.255.0"}),
            &["netmask", "dotted"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "netmask": 20}),
            &["netmask", "8, 16, 24"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "interfaces": 0}),
            &["interfaces"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "if_speed_bps": 0}),
            &["if_speed_bps"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "if_error_scenario": "awful"}),
            &["if_error_scenario", "clean, typical"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "if_flap_scenario": "often"}),
            &["if_flap_scenario", "aggressive"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "if_initial_state": "101%"}),
            &["if_initial_state"],
        ),
        (json!({"start_ip": "10.42.0.1"}), &["10.42.0.1", "loopback"]),
        (
            dialout(json!({})),
            &["gnmi_dialout.collector", "is required (host:port)"],
        ),
        (
            dialout(json!({"collector": "collector"})),
            &["gnmi_dialout.collector", "no port"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:0"})),
            &["gnmi_dialout.collector", "1 to 65535"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "flavor": "cisco"})),
            &["gnmi_dialout.flavor", "gnmireverse, nokia or sonic"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "encoding": "ascii"})),
            &["gnmi_dialout.encoding", "json_ietf, json or proto"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "flavor": "sonic", "encoding": "json"})),
            &[
                "gnmi_dialout.encoding",
                "flavor sonic cannot send json; use json_ietf or proto",
            ],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "subscription": "telemetry"})),
            &[
                "gnmi_dialout.subscription",
                "not an option of flavor gnmireverse (it takes only publish)",
                "flavors that take subscription: nokia",
            ],
        ),
        (
            dialout(json!({"collectors": ["127.0.0.1:1", "127.0.0.1:2"], "flavor": "nokia"})),
            &[
                "gnmi_dialout.collectors",
                "not an option of flavor nokia",
                "flavors that take collectors: sonic",
            ],
        ),
        (
            dialout(json!({"collectors": ["127.0.0.1:1", "nope"], "flavor": "sonic"})),
            &["gnmi_dialout.collectors[1]", "has no port"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "publish": "get", "mode": "on-change"})),
            &["gnmi_dialout.publish", "needs mode sample"],
        ),
        (
            json!({"start_ip": "127.81.4.1", "hostname": "bad_name-{n}"}),
            &["invalid hostname", "not a host name"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "mode": "poll"})),
            &["gnmi_dialout.mode", "sample or on-change"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "sample_interval": "-5s"})),
            &["gnmi_dialout.sample_interval", "negative"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "sample_interval": "soon"})),
            &["gnmi_dialout.sample_interval"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "sample_interval": "48h"})),
            &["gnmi_dialout.sample_interval", "24h"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "paths": ["interfaces/interface"]})),
            &["gnmi_dialout.paths[0]"],
        ),
        (
            dialout(
                json!({"collector": "127.0.0.1:1", "paths": ["/", "/interfaces/interface[name"]}),
            ),
            &["gnmi_dialout.paths[1]"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "paths": ["/system/config"]})),
            &["gnmi_dialout.paths[0]"],
        ),
        (
            dialout(
                json!({"collector": "127.0.0.1:1", "mode": "on-change", "paths": ["/interfaces/interface[name=*]/state/counters/in-octets"]}),
            ),
            &["gnmi_dialout.paths[0]", "only counters"],
        ),
        (
            dialout(
                json!({"collector": "127.0.0.1:1", "tls": {"enabled": false, "insecure_skip_verify": true}}),
            ),
            &["gnmi_dialout.tls.enabled", "insecure_skip_verify"],
        ),
        (
            dialout(
                json!({"collector": "127.0.0.1:1", "tls": {"insecure_skip_verify": true, "ca_pem": "x"}}),
            ),
            &["gnmi_dialout.tls.insecure_skip_verify"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "tls": {"ca_pem": "not a certificate"}})),
            &["gnmi_dialout.tls.ca_pem"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "tls": {"ca_file": "/etc/ssl/ca.pem"}})),
            &[
                "gnmi_dialout.tls.ca_file",
                "ca_pem",
                "--gnmi-dialout-tls-ca",
            ],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "tls": {"mtls": true}})),
            &["gnmi_dialout.tls.mtls"],
        ),
        (
            dialout(json!({"collector": "127.0.0.1:1", "tls": {"enabled": "yes"}})),
            &["gnmi_dialout.tls.enabled", "invalid type"],
        ),
    ];
    for (body, needles) in cases {
        let before = api.fleet.len();
        let reply = api.post("/api/v1/devices", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        reply.assert_error(400, needles);
        assert_eq!(api.fleet.len(), before, "{body} created devices");
    }
    assert_eq!(
        api.fleet.dialout_status().collectors,
        vec![],
        "no ghost dial-out group"
    );
    api.stop().await;
}

#[tokio::test]
async fn an_address_conflict_creates_nothing() {
    let api = Api::start().await;
    api.create(json!({"start_ip": "127.81.5.7"})).await;
    rejected(
        &api,
        json!({"start_ip": "127.81.5.1", "device_count": 10}),
        409,
        &["127.81.5.7 already exists"],
    )
    .await;
    assert!(api.get("/api/v1/devices/127.81.5.1").await.status == 404);
    api.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_json_objects() {
    let api = Api::start().await;
    let path = "/api/v1/devices";
    let r = api
        .post_raw(
            path,
            Some("application/json"),
            "{\"start_ip\": \"127.81.6.1\",\n \"device_count\": }",
        )
        .await;
    r.assert_error(400, &["malformed JSON", "line 2 column"]);
    api.post_raw(path, Some("application/json"), "")
        .await
        .assert_error(400, &["empty"]);
    api.post_raw(path, Some("application/json"), "[1,2]")
        .await
        .assert_error(400, &["invalid type"]);
    api.post_raw(
        path,
        Some("application/json"),
        r#"{"start_ip":"127.81.6.1"} trailing"#,
    )
    .await
    .assert_error(400, &["malformed JSON", "trailing"]);
    api.post_raw(path, Some("text/plain"), r#"{"start_ip":"127.81.6.1"}"#)
        .await
        .assert_error(
            415,
            &["Content-Type must be application/json", "text/plain"],
        );
    api.post_raw(path, None, r#"{"start_ip":"127.81.6.1"}"#)
        .await
        .assert_error(415, &["Content-Type"]);
    api.post_raw(
        path,
        Some("application/json; charset=utf-8"),
        r#"{"start_ip":"127.81.6.1"}"#,
    )
    .await;
    assert_eq!(api.fleet.len(), 1);

    // 64 KiB + 1 byte of valid JSON: 413, nothing created.
    let pad = "x".repeat(64 * 1024);
    let big = format!(
        r#"{{"start_ip":"127.81.6.50","gnmi_dialout":{{"collector":"h:1","tls":{{"ca_pem":"{pad}"}}}}}}"#
    );
    api.post_raw(path, Some("application/json"), big)
        .await
        .assert_error(413, &["64 KiB"]);
    // Without a Content-Length too (chunked).
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok("{\"start_ip\":\"127.81.6.51\",\"if_error_scenario\":\"".to_string()),
        Ok("y".repeat(70 * 1024)),
        Ok("\"}".to_string()),
    ];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    api.post_raw(path, Some("application/json"), body)
        .await
        .assert_error(413, &["64 KiB"]);
    assert_eq!(api.fleet.len(), 1);
    api.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_reply_json() {
    let api = Api::start().await;
    api.get("/api/v1/nothing").await.assert_error(
        404,
        &["no such endpoint", "/api/v1/nothing", "openapi.json"],
    );
    api.call(Method::PUT, "/api/v1/devices", None)
        .await
        .assert_error(405, &["PUT", "not allowed"]);
    api.call(
        Method::GET,
        "/api/v1/devices/127.81.7.1/interfaces/1/oper-status",
        None,
    )
    .await
    .assert_error(405, &["GET"]);
    api.stop().await;
}

/// Two creations at once: the second one sees 409 while the first (a large batch) runs.
/// Retries (with fresh addresses) until a 409 is observed, within a deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_while_another_is_being_created_gets_409() {
    let api = Api::start().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut attempt = 0u8;
    loop {
        attempt += 1;
        assert!(Instant::now() < deadline, "never observed a 409");
        let big = json!({"start_ip": format!("127.{}.0.1", 100 + attempt), "device_count": 30000, "netmask": 16, "interfaces": 2});
        let first = {
            let http = api.http.clone();
            let url = api.url("/api/v1/devices");
            tokio::spawn(async move {
                http.post(url)
                    .json(&big)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        };
        // Wait until the first batch is under way, then try another.
        wait_until("the first batch to start", || {
            let (api, first) = (&api, &first);
            async move {
                first.is_finished()
                    || api.get("/api/v1/status").await.json()["batch_in_progress"] == true
            }
        })
        .await;
        let second = api
            .post(
                "/api/v1/devices",
                &json!({"start_ip": "127.81.8.1", "device_count": 2}),
            )
            .await;
        let first_status = first.await.unwrap();
        assert_eq!(first_status, 201);
        if second.status == 409 {
            second.assert_error(409, &["another batch is being created"]);
            assert_eq!(api.fleet.len(), 30000 * attempt as usize);
            assert!(api.get("/api/v1/devices/127.81.8.1").await.status == 404);
            break;
        }
        // The first finished too fast this time: clean up and retry.
        assert_eq!(second.status, 201, "{}", second.text);
        api.delete("/api/v1/devices/127.81.8.1").await;
        api.delete("/api/v1/devices/127.81.8.2").await;
    }
    let status = api.get("/api/v1/status").await.json();
    assert_eq!(status["batch_in_progress"], false);
    api.delete("/api/v1/devices").await;
    api.stop().await;
}

#[tokio::test]
async fn the_list_is_paged_by_address() {
    let api = Api::start().await;
    // The second batch has the lower addresses.
    api.create(json!({"start_ip": "127.81.9.1", "device_count": 4}))
        .await;
    api.create(json!({"start_ip": "127.81.8.252", "device_count": 3}))
        .await;
    let mut ips = Vec::new();
    let mut path = "/api/v1/devices?limit=3".to_string();
    let mut pages = 0;
    loop {
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let page = page.json();
        assert_eq!(page["success"], true);
        assert_eq!(page["data"]["total"], 7);
        let devices = page["data"]["devices"].as_array().unwrap();
        assert!(devices.len() <= 3);
        ips.extend(
            devices
                .iter()
                .map(|d| d["ip"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match page["data"]["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/devices?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        ips,
        [
            "127.81.8.252",
            "127.81.8.253",
            "127.81.8.254",
            "127.81.9.1",
            "127.81.9.2",
            "127.81.9.3",
            "127.81.9.4"
        ]
    );
    // The default page holds them all.
    let all = api.get("/api/v1/devices").await.json();
    assert_eq!(all["data"]["devices"].as_array().unwrap().len(), 7);
    assert!(all["data"].get("next_cursor").is_none());
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=many", "limit"),
        ("cursor=nope", "cursor"),
        ("limit=5&cursor=1.2.3", "cursor"),
    ] {
        api.get(&format!("/api/v1/devices?{query}"))
            .await
            .assert_error(400, &[&format!("invalid {field}")]);
    }
    api.stop().await;
}
