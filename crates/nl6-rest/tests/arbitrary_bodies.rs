//! Property: whatever JSON is posted to `POST /api/v1/devices`, the reply is never a 5xx
//! and a batch is never partial (the fleet is unchanged, or grew by exactly the batch).

mod common;

use common::Api;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

/// Values that are sometimes right for some field and often wrong.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..300).prop_map(Value::from),
        prop_oneof![
            Just(8u64),
            Just(16),
            Just(24),
            Just(100_001),
            Just(u64::MAX)
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "127.81.60.1",
            "127.81.61.250",
            "127.81.62.0",
            "127.81.63.255",
            "10.42.0.1",
            "not-an-ip",
            "16",
            "24",
            "/8",
            "255.255.0.0",
            "clean",
            "typical",
            "degraded",
            "failing",
            "rare",
            "aggressive",
            "all-up",
            "oper-down",
            "50%",
            "101%",
            "sample",
            "on-change",
            "onchange",
            "poll",
            "json_ietf",
            "json-ietf",
            "proto",
            "gnmireverse",
            "sonic",
            "1s",
            "10s",
            "-1s",
            "0s",
            "48h",
            "soon",
            "127.0.0.1:1",
            "127.0.0.1:0",
            "collector",
            "[::1]:6030",
            "/interfaces/interface[name=*]/state",
            "/interfaces/interface[name=*]/state/counters",
            "/bad[",
            "relative/path",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ])
        .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::from),
        1 => prop::collection::btree_map("[a-z_]{1,8}", scalar(), 0..2)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

fn strings(options: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop::sample::select(options).prop_map(Value::from).boxed()
}

/// A field: absent half the time; else a value of the right type (usually) or anything.
fn field(
    name: &'static str,
    typed: BoxedStrategy<Value>,
) -> BoxedStrategy<Option<(String, Value)>> {
    let v = prop_oneof![6 => typed, 1 => value()];
    prop::option::of(v.prop_map(move |v| (name.to_string(), v))).boxed()
}

/// An object of `fields`, with an unknown key one time in ten.
fn object(fields: Vec<BoxedStrategy<Option<(String, Value)>>>) -> BoxedStrategy<Value> {
    let unknown = prop::option::weighted(0.1, ("[a-z_]{1,10}", value()));
    (fields, unknown)
        .prop_map(|(fields, unknown)| {
            let mut m: Map<String, Value> = fields.into_iter().flatten().collect();
            if let Some((k, v)) = unknown {
                m.entry(k).or_insert(v);
            }
            Value::Object(m)
        })
        .boxed()
}

fn tls() -> BoxedStrategy<Value> {
    object(vec![
        field("enabled", any::<bool>().prop_map(Value::from).boxed()),
        field(
            "insecure_skip_verify",
            any::<bool>().prop_map(Value::from).boxed(),
        ),
        field(
            "ca_pem",
            strings(&[
                "",
                "garbage",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ]),
        ),
        field("ca_file", strings(&["", "/etc/ssl/ca.pem"])),
        field("mtls", any::<bool>().prop_map(Value::from).boxed()),
    ])
}

fn dialout() -> BoxedStrategy<Value> {
    let path = strings(&[
        "/interfaces/interface[name=*]/state",
        "/interfaces/interface[name=Ethernet1]/state/oper-status",
        "/interfaces/interface[name=*]/state/counters",
        "/interfaces/interface[name=Ethernet99]/state",
        "/",
        "/bad[",
        "relative/path",
    ]);
    object(vec![
        field(
            "collector",
            strings(&[
                "127.0.0.1:1",
                "127.0.0.1:0",
                "collector",
                "localhost:6030",
                "[::1]:1",
                "",
            ]),
        ),
        field("flavor", strings(&["", "gnmireverse", "sonic"])),
        field(
            "encoding",
            strings(&["json_ietf", "json-ietf", "proto", "json", ""]),
        ),
        field(
            "mode",
            strings(&["sample", "on-change", "on_change", "onchange", "poll", ""]),
        ),
        field(
            "paths",
            prop::collection::vec(path, 0..3)
                .prop_map(Value::from)
                .boxed(),
        ),
        field(
            "sample_interval",
            strings(&["1s", "10s", "-1s", "0s", "48h", "soon", ""]),
        ),
        field("tls", tls()),
    ])
}

/// A body: usually a loopback `start_ip` and a small count, other fields as above.
fn body() -> impl Strategy<Value = String> {
    let top = object(vec![
        field(
            "start_ip",
            strings(&[
                "127.81.60.1",
                "127.81.61.250",
                "127.81.62.0",
                "10.42.0.1",
                "not-an-ip",
            ]),
        ),
        field(
            "device_count",
            prop_oneof![0u64..6, Just(100_001)]
                .prop_map(Value::from)
                .boxed(),
        ),
        field(
            "netmask",
            prop_oneof![
                prop::sample::select(vec![8u64, 16, 24, 20]).prop_map(Value::from),
                strings(&["24", "/16", "255.255.0.0"]),
            ]
            .boxed(),
        ),
        field(
            "interfaces",
            prop_oneof![0u64..12, Just(2000)]
                .prop_map(Value::from)
                .boxed(),
        ),
        field(
            "if_speed_bps",
            prop::sample::select(vec![0u64, 1_000_000_000, 100_000_000_000])
                .prop_map(Value::from)
                .boxed(),
        ),
        field(
            "if_error_scenario",
            strings(&["clean", "typical", "degraded", "failing", "awful"]),
        ),
        field(
            "if_flap_scenario",
            strings(&["clean", "rare", "typical", "aggressive", "often"]),
        ),
        field(
            "if_initial_state",
            strings(&["all-up", "all-admin-down", "oper-down", "50%", "101%"]),
        ),
        field("gnmi_dialout", dialout()),
    ]);
    (
        top,
        prop::option::weighted(0.7, 0u8..4),
        any::<prop::sample::Index>(),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(mut top, host, cut, truncate)| {
            if let Some(host) = host {
                top["start_ip"] = json!(format!("127.81.{}.1", 60 + host));
            }
            let text = top.to_string();
            if truncate {
                text[..cut.index(text.len())].to_string()
            } else {
                text
            }
        })
}

#[test]
fn arbitrary_bodies_never_5xx_and_never_create_a_partial_batch() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(Api::start());
    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    let created = std::cell::Cell::new(0);
    runner
        .run(&body(), |text| {
            let (before, reply, after) = rt.block_on(async {
                let before = api.fleet.len();
                let reply = api
                    .post_raw("/api/v1/devices", Some("application/json"), text.clone())
                    .await;
                let after = api.fleet.len();
                if reply.status == 201 {
                    api.fleet.delete_all().await;
                }
                (before, reply, after)
            });
            prop_assert!(
                reply.status < 500,
                "{text} -> {} {}",
                reply.status,
                reply.text
            );
            let json = reply.json();
            if reply.status == 201 {
                let n = json["data"]["created"].as_u64().unwrap() as usize;
                prop_assert_eq!(json["data"]["requested"].as_u64(), Some(n as u64));
                prop_assert_eq!(after, before + n, "{}", text);
                created.set(created.get() + 1);
            } else {
                prop_assert_eq!(json["success"].as_bool(), Some(false), "{}", reply.text);
                prop_assert_eq!(after, before, "{} -> {}", text, reply.text);
            }
            Ok(())
        })
        .unwrap();
    assert!(
        created.get() > 0,
        "no generated body was valid: the generator needs a look"
    );
    rt.block_on(api.stop());
}
