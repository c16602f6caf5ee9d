//! The `gnmi_dialout` block: defaults, aliases, echo, and every rejection with its message.

use std::time::Duration;

use nl6_dialout::{CaSource, DEFAULT_PATH, DialoutConfig, Encoding, Mode, TlsSettings};

/// Parses and validates; the error text of whichever step failed.
fn check(json: &str) -> Result<DialoutConfig, String> {
    let cfg: DialoutConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn rejected(json: &str) -> String {
    match check(json) {
        Ok(cfg) => panic!("accepted {json}: {cfg:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_follow_the_design_note() {
    let cfg: DialoutConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(cfg, DialoutConfig::default());
    assert_eq!(cfg.flavor, "gnmireverse");
    assert_eq!(cfg.encoding, Encoding::JsonIetf);
    assert_eq!(cfg.mode, Mode::Sample);
    assert_eq!(cfg.paths, [DEFAULT_PATH]);
    assert_eq!(cfg.sample_interval, Duration::from_secs(10));
    assert_eq!(cfg.tls, TlsSettings::default());
    assert!(
        cfg.tls.enabled && cfg.tls.ca.is_none(),
        "TLS with system roots"
    );
    assert_eq!(
        cfg.validate().unwrap_err().to_string(),
        "collector: is required (host:port)"
    );
    let err = cfg.validate().unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.reason.as_str()),
        ("collector", "is required (host:port)")
    );
}

#[test]
fn the_rest_example_of_the_design_note_is_accepted() {
    let cfg = check(
        r#"{
            "collector": "10.0.0.5:6030",
            "flavor": "gnmireverse",
            "encoding": "json_ietf",
            "mode": "on-change",
            "paths": ["/interfaces/interface[name=*]/state/oper-status"],
            "sample_interval": "10s",
            "tls": { "enabled": true, "insecure_skip_verify": false, "ca_file": "", "mtls": false }
        }"#,
    )
    .unwrap();
    assert_eq!(cfg.mode, Mode::OnChange);
    assert_eq!(cfg.tls.ca, None, "an empty ca_file means system roots");
}

