//! Fuzz target for the REST device bodies, run as an ordinary test with a bounded number
//! of cases (`NL6_FUZZ_CASES`, default 2,048; proptest, shrinking on failure).
//!
//! Arbitrary bytes and JSON-ish text (generated objects with the real field names, then
//! sometimes cut or with a byte changed) go through what `POST /api/v1/devices` does
//! before it touches the fleet: [`nl6_rest::parse_json`] and
//! [`CreateDevices::into_spec`]. Neither may panic, every rejection is a 4xx, and an
//! accepted body is within the documented ranges (its dial-out paths parse under the
//! path limits). The interface-state body goes through `parse_json` too. A crash found
//! here becomes a case in `regressions` below.

use nl6_rest::{CreateDevices, InterfaceStateBody, parse_json};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

/// Cases per target: `NL6_FUZZ_CASES`, or 2,048.
fn cases() -> u32 {
    std::env::var("NL6_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_048)
}

const TOP: &[&str] = &[
    "start_ip",
    "device_count",
    "netmask",
    "interfaces",
    "if_speed_bps",
    "if_error_scenario",
    "if_flap_scenario",
    "if_initial_state",
    "gnmi_dialout",
];
const DIALOUT: &[&str] = &[
    "collector",
    "flavor",
    "encoding",
    "mode",
    "paths",
    "sample_interval",
    "tls",
];
const TLS: &[&str] = &[
    "enabled",
    "insecure_skip_verify",
    "ca_pem",
    "ca_file",
    "mtls",
];

/// Leaf values: the right kind for some field, or not.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..2_000).prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "127.90.0.1",
            "127.90.255.255",
            "255.255.255.255",
            "0.0.0.0",
            "24",
            "/16",
            "255.255.0.0",
            "clean",
            "typical",
            "all-up",
            "oper-down",
            "0%",
            "100%",
            "101%",
            "-1%",
            "sample",
            "on-change",
            "json_ietf",
            "proto",
            "10s",
            "0s",
            "-1s",
            "99999999999999999999s",
            "127.0.0.1:1",
            ":",
            "host:99999",
            "/interfaces/interface[name=*]/state",
            "/...",
            "/a[",
            "",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        // Paths over the limits, as REST sends them.
        (1usize..200).prop_map(|n| Value::from("/...".repeat(n))),
        (1usize..2_000).prop_map(|n| Value::from(format!("/a[k={}]", "v".repeat(n)))),
    ]
}

/// An object over `fields` (plus an unknown key now and then) with `value` values.
fn object(
    fields: &'static [&'static str],
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Value> {
    let key = prop_oneof![
        8 => prop::sample::select(fields).prop_map(str::to_string),
        1 => "[a-z_]{0,10}",
    ];
    prop::collection::vec((key, value), 0..fields.len() + 2)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
        .boxed()
}

/// A create body: mostly the right shape, nested `gnmi_dialout` and `tls` blocks.
fn body_value() -> BoxedStrategy<Value> {
    let tls = object(TLS, scalar());
    let paths = prop::collection::vec(scalar(), 0..4).prop_map(Value::from);
    let dialout_value = prop_oneof![4 => scalar(), 1 => paths, 1 => tls];
    let dialout = object(DIALOUT, dialout_value);
    let top = object(TOP, prop_oneof![6 => scalar(), 1 => dialout]);
    // Most bodies get a valid start_ip, so that validation goes past it.
    (top, prop::bool::weighted(0.7))
        .prop_map(|(mut top, valid_ip)| {
            if valid_ip {
                top["start_ip"] = json!("127.90.0.1");
            }
            top
        })
        .boxed()
}

/// Bytes: JSON-ish text (whole, cut, or with one byte changed) or anything at all.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => body_value().prop_map(|v| v.to_string().into_bytes()),
        1 => (body_value(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            text[..cut.index(text.len() + 1)].to_vec()
        }),
        1 => (body_value(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, b)| {
            let mut text = v.to_string().into_bytes();
            let i = at.index(text.len());
            text[i] = b;
            text
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Checks one body; panics (with the input) on any broken property. True when the
/// body was accepted.
fn check(bytes: &[u8]) -> bool {
    let shown = String::from_utf8_lossy(bytes);
    if let Err(e) = parse_json::<InterfaceStateBody>(bytes) {
        assert!(e.status().is_client_error(), "{e} for {shown}");
    }
    match parse_json::<CreateDevices>(bytes) {
        Err(e) => {
            assert!(e.status().is_client_error(), "{e} for {shown}");
            false
        }
        Ok(body) => match body.into_spec() {
            Err(e) => {
                assert!(e.status().is_client_error(), "{e} for {shown}");
                false
            }
            Ok(spec) => {
                assert!(matches!(spec.netmask, 8 | 16 | 24), "{shown}");
                assert!((1..=1024).contains(&spec.interfaces), "{shown}");
                assert!(spec.speed_bps > 0, "{shown}");
                if let Some(dialout) = &spec.dialout {
                    for path in dialout.effective_paths() {
                        nl6_gnmi::parse_path(path)
                            .unwrap_or_else(|e| panic!("accepted {path:?} ({e}) in {shown}"));
                    }
                }
                true
            }
        },
    }
}

#[test]
fn fuzz_create_devices_body() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let accepted = std::cell::Cell::new(0);
    runner
        .run(&bytes(), |bytes| {
            if check(&bytes) {
                accepted.set(accepted.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    eprintln!("{} of {} bodies accepted", accepted.get(), cases());
    assert!(
        accepted.get() > 0,
        "no generated body was valid: the generator needs a look"
    );
}

/// Inputs that once broke a property (or came close): each is checked as above.
#[test]
fn regressions() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for text in [
        "",
        " ",
        "null",
        "{}",
        "[]",
        "\"x\"",
        "{\"start_ip\":\"127.1.0.1\"}",
        "{\"start_ip\":\"127.1.0.1\",\"netmask\":1e400}",
        "{\"start_ip\":\"127.1.0.1\",\"netmask\":-170141183460469231731687303715884105728}",
        "{\"start_ip\":\"127.1.0.1\",\"if_initial_state\":\"18446744073709551616%\"}",
        "{\"start_ip\":\"127.1.0.1\",\"gnmi_dialout\":{\"collector\":\"h:1\",\"paths\":[]}}",
        "{\"start_ip\":\"127.1.0.1\",\"gnmi_dialout\":{\"collector\":\"h:1\",\"sample_interval\":\"99999999999999999999s\"}}",
        "{\"start_ip\":\"\u{0}\"}",
        deep.as_str(),
    ] {
        check(text.as_bytes());
    }
    assert!(check(
        br#"{"start_ip":"127.1.0.1","gnmi_dialout":{"collector":"h:1"}}"#
    ));
    let over = json!({
        "start_ip": "127.1.0.1",
        "gnmi_dialout": {"collector": "h:1", "paths": ["/...".repeat(10_000)]},
    });
    let Err(e) = parse_json::<CreateDevices>(over.to_string().as_bytes())
        .unwrap()
        .into_spec()
    else {
        panic!("10,000 `...` accepted as a dial-out path");
    };
    let message = e.to_string();
    assert!(
        message.contains("gnmi_dialout.paths[0]")
            && message.contains("the limit is 64 elements per path"),
        "{message}"
    );
    assert!(message.len() < 1024, "{} bytes", message.len());
    assert!(!check(over.to_string().as_bytes()));
}
