//! The fleet's flavor registry through REST: the OpenAPI document lists it, and a
//! flavor, an option or an encoding it does not know is a 400 naming the field and what
//! is allowed, with nothing created.

mod common;

use std::sync::Arc;

use common::Api;
use futures::future::BoxFuture;
use nl6_dialout::{
    DeviceNet, Encoding, Flavor, FlavorError, FlavorRegistry, Session, SessionContext,
};
use nl6_fleet::FleetConfig;
use serde_json::json;

/// An embedder's flavor that sends PROTO only and takes no options (never dialed here).
struct ProtoOnly;

impl Flavor for ProtoOnly {
    fn name(&self) -> &str {
        "proto-only"
    }

    fn summary(&self) -> &str {
        "test: proto values only"
    }

    fn encodings(&self) -> &[Encoding] {
        &[Encoding::Proto]
    }

    fn open<'a>(
        &'a self,
        _net: &'a DeviceNet,
        _ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        Box::pin(async { Err(FlavorError::Connect("not in this test".into())) })
    }
}

async fn api() -> Api {
    let mut flavors = FlavorRegistry::default();
    flavors.register(Arc::new(ProtoOnly));
    Api::start_with(FleetConfig {
        dialin: None,
        flavors,
        ..FleetConfig::default()
    })
    .await
}

fn batch(dialout: serde_json::Value) -> serde_json::Value {
    json!({"start_ip": "127.83.0.1", "device_count": 3, "gnmi_dialout": dialout})
}

#[tokio::test]
async fn the_openapi_document_lists_the_fleets_flavors() {
    let api = api().await;
    let doc = api.get("/api/v1/openapi.json").await.json();
    let flavor = &doc["components"]["schemas"]["DialoutBody"]["properties"]["flavor"];
    assert_eq!(
        flavor["enum"],
        json!(["gnmireverse", "nokia", "proto-only", "sonic"]),
        "{flavor}"
    );
    let text = flavor["description"].as_str().unwrap();
    assert!(
        text.contains("proto-only: test: proto values only (encodings proto; options none)"),
        "{text}"
    );
    assert!(text.contains("/gnmi.sonic.gNMIDialOut/Publish"), "{text}");
    api.stop().await;
}

#[tokio::test]
async fn unknown_flavors_foreign_options_and_unsendable_encodings_are_400s() {
    let api = api().await;
    let cases: Vec<(serde_json::Value, &[&str])> = vec![
        (
            batch(json!({"collector": "127.0.0.1:1", "flavor": "cisco"})),
            &[
                "invalid gnmi_dialout.flavor",
                "\"cisco\" is not supported; use gnmireverse, nokia, proto-only or sonic",
            ],
        ),
        (
            batch(json!({"collector": "127.0.0.1:1", "flavor": "proto-only"})),
            &[
                "invalid gnmi_dialout.encoding",
                "flavor proto-only cannot send json_ietf; use proto",
            ],
        ),
        (
            batch(
                json!({"collector": "127.0.0.1:1", "flavor": "proto-only", "encoding": "proto", "publish": "get"}),
            ),
            &[
                "invalid gnmi_dialout.publish",
                "is not an option of flavor proto-only (it takes no flavor options)",
                "flavors that take publish: gnmireverse",
            ],
        ),
        (
            batch(json!({"collector": "127.0.0.1:1", "flavor": "nokia", "retry_interval": "5s"})),
            &[
                "invalid gnmi_dialout.retry_interval",
                "is not an option of flavor nokia (it takes only subscription)",
                "flavors that take retry_interval: sonic",
            ],
        ),
        (
            batch(json!({"collector": "127.0.0.1:1", "flavor": "sonic", "encoding": "json"})),
            &["invalid gnmi_dialout.encoding", "use json_ietf or proto"],
        ),
    ];
    for (body, needles) in cases {
        let reply = api.post("/api/v1/devices", &body).await;
        reply.assert_error(400, needles);
        assert!(api.fleet.is_empty(), "{body} created devices");
    }
    assert!(
        api.fleet.dialout_status().collectors.is_empty(),
        "no ghost rows"
    );
    api.stop().await;
}

#[tokio::test]
async fn devices_list_their_host_name_and_current_collector() {
    let api = api().await;
    let reply = api
        .post(
            "/api/v1/devices",
            &json!({
                "start_ip": "127.83.1.1", "device_count": 2, "hostname": "leaf-{n}",
                "gnmi_dialout": {"flavor": "sonic", "collectors": ["127.0.0.1:1", "127.0.0.1:2"],
                                 "retry_interval": "1m", "tls": {"enabled": false}}
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let plain = api
        .post("/api/v1/devices", &json!({"start_ip": "127.83.2.1"}))
        .await;
    assert_eq!(plain.status, 201, "{}", plain.text);
    let list = api.get("/api/v1/devices").await.json();
    let devices = list["data"]["devices"].as_array().unwrap();
    let by_ip = |ip: &str| devices.iter().find(|d| d["ip"] == ip).unwrap().clone();
    assert_eq!(by_ip("127.83.1.1")["hostname"], "leaf-1");
    assert_eq!(by_ip("127.83.1.2")["hostname"], "leaf-2");
    assert_eq!(by_ip("127.83.2.1")["hostname"], "nl6-127-83-2-1");
    let collector = by_ip("127.83.1.1")["dialout_collector"].clone();
    assert!(
        collector == "127.0.0.1:1" || collector == "127.0.0.1:2",
        "{collector}"
    );
    let echo = &by_ip("127.83.1.1")["config"];
    assert_eq!(echo["hostname"], "leaf-{n}");
    assert_eq!(
        echo["gnmi_dialout"]["collectors"],
        json!(["127.0.0.1:1", "127.0.0.1:2"])
    );
    assert_eq!(echo["gnmi_dialout"]["retry_interval"], "1m");
    assert!(by_ip("127.83.2.1").get("dialout_collector").is_none());
    api.stop().await;
}