#[test]
fn aliases_and_empty_values_take_the_defaults() {
    let cfg = check(
        r#"{"collector":"c.example:6030","flavor":"","encoding":"json-ietf","mode":"on_change","sample_interval":"","paths":[]}"#,
    )
    .unwrap();
    assert_eq!(cfg.flavor_name(), "gnmireverse");
    assert_eq!(cfg.encoding, Encoding::JsonIetf);
    assert_eq!(cfg.mode, Mode::OnChange);
    assert_eq!(cfg.sample_interval, Duration::from_secs(10));
    assert_eq!(cfg.effective_paths(), [DEFAULT_PATH]);
    let cfg =
        check(r#"{"collector":"c:1","mode":"onchange","encoding":"proto","sample_interval":"0s"}"#)
            .unwrap();
    assert_eq!((cfg.mode, cfg.encoding), (Mode::OnChange, Encoding::Proto));
    assert_eq!(
        cfg.sample_interval,
        Duration::ZERO,
        "accepted; clamped to the floor at run time"
    );
    let cfg =
        check(r#"{"collector":"c:1","tls":{"ca_pem":"-----BEGIN CERTIFICATE-----"}}"#).unwrap();
    assert!(matches!(cfg.tls.ca, Some(CaSource::InlinePem(_))));
    let cfg = check(r#"{"collector":"c:1","tls":{"enabled":false}}"#).unwrap();
    assert_eq!(cfg.tls, TlsSettings::plaintext());
}

#[test]
fn the_config_echoes_as_it_is_read() {
    let cfg = DialoutConfig {
        sample_interval: Duration::from_millis(1500),
        ..DialoutConfig::new("10.0.0.5:6030")
    };
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(
        json,
        r#"{"collector":"10.0.0.5:6030","flavor":"gnmireverse","encoding":"json_ietf","mode":"sample","paths":["/interfaces/interface[name=*]/state"],"sample_interval":"1s 500ms","phase":"spread","keepalive":"0","tls":{"enabled":true,"insecure_skip_verify":false,"ca_file":"","mtls":false}}"#
    );
    assert_eq!(serde_json::from_str::<DialoutConfig>(&json).unwrap(), cfg);
    let inline = DialoutConfig {
        mode: Mode::OnChange,
        tls: TlsSettings {
            ca: Some(CaSource::InlinePem("PEM".into())),
            mtls: true,
            ..TlsSettings::default()
        },
        ..cfg
    };
    let json = serde_json::to_string(&inline).unwrap();
    assert!(json.contains(r#""mode":"on-change""#), "{json}");
    assert!(
        json.contains(r#""ca_file":"","ca_pem":"PEM","mtls":true"#),
        "{json}"
    );
    assert_eq!(
        serde_json::from_str::<DialoutConfig>(&json).unwrap(),
        inline
    );
}

#[test]
fn every_invalid_field_is_rejected_with_its_name_and_reason() {
    let big_pem = format!(r#""{}""#, "A".repeat(70_000));
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"collector":"10.0.0.5"}"#.into(),
            r#"collector: "10.0.0.5" has no port; use host:port"#,
        ),
        (
            r#"{"collector":"10.0.0.5:0"}"#.into(),
            r#"collector: port "0" in "10.0.0.5:0" must be a number from 1 to 65535"#,
        ),
        (
            r#"{"collector":"10.0.0.5:65536"}"#.into(),
            "must be a number from 1 to 65535",
        ),
        (
            r#"{"collector":":6030"}"#.into(),
            r#"collector: ":6030" has an empty host"#,
        ),
        (
            r#"{"collector":"[::1]:6030"}"#.into(),
            "collector: \"[::1]:6030\": IPv6 collectors are not supported",
        ),
        (
            r#"{"collector":"bad host:6030"}"#.into(),
            r#"collector: host "bad host" is neither an IPv4 address nor a valid host name"#,
        ),
        (
            r#"{"collector":"c:1","flavor":"cisco"}"#.into(),
            r#"flavor: "cisco" is not supported; use gnmireverse, nokia or sonic"#,
        ),
        (
            r#"{"collector":"c:1","encoding":"xml"}"#.into(),
            r#"encoding: "xml" is not supported; use json_ietf, json or proto"#,
        ),
        (
            r#"{"collector":"c:1","flavor":"sonic","encoding":"json"}"#.into(),
            "encoding: flavor sonic cannot send json; use json_ietf or proto",
        ),
        (
            r#"{"collector":"c:1","subscription":"s"}"#.into(),
            "subscription: is not an option of flavor gnmireverse (it takes only publish); flavors that take subscription: nokia",
        ),
        (
            r#"{"collectors":["a:1","b:2"],"flavor":"nokia"}"#.into(),
            "collectors: is not an option of flavor nokia (it takes only subscription); flavors that take collectors: sonic",
        ),
        (
            r#"{"collectors":["a:1","a:1"],"flavor":"sonic"}"#.into(),
            r#"collectors[1]: "a:1" is listed twice"#,
        ),
        (
            r#"{"collectors":["a:1","b"],"flavor":"sonic"}"#.into(),
            r#"collectors[1]: "b" has no port; use host:port"#,
        ),
        (
            r#"{"collector":"c:1","collectors":["a:1","b:2"],"flavor":"sonic"}"#.into(),
            r#"collector: "c:1" differs from collectors[0] "a:1""#,
        ),
        (
            r#"{"collector":"c:1","flavor":"sonic","failback":"1m"}"#.into(),
            "failback: returns a device to the first of its collectors, so it needs at least two",
        ),
        (
            r#"{"collector":"c:1","flavor":"sonic","retry_interval":"-1s"}"#.into(),
            r#"retry_interval: "-1s" is negative"#,
        ),
        (
            r#"{"collector":"c:1","publish":"get","mode":"on-change"}"#.into(),
            "publish: get issues the paths as a Get every sample_interval, so it needs mode sample",
        ),
        (
            r#"{"collector":"c:1","publish":"poll"}"#.into(),
            r#"publish: "poll" is not supported; use subscribe or get"#,
        ),
        (
            r#"{"collector":"c:1","flavor":"nokia","subscription":"a\nb"}"#.into(),
            "subscription: \"a\\nb\" cannot be sent as metadata",
        ),
        (
            r#"{"collector":"c:1","mode":"poll"}"#.into(),
            r#"mode: "poll" is not supported; use sample or on-change"#,
        ),
        (
            r#"{"collector":"c:1","sample_interval":"-5s"}"#.into(),
            r#"sample_interval: "-5s" is negative; use a duration such as "10s""#,
        ),
        (
            r#"{"collector":"c:1","sample_interval":"soon"}"#.into(),
            r#"sample_interval: "soon" is not a duration such as "10s""#,
        ),
        (
            r#"{"collector":"c:1","sample_interval":"48h"}"#.into(),
            "sample_interval: 2days is longer than the 24h maximum",
        ),
        (
            r#"{"collector":"c:1","sample_interval":10}"#.into(),
            "invalid type: integer `10`, expected a string",
        ),
        (
            r#"{"collector":"c:1","paths":["interfaces/interface"]}"#.into(),
            "paths[0]: path must be absolute",
        ),
        (
            r#"{"collector":"c:1","paths":["/","/interfaces/interface[name=Ethernet1"]}"#.into(),
            "paths[1]: unterminated '['",
        ),
        (
            r#"{"collector":"c:1","tls":{"enabled":false,"insecure_skip_verify":true}}"#.into(),
            "tls.enabled: TLS is disabled but insecure_skip_verify is set; remove it or enable TLS",
        ),
        (
            r#"{"collector":"c:1","tls":{"enabled":false,"ca_file":"/ca.pem","mtls":true}}"#.into(),
            "tls.enabled: TLS is disabled but ca_file and mtls are set; remove them or enable TLS",
        ),
        (
            r#"{"collector":"c:1","tls":{"enabled":false,"ca_pem":"x"}}"#.into(),
            "tls.enabled: TLS is disabled but ca_pem is set",
        ),
        (
            format!(r#"{{"collector":"c:1","tls":{{"ca_pem":{big_pem}}}}}"#),
            "tls.ca_pem: is 70000 bytes, larger than the 65536-byte (64 KiB) limit",
        ),
        (
            r#"{"collector":"c:1","tls":{"ca_file":"/a.pem","ca_pem":"x"}}"#.into(),
            "tls.ca_file: cannot be combined with tls.ca_pem",
        ),
        (
            r#"{"collector":"c:1","tls":{"insecure_skip_verify":true,"ca_file":"/a.pem"}}"#.into(),
            "tls.insecure_skip_verify: cannot be combined with a CA bundle",
        ),
        (
            r#"{"collector":"c:1","colector":"x"}"#.into(),
            "unknown field `colector`",
        ),
        (
            r#"{"collector":"c:1","tls":{"ca":"x"}}"#.into(),
            "unknown field `ca`",
        ),
    ];
    for (json, want) in &cases {
        let got = rejected(json);
        assert!(got.contains(want), "{json}\n  got:  {got}\n  want: {want}");
    }
}
