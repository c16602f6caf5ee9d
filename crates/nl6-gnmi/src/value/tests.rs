use super::*;

const OC_IF: &str = "openconfig-interfaces";

fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).expect("writers emit UTF-8")
}

fn json_ietf_text(v: &TypedValue) -> String {
    match &v.value {
        Some(Value::JsonIetfVal(b)) => String::from_utf8(b.clone()).expect("UTF-8"),
        other => panic!("expected json_ietf_val, got {other:?}"),
    }
}

fn json_text(v: &TypedValue) -> String {
    match &v.value {
        Some(Value::JsonVal(b)) => String::from_utf8(b.clone()).expect("UTF-8"),
        other => panic!("expected json_val, got {other:?}"),
    }
}

#[test]
fn proto_scalars() {
    assert_eq!(uint_val(7).value, Some(Value::UintVal(7)));
    assert_eq!(int_val(-7).value, Some(Value::IntVal(-7)));
    assert_eq!(string_val("e1").value, Some(Value::StringVal("e1".into())));
    assert_eq!(bool_val(true).value, Some(Value::BoolVal(true)));
}

#[test]
fn json_ietf_integers() {
    assert_eq!(text(|o| write_json_u64(o, 0)), r#""0""#);
    assert_eq!(
        text(|o| write_json_u64(o, u64::MAX)),
        r#""18446744073709551615""#
    );
    assert_eq!(
        text(|o| write_json_i64(o, i64::MIN)),
        r#""-9223372036854775808""#
    );
    assert_eq!(text(|o| write_json_u32(o, u32::MAX)), "4294967295");
    assert_eq!(text(|o| write_json_i32(o, -42)), "-42");
    assert_eq!(text(|o| write_json_bool(o, false)), "false");
}

#[test]
fn writers_append() {
    let mut out = b"[".to_vec();
    write_json_u64(&mut out, 1);
    out.push(b',');
    write_json_u32(&mut out, 2);
    out.push(b']');
    assert_eq!(out, br#"["1",2]"#);
}

#[test]
fn json_string_escaping() {
    assert_eq!(text(|o| write_json_string(o, "plain")), r#""plain""#);
    assert_eq!(text(|o| write_json_string(o, "q\"b\\s/")), r#""q\"b\\s/""#);
    assert_eq!(
        text(|o| write_json_string(o, "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}")),
        // DEL (0x7f) needs no escaping in RFC 8259.
        "\"\\n\\r\\t\\b\\f\\u0000\\u001f\u{7f}\""
    );
    assert_eq!(text(|o| write_json_string(o, "ünï κ ✓")), "\"ünï κ ✓\"");
    assert_eq!(text(|o| write_json_string(o, "")), r#""""#);
}

#[test]
fn json_identity_and_decimal() {
    assert_eq!(
        text(|o| write_json_identity(o, OC_IF, "UP")),
        r#""openconfig-interfaces:UP""#
    );
    let cases: &[(i64, u8, &str)] = &[
        (1234, 2, "12.34"),
        (-1234, 2, "-12.34"),
        (5, 2, "0.05"),
        (-5, 3, "-0.005"),
        (0, 1, "0.0"),
        (42, 0, "42"),
        (100, 2, "1.00"),
        (i64::MIN, 18, "-9.223372036854775808"),
    ];
    for &(digits, frac, want) in cases {
        assert_eq!(
            text(|o| write_json_decimal64(o, digits, frac)),
            format!("\"{want}\""),
            "{digits} / 10^{frac}"
        );
        let scalar = JsonScalar::Decimal64 {
            digits,
            fraction_digits: frac,
        };
        assert_eq!(text(|o| scalar.write_json(o)), want);
    }
}

#[test]
fn typed_json_values() {
    assert_eq!(json_ietf_text(&json_ietf_val(123u64)), r#""123""#);
    assert_eq!(json_ietf_text(&json_ietf_val(-3i64)), r#""-3""#);
    assert_eq!(json_ietf_text(&json_ietf_val(123u32)), "123");
    assert_eq!(json_ietf_text(&json_ietf_val(7u8)), "7");
    assert_eq!(json_ietf_text(&json_ietf_val(-7i16)), "-7");
    assert_eq!(json_ietf_text(&json_ietf_val(true)), "true");
    assert_eq!(
        json_ietf_text(&json_ietf_val("Ethernet1/1")),
        r#""Ethernet1/1""#
    );
    assert_eq!(
        json_ietf_text(&json_ietf_val(JsonScalar::identity(OC_IF, "DOWN"))),
        r#""openconfig-interfaces:DOWN""#
    );

    assert_eq!(json_text(&json_val(123u64)), "123");
    assert_eq!(json_text(&json_val(i64::MIN)), "-9223372036854775808");
    assert_eq!(json_text(&json_val(String::from("x"))), r#""x""#);
    assert_eq!(
        json_text(&json_val(JsonScalar::identity(OC_IF, "DOWN"))),
        r#""DOWN""#
    );
}

fn interface_entry() -> JsonIetfObject {
    let mut counters = JsonIetfObject::new();
    counters
        .leaf(OC_IF, "in-octets", 1000u64)
        .leaf(OC_IF, "out-octets", 2000u64);
    let mut state = JsonIetfObject::new();
    state
        .leaf(OC_IF, "name", "Ethernet1/1")
        .leaf(OC_IF, "ifindex", 1u32)
        .leaf(OC_IF, "oper-status", JsonScalar::identity(OC_IF, "UP"))
        .leaf("openconfig-platform-port", "hardware-port", "port\"1")
        .object(OC_IF, "counters", counters);
    let mut entry = JsonIetfObject::new();
    entry
        .leaf(OC_IF, "name", "Ethernet1/1")
        .object(OC_IF, "state", state);
    entry
}

#[test]
fn object_ietf_qualifies_top_and_module_changes() {
    assert_eq!(
        json_ietf_text(&interface_entry().to_json_ietf_val()),
        concat!(
            r#"{"openconfig-interfaces:name":"Ethernet1/1","#,
            r#""openconfig-interfaces:state":{"#,
            r#""name":"Ethernet1/1","ifindex":1,"oper-status":"openconfig-interfaces:UP","#,
            r#""openconfig-platform-port:hardware-port":"port\"1","#,
            r#""counters":{"in-octets":"1000","out-octets":"2000"}}}"#
        )
    );
}

#[test]
fn object_plain_json_never_qualifies() {
    assert_eq!(
        json_text(&interface_entry().to_json_val()),
        concat!(
            r#"{"name":"Ethernet1/1","state":{"#,
            r#""name":"Ethernet1/1","ifindex":1,"oper-status":"UP","#,
            r#""hardware-port":"port\"1","#,
            r#""counters":{"in-octets":1000,"out-octets":2000}}}"#
        )
    );
}

#[test]
fn object_lists_and_nested_module_change() {
    let mut eth = JsonIetfObject::new();
    eth.leaf("openconfig-if-ethernet", "port-speed", "SPEED_1GB");
    let mut e1 = JsonIetfObject::new();
    e1.leaf(OC_IF, "name", "e1")
        .object("openconfig-if-ethernet", "ethernet", eth);
    let mut e2 = JsonIetfObject::new();
    e2.leaf("", "name", "e2");
    let mut interfaces = JsonIetfObject::new();
    interfaces.list(OC_IF, "interface", vec![e1, e2]);
    let mut root = JsonIetfObject::new();
    root.object(OC_IF, "interfaces", interfaces);

    let mut out = Vec::new();
    root.write_ietf(&mut out);
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        concat!(
            r#"{"openconfig-interfaces:interfaces":{"interface":["#,
            r#"{"name":"e1","openconfig-if-ethernet:ethernet":{"port-speed":"SPEED_1GB"}},"#,
            r#"{"name":"e2"}]}}"#
        )
    );
}

#[test]
fn empty_object_and_list() {
    let empty = JsonIetfObject::new();
    assert!(empty.is_empty());
    assert_eq!(json_ietf_text(&empty.to_json_ietf_val()), "{}");
    let mut o = JsonIetfObject::new();
    o.list(OC_IF, "interface", Vec::new());
    assert!(!o.is_empty());
    assert_eq!(
        json_ietf_text(&o.to_json_ietf_val()),
        r#"{"openconfig-interfaces:interface":[]}"#
    );
}
