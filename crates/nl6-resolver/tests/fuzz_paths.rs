//! Fuzz target for the path text parser and the matcher, run as an ordinary test with a
//! bounded number of cases (`NL6_FUZZ_CASES`, default 2,048; proptest, fixed seed per
//! run, shrinking on failure).
//!
//! Arbitrary text is parsed; whatever parses must round-trip through its text form,
//! pass the message limits, and compile against a default device (as a path and as a
//! prefix) and match without panicking. Every error message stays under 1 KiB.
//! A crash found here becomes a case in `regressions` below.

use std::sync::{Arc, OnceLock};

use nl6_gnmi::path::{MAX_PATH_ELEMS, matches};
use nl6_gnmi::proto::gnmi::Path;
use nl6_gnmi::{check_limits, format_path, parse_path};
use nl6_ifstate::{DeviceModel, DeviceSpec};
use nl6_resolver::{Selection, Snapshot, ValueEncoding, notification};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per target: `NL6_FUZZ_CASES`, or 2,048.
fn cases() -> u32 {
    std::env::var("NL6_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_048)
}

fn device() -> &'static Arc<DeviceModel> {
    static DEVICE: OnceLock<Arc<DeviceModel>> = OnceLock::new();
    DEVICE.get_or_init(|| Arc::new(DeviceModel::new(&DeviceSpec::default()).unwrap()))
}

/// Pieces of path syntax and of the served schema, to build text that gets far.
const TOKENS: &[&str] = &[
    "/",
    "/",
    "/",
    "...",
    "*",
    "[",
    "]",
    "=",
    "\\",
    ":",
    "openconfig",
    "interfaces",
    "interface",
    "state",
    "counters",
    "in-octets",
    "oper-status",
    "name",
    "Ethernet1",
    "Ethernet10",
    "Ethernet99",
    "ü",
    "\u{0}",
    "[name=*]",
    "[name=Ethernet2]",
    "[name=]",
];

/// Text: arbitrary unicode, syntax tokens, or one token repeated past the limits.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.concat()),
        (
            prop::sample::select(vec!["/...", "/*", "/a", "[k=v]", "/x[name=*]"]),
            0..MAX_PATH_ELEMS * 3
        )
            .prop_map(|(t, n)| t.repeat(n)),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Checks one input; panics (with the input) on any broken property.
fn check(text: &str) {
    let names = device().names();
    let parsed = match parse_path(text) {
        Ok(path) => path,
        Err(e) => {
            let message = e.to_string();
            assert!(message.len() < 1024, "{} bytes for {text:?}", message.len());
            return;
        }
    };
    let formatted = format_path(&parsed);
    assert_eq!(
        parse_path(&formatted).as_ref(),
        Ok(&parsed),
        "{text:?} formats as {formatted:?}"
    );
    assert_eq!(check_limits(&parsed), Ok(()), "{text:?}");
    assert!(matches(&parsed, &parsed), "{text:?} does not match itself");
    assert!(matches(&parse_path("/...").unwrap(), &parsed), "{text:?}");
    match Selection::compile_one(None, &parsed, names) {
        Ok(selection) => {
            assert_eq!(selection.interface_count(), names.len());
            assert!(!selection.is_empty(), "{text:?} compiled to nothing");
            let snapshot = Snapshot::capture(device(), 1, &selection);
            let n = notification(
                &snapshot,
                selection.masks(),
                ValueEncoding::Proto,
                Some("t"),
            );
            assert_eq!(n.update.len(), selection.leaf_count(), "{text:?}");
        }
        Err(e) => assert!(e.to_string().len() < 1024, "{text:?}: {e}"),
    }
    let below = parse_path("/state").unwrap();
    if let Err(e) = Selection::compile_one(Some(&parsed), &below, names) {
        assert!(e.to_string().len() < 1024, "{text:?}: {e}");
    }
}

#[test]
fn fuzz_path_text_parse_compile_match() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&text(), |text| {
            check(&text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_path_messages_compile() {
    // Paths as messages (no text in between), including ones over the limits.
    let elem = (
        prop::sample::select(TOKENS),
        prop::collection::hash_map(
            prop::sample::select(vec!["name", "k", ""]),
            prop::sample::select(TOKENS),
            0..3,
        ),
    )
        .prop_map(|(name, key)| nl6_gnmi::proto::gnmi::PathElem {
            name: name.to_string(),
            key: key
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    let path = (
        prop::sample::select(vec!["", "openconfig", "other"]),
        prop::collection::vec(elem, 0..MAX_PATH_ELEMS + 8),
    )
        .prop_map(|(origin, elem)| Path {
            origin: origin.to_string(),
            elem,
            ..Default::default()
        });
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let names = device().names();
    runner
        .run(&(path.clone(), path), |(prefix, path)| {
            let within = check_limits(&prefix).is_ok() && check_limits(&path).is_ok();
            match Selection::compile_one(Some(&prefix), &path, names) {
                Ok(_) => prop_assert!(within),
                Err(e) => {
                    prop_assert!(within || e.code() == tonic::Code::InvalidArgument);
                    prop_assert!(e.to_string().len() < 1024);
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Inputs that once broke a property (or came close): each is checked as above.
#[test]
fn regressions() {
    for text in [
        "",
        "/",
        ":/",
        "a:/",
        "/...",
        "/.../...",
        "/interfaces/interface[name=]",
        "/interfaces/interface[name=*][name=*]",
        "/[",
        "/a[k=\\",
        "/a[k=v\\]",
        "/a[k=\\]]",
        "/a]",
        "/a[k=v]x",
        "/\u{0}",
    ] {
        check(text);
    }
    check(&"/...".repeat(10_000));
    check(&"/...".repeat(MAX_PATH_ELEMS));
}
