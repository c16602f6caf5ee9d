//! Text renderings of received notifications: the goarista-style line format
//! and one JSON object per notification.
//!
//! Nothing here panics on malformed input: a missing prefix or value, invalid
//! UTF-8 in JSON bytes or an out-of-range timestamp all render as something
//! readable.

use std::fmt::Write as _;

use nl6_gnmi::proto::gnmi::typed_value::Value;
use nl6_gnmi::proto::gnmi::{Notification, Path, PathElem, TypedValue};
use serde_json::Value as Json;

use crate::Received;

/// Rendering of an update without a value.
pub const NO_VALUE: &str = "<no value>";

/// Formats Unix nanoseconds as RFC 3339 in UTC with nine fraction digits,
/// e.g. `2006-01-02T15:04:05.000000000Z`.
pub fn format_timestamp(unix_nanos: i64) -> String {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    let (days, second_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year,
    // then split into 400-year eras of 146 097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats prefix + path as gNMI path text (`origin:/a/b[k=v]/c`), target omitted.
///
/// Either part may be missing; the deprecated `element` strings are used when
/// a path has no `elem`.
pub fn full_path(prefix: Option<&Path>, path: Option<&Path>) -> String {
    let prefix = prefix.map(with_elems);
    let path = path.map(with_elems).unwrap_or_default();
    nl6_gnmi::format_path(&nl6_gnmi::path::join(prefix.as_ref(), &path))
}

/// Copies the parts of a path the formatter needs, upgrading deprecated `element` strings.
#[allow(deprecated)] // old devices still send `element`
fn with_elems(path: &Path) -> Path {
    let elem = if path.elem.is_empty() && !path.element.is_empty() {
        path.element
            .iter()
            .map(|name| PathElem {
                name: name.clone(),
                ..Default::default()
            })
            .collect()
    } else {
        path.elem.clone()
    };
    Path {
        origin: path.origin.clone(),
        elem,
        target: path.target.clone(),
        ..Default::default()
    }
}

/// Formats a value for the line format: JSON text for JSON encodings, the
/// plain number or string for scalars, `0x…` hex for bytes (and for JSON
/// bytes that are not UTF-8), [`NO_VALUE`] when absent.
pub fn format_value(value: Option<&TypedValue>) -> String {
    let mut out = String::new();
    push_value(&mut out, value.and_then(|v| v.value.as_ref()));
    out
}

fn push_value(out: &mut String, value: Option<&Value>) {
    let Some(value) = value else {
        out.push_str(NO_VALUE);
        return;
    };
    match value {
        Value::StringVal(s) | Value::AsciiVal(s) => push_single_line(out, s),
        Value::IntVal(v) => push_display(out, v),
        Value::UintVal(v) => push_display(out, v),
        Value::BoolVal(v) => push_display(out, v),
        Value::DoubleVal(v) => push_display(out, v),
        #[allow(deprecated)]
        Value::FloatVal(v) => push_display(out, v),
        #[allow(deprecated)]
        Value::DecimalVal(d) => out.push_str(&decimal(d.digits, d.precision)),
        Value::BytesVal(b) | Value::ProtoBytes(b) => push_hex(out, b),
        Value::JsonVal(b) | Value::JsonIetfVal(b) => match std::str::from_utf8(b) {
            Ok(text) if text.contains(['\n', '\r']) => match serde_json::from_str::<Json>(text) {
                Ok(json) => out.push_str(&json.to_string()),
                Err(_) => push_single_line(out, text),
            },
            Ok(text) => push_single_line(out, text),
            Err(_) => push_hex(out, b),
        },
        Value::LeaflistVal(list) => {
            out.push('[');
            for (i, element) in list.element.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_value(out, element.value.as_ref());
            }
            out.push(']');
        }
        Value::AnyVal(any) => {
            let _ = write!(out, "any({}, {} bytes)", any.type_url, any.value.len());
        }
    }
}

fn push_display(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

/// Pushes `text`, escaping control characters so one update stays one line.
fn push_single_line(out: &mut String, text: &str) {
    if text.chars().any(char::is_control) {
        for ch in text.chars() {
            if ch.is_control() {
                out.extend(ch.escape_default());
            } else {
                out.push(ch);
            }
        }
    } else {
        out.push_str(text);
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    out.push_str("0x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    push_hex(&mut out, bytes);
    out
}

/// Renders a gNMI Decimal64 (`digits` × 10^-`precision`) exactly.
fn decimal(digits: i64, precision: u32) -> String {
    let magnitude = digits.unsigned_abs().to_string();
    let sign = if digits < 0 { "-" } else { "" };
    if precision == 0 {
        return format!("{sign}{magnitude}");
    }
    if precision > 64 {
        // Far beyond Decimal64's 18 digits: avoid padding with billions of zeros.
        return format!("{sign}{magnitude}e-{precision}");
    }
    let precision = precision as usize;
    let padded = format!("{magnitude:0>width$}", width = precision + 1);
    let (int, frac) = padded.split_at(padded.len() - precision);
    format!("{sign}{int}.{frac}")
}

/// The `Prefix.target` of a notification, empty when absent.
pub fn target(notification: &Notification) -> &str {
    notification
        .prefix
        .as_ref()
        .map_or("", |p| p.target.as_str())
}

/// Appends one line per update (and per delete) in the goarista reference format:
/// `[2006-01-02T15:04:05.000000000Z] (target) /full/path = value`.
///
/// Deletes render as `[…] (target) /full/path deleted`.
pub fn push_lines(out: &mut String, notification: &Notification) {
    let time = format_timestamp(notification.timestamp);
    let target = target(notification);
    let prefix = notification.prefix.as_ref();
    for update in &notification.update {
        let _ = write!(
            out,
            "[{time}] ({target}) {} = ",
            full_path(prefix, update.path.as_ref())
        );
        push_value(out, update.val.as_ref().and_then(|v| v.value.as_ref()));
        out.push('\n');
    }
    for deleted in &notification.delete {
        let _ = writeln!(
            out,
            "[{time}] ({target}) {} deleted",
            full_path(prefix, Some(deleted))
        );
    }
}

/// Appends one JSON object and a newline for a received notification:
/// `{"timestamp", "timestamp_ns", "target", "peer", "updates": [{"path", "value"}], "deletes"}`
/// (`deletes` only when non-empty).
pub fn push_json(out: &mut String, received: &Received) {
    let n = &received.notification;
    let updates: Vec<Json> = n
        .update
        .iter()
        .map(|u| {
            let mut entry = serde_json::Map::new();
            entry.insert(
                "path".into(),
                Json::String(full_path(n.prefix.as_ref(), u.path.as_ref())),
            );
            entry.insert(
                "value".into(),
                json_value(u.val.as_ref().and_then(|v| v.value.as_ref())),
            );
            Json::Object(entry)
        })
        .collect();
    out.push_str("{\"timestamp\":");
    push_json_string(out, &format_timestamp(n.timestamp));
    let _ = write!(out, ",\"timestamp_ns\":{},\"target\":", n.timestamp);
    push_json_string(out, target(n));
    out.push_str(",\"peer\":");
    match received.peer {
        Some(peer) => push_json_string(out, &peer.to_string()),
        None => out.push_str("null"),
    }
    out.push_str(",\"updates\":");
    out.push_str(&Json::Array(updates).to_string());
    if !n.delete.is_empty() {
        let deletes: Vec<Json> = n
            .delete
            .iter()
            .map(|d| Json::String(full_path(n.prefix.as_ref(), Some(d))))
            .collect();
        out.push_str(",\"deletes\":");
        out.push_str(&Json::Array(deletes).to_string());
    }
    out.push_str("}\n");
}

fn push_json_string(out: &mut String, s: &str) {
    out.push_str(&Json::String(s.to_string()).to_string());
}

/// Converts a typed value to JSON: JSON encodings are embedded as parsed JSON
/// (as a string when they do not parse, as `0x…` hex when not UTF-8), numbers
/// and booleans natively, bytes as `0x…` hex, no value as `null`.
fn json_value(value: Option<&Value>) -> Json {
    let Some(value) = value else {
        return Json::Null;
    };
    match value {
        Value::StringVal(s) | Value::AsciiVal(s) => Json::String(s.clone()),
        Value::IntVal(v) => Json::from(*v),
        Value::UintVal(v) => Json::from(*v),
        Value::BoolVal(v) => Json::Bool(*v),
        Value::DoubleVal(v) => float_json(*v),
        #[allow(deprecated)]
        Value::FloatVal(v) => float_json(f64::from(*v)),
        #[allow(deprecated)]
        Value::DecimalVal(d) => {
            let text = decimal(d.digits, d.precision);
            text.parse::<f64>().map_or(Json::String(text), float_json)
        }
        Value::BytesVal(b) | Value::ProtoBytes(b) => Json::String(hex(b)),
        Value::JsonVal(b) | Value::JsonIetfVal(b) => match serde_json::from_slice::<Json>(b) {
            Ok(json) => json,
            Err(_) => match std::str::from_utf8(b) {
                Ok(text) => Json::String(text.to_string()),
                Err(_) => Json::String(hex(b)),
            },
        },
        Value::LeaflistVal(list) => Json::Array(
            list.element
                .iter()
                .map(|e| json_value(e.value.as_ref()))
                .collect(),
        ),
        Value::AnyVal(any) => serde_json::json!({
            "type_url": any.type_url,
            "value": hex(&any.value),
        }),
    }
}

fn float_json(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or_else(|| Json::String(v.to_string()), Json::Number)
}

#[cfg(test)]
mod tests {
    use nl6_gnmi::proto::gnmi::{Decimal64, ScalarArray, Update};

    use super::*;

    fn elem(name: &str, keys: &[(&str, &str)]) -> PathElem {
        PathElem {
            name: name.into(),
            key: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn path(elems: Vec<PathElem>) -> Path {
        Path {
            elem: elems,
            ..Default::default()
        }
    }

    fn val(v: Value) -> Option<TypedValue> {
        Some(TypedValue { value: Some(v) })
    }

    #[test]
    fn timestamps_are_rfc3339_nanos_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000000000Z");
        // Go's reference time.
        assert_eq!(
            format_timestamp(1_136_214_245_000_000_000),
            "2006-01-02T15:04:05.000000000Z"
        );
        assert_eq!(
            format_timestamp(1_709_210_096_123_456_789),
            "2024-02-29T12:34:56.123456789Z"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999999999Z");
        // Extremes must not panic.
        assert_eq!(format_timestamp(i64::MAX), "2262-04-11T23:47:16.854775807Z");
        assert_eq!(format_timestamp(i64::MIN), "1677-09-21T00:12:43.145224192Z");
    }

    #[test]
    fn full_path_joins_prefix_and_path() {
        let prefix = Path {
            target: "10.42.0.1".into(),
            origin: "openconfig".into(),
            ..path(vec![elem("interfaces", &[])])
        };
        let p = path(vec![
            elem("interface", &[("name", "Ethernet1/1")]),
            elem("state", &[]),
            elem("oper-status", &[]),
        ]);
        assert_eq!(
            full_path(Some(&prefix), Some(&p)),
            "openconfig:/interfaces/interface[name=Ethernet1/1]/state/oper-status"
        );
        assert_eq!(
            full_path(None, Some(&p)),
            "/interface[name=Ethernet1/1]/state/oper-status"
        );
        assert_eq!(full_path(None, None), "/");
        let multi = path(vec![elem("e", &[("b", "2"), ("a", "x]y")])]);
        assert_eq!(full_path(None, Some(&multi)), "/e[a=x\\]y][b=2]");
        #[allow(deprecated)]
        let old = Path {
            element: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert_eq!(full_path(None, Some(&old)), "/a/b");
    }

    #[test]
    fn scalar_and_json_values() {
        let cases = [
            (Value::StringVal("UP".into()), "UP"),
            (Value::IntVal(-3), "-3"),
            (
                Value::UintVal(18_446_744_073_709_551_615),
                "18446744073709551615",
            ),
            (Value::BoolVal(true), "true"),
            (Value::DoubleVal(1.5), "1.5"),
            (
                Value::JsonIetfVal(br#""openconfig-if-types:UP""#.to_vec()),
                r#""openconfig-if-types:UP""#,
            ),
            (Value::JsonVal(b"{\n \"a\": 1\n}".to_vec()), r#"{"a":1}"#),
            (Value::JsonIetfVal(vec![0xff, 0x00]), "0xff00"),
            (Value::BytesVal(vec![1, 2, 0xab]), "0x0102ab"),
            (Value::StringVal("two\nlines".into()), "two\\nlines"),
            (
                Value::LeaflistVal(ScalarArray {
                    element: vec![
                        TypedValue {
                            value: Some(Value::IntVal(1)),
                        },
                        TypedValue {
                            value: Some(Value::StringVal("b".into())),
                        },
                    ],
                }),
                "[1, b]",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(format_value(val(value.clone()).as_ref()), want, "{value:?}");
        }
        #[allow(deprecated)]
        let dec = Value::DecimalVal(Decimal64 {
            digits: -1234,
            precision: 5,
        });
        assert_eq!(format_value(val(dec).as_ref()), "-0.01234");
        #[allow(deprecated)]
        let absurd = Value::DecimalVal(Decimal64 {
            digits: 5,
            precision: u32::MAX,
        });
        assert_eq!(format_value(val(absurd).as_ref()), "5e-4294967295");
        assert_eq!(format_value(None), NO_VALUE);
        assert_eq!(format_value(Some(&TypedValue { value: None })), NO_VALUE);
    }

    fn notification() -> Notification {
        Notification {
            timestamp: 1_136_214_245_000_000_000,
            prefix: Some(Path {
                target: "10.42.0.1".into(),
                ..path(vec![
                    elem("interfaces", &[]),
                    elem("interface", &[("name", "Ethernet1")]),
                ])
            }),
            update: vec![
                Update {
                    path: Some(path(vec![elem("state", &[]), elem("oper-status", &[])])),
                    val: val(Value::JsonIetfVal(br#""UP""#.to_vec())),
                    duplicates: 0,
                },
                Update {
                    path: Some(path(vec![
                        elem("state", &[]),
                        elem("counters", &[]),
                        elem("in-octets", &[]),
                    ])),
                    val: val(Value::UintVal(42)),
                    duplicates: 0,
                },
            ],
            delete: vec![path(vec![elem("state", &[]), elem("description", &[])])],
            atomic: false,
        }
    }

    #[test]
    fn lines_match_the_reference_format() {
        let mut out = String::new();
        push_lines(&mut out, &notification());
        assert_eq!(
            out,
            "[2006-01-02T15:04:05.000000000Z] (10.42.0.1) /interfaces/interface[name=Ethernet1]/state/oper-status = \"UP\"\n\
             [2006-01-02T15:04:05.000000000Z] (10.42.0.1) /interfaces/interface[name=Ethernet1]/state/counters/in-octets = 42\n\
             [2006-01-02T15:04:05.000000000Z] (10.42.0.1) /interfaces/interface[name=Ethernet1]/state/description deleted\n"
        );
    }

    #[test]
    fn malformed_notifications_render() {
        let bare = Notification {
            update: vec![Update::default()],
            ..Default::default()
        };
        let mut out = String::new();
        push_lines(&mut out, &bare);
        assert_eq!(out, "[1970-01-01T00:00:00.000000000Z] () / = <no value>\n");
        let received = Received {
            peer: None,
            received_at: std::time::SystemTime::UNIX_EPOCH,
            notification: bare,
            tag: None,
        };
        let mut out = String::new();
        push_json(&mut out, &received);
        let json: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(json["updates"][0]["value"], Json::Null);
        assert_eq!(json["peer"], Json::Null);
    }

    #[test]
    fn json_object_per_notification() {
        let received = Received {
            peer: Some("127.0.0.1:5000".parse().unwrap()),
            received_at: std::time::SystemTime::UNIX_EPOCH,
            notification: notification(),
            tag: None,
        };
        let mut out = String::new();
        push_json(&mut out, &received);
        assert!(out.ends_with("}\n") && out.lines().count() == 1);
        let json: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(json["timestamp"], "2006-01-02T15:04:05.000000000Z");
        assert_eq!(json["timestamp_ns"], 1_136_214_245_000_000_000i64);
        assert_eq!(json["target"], "10.42.0.1");
        assert_eq!(json["peer"], "127.0.0.1:5000");
        assert_eq!(
            json["updates"][0]["path"],
            "/interfaces/interface[name=Ethernet1]/state/oper-status"
        );
        assert_eq!(json["updates"][0]["value"], "UP");
        assert_eq!(json["updates"][1]["value"], 42);
        assert_eq!(
            json["deletes"][0],
            "/interfaces/interface[name=Ethernet1]/state/description"
        );
    }
}
