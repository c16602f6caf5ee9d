//! The hand-written encoders against references built with the prost-generated types
//! (kvGPB, envelope) and with the generated `.proto` compiled by protox and filled with
//! prost-reflect (compact): byte for byte.

use nl6_ifstate::{AdminStatus, Counters, IfState, LinkStatus};
use nl6_resolver::InterfaceReading;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value as PValue};

use super::*;
use crate::proto::telemetry::{
    Telemetry, TelemetryField, TelemetryGpbTable, TelemetryRowGpb, telemetry as envelope,
    telemetry_field::ValueByType,
};
use crate::proto_gen::proto_of;
use crate::sensor::FieldKind;

const TS: u64 = 1_764_633_600_123;

fn rows(n: usize) -> (Vec<String>, Vec<InterfaceReading>) {
    let names = (0..n).map(|i| format!("Ethernet{}", i + 1)).collect();
    let readings = (0..n)
        .map(|i| {
            let mut c = [0u64; 12];
            for (k, v) in c.iter_mut().enumerate() {
                // Six- to eight-digit values, some zero (errors), as on a router up a day.
                *v = if k >= 8 {
                    (i as u64) * (k as u64 % 3)
                } else {
                    449_825 + 41_624_083 * (k as u64 % 2) + 1000 * i as u64
                };
            }
            InterfaceReading {
                state: IfState {
                    link: if i % 3 == 2 {
                        LinkStatus::Down
                    } else {
                        LinkStatus::Up
                    },
                    admin: if i % 4 == 3 {
                        AdminStatus::Down
                    } else {
                        AdminStatus::Up
                    },
                    last_change_ns: if i % 2 == 0 {
                        0
                    } else {
                        (TS - 60_000) * 1_000_000
                    },
                },
                counters: Counters(c),
            }
        })
        .collect();
    (names, readings)
}

fn with_rows<R>(n: usize, f: impl FnOnce(&[Row<'_>]) -> R) -> R {
    let (names, readings) = rows(n);
    let rows: Vec<Row<'_>> = names
        .iter()
        .zip(&readings)
        .enumerate()
        .map(|(i, (name, reading))| Row {
            name,
            ifindex: i as u32 + 1,
            speed_bps: 10_000_000_000,
            reading: *reading,
        })
        .collect();
    f(&rows)
}

fn collection<'a>(path: SensorPath, rows: &'a [Row<'a>], event: bool) -> Collection<'a> {
    Collection {
        path,
        node_id: "xr-1",
        subscription_id: "sub \"one\"",
        collection_id: 42,
        timestamp_ms: TS,
        event,
        rows,
    }
}

fn encode_all(
    c: &Collection<'_>,
    encoding: MdtEncoding,
    max: usize,
) -> (Vec<EncodedMessage>, usize) {
    let mut out = Vec::new();
    let dropped = CollectionEncoder::new().encode(c, encoding, max, &mut out);
    (out, dropped)
}

/// The leaves of a row as (field, value), depth first, skipping what an event omits.
fn values_of<'a>(path: SensorPath, row: &Row<'a>) -> Vec<Value<'a>> {
    let mut values = [Value::U32(0); MAX_LEAVES];
    let n = content_values(path, row, TS, &mut values);
    values[..n].to_vec()
}

fn kv_value(v: &Value<'_>) -> ValueByType {
    match *v {
        Value::Str(s) => ValueByType::StringValue(s.to_string()),
        Value::Bool(b) => ValueByType::BoolValue(b),
        Value::U32(x) => ValueByType::Uint32Value(x),
        Value::U64(x) => ValueByType::Uint64Value(x),
    }
}

fn kv_fields(
    fields: &[FieldSpec],
    values: &[Value<'_>],
    at: &mut usize,
    event: bool,
) -> Vec<TelemetryField> {
    let mut out = Vec::new();
    for f in fields {
        if event && !f.on_change {
            *at += f.leaf_count();
            continue;
        }
        match f.kind {
            FieldKind::Container(children) => out.push(TelemetryField {
                name: f.name.to_string(),
                fields: kv_fields(children, values, at, event),
                ..Default::default()
            }),
            _ => {
                out.push(TelemetryField {
                    name: f.name.to_string(),
                    value_by_type: Some(kv_value(&values[*at])),
                    ..Default::default()
                });
                *at += 1;
            }
        }
    }
    out
}

fn reference_kv_row(path: SensorPath, row: &Row<'_>, event: bool) -> TelemetryField {
    let keys = [Value::Str(row.name)];
    TelemetryField {
        timestamp: TS,
        fields: vec![
            TelemetryField {
                name: "keys".into(),
                fields: kv_fields(path.keys(), &keys, &mut 0, false),
                ..Default::default()
            },
            TelemetryField {
                name: "content".into(),
                fields: kv_fields(path.content(), &values_of(path, row), &mut 0, event),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn reference_envelope(c: &Collection<'_>) -> Telemetry {
    Telemetry {
        node_id: Some(envelope::NodeId::NodeIdStr(c.node_id.into())),
        subscription: Some(envelope::Subscription::SubscriptionIdStr(
            c.subscription_id.into(),
        )),
        encoding_path: c.path.as_str().into(),
        collection_id: c.collection_id,
        collection_start_time: TS,
        msg_timestamp: TS,
        collection_end_time: TS,
        ..Default::default()
    }
}

/// The generated `.proto` of `path`, compiled by protox.
fn pool_of(path: SensorPath) -> DescriptorPool {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "nl6-mdt-proto-{}-{n}-{}",
        std::process::id(),
        path.message_name()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("row.proto"), proto_of(path)).unwrap();
    let set = protox::compile(["row.proto"], [&dir]).expect("the generated .proto compiles");
    std::fs::remove_dir_all(&dir).unwrap();
    DescriptorPool::from_file_descriptor_set(set).unwrap()
}

fn message_desc(pool: &DescriptorPool, path: SensorPath, name: &str) -> MessageDescriptor {
    pool.get_message_by_name(&format!("{}.{name}", path.proto_package()))
        .unwrap_or_else(|| panic!("{name} in the generated .proto"))
}

fn dynamic(
    desc: &MessageDescriptor,
    fields: &[FieldSpec],
    values: &[Value<'_>],
    at: &mut usize,
    event: bool,
) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc.clone());
    for f in fields {
        if event && !f.on_change {
            *at += f.leaf_count();
            continue;
        }
        let field = desc.get_field(f.tag).expect("tag in the .proto");
        assert_eq!(field.name(), f.name.replace('-', "_"));
        let value = match f.kind {
            FieldKind::Container(children) => {
                let inner = field.kind();
                let inner = inner.as_message().expect("a message field");
                PValue::Message(dynamic(inner, children, values, at, event))
            }
            _ => {
                let v = match values[*at] {
                    Value::Str(s) => PValue::String(s.to_string()),
                    Value::Bool(b) => PValue::Bool(b),
                    Value::U32(x) => PValue::U32(x),
                    Value::U64(x) => PValue::U64(x),
                };
                *at += 1;
                v
            }
        };
        msg.set_field(&field, value);
    }
    msg
}

fn reference_compact_row(
    pool: &DescriptorPool,
    path: SensorPath,
    row: &Row<'_>,
    event: bool,
) -> TelemetryRowGpb {
    let name = path.message_name();
    let keys = dynamic(
        &message_desc(pool, path, &format!("{name}_KEYS")),
        path.keys(),
        &[Value::Str(row.name)],
        &mut 0,
        false,
    );
    let content = dynamic(
        &message_desc(pool, path, name),
        path.content(),
        &values_of(path, row),
        &mut 0,
        event,
    );
    TelemetryRowGpb {
        timestamp: TS,
        keys: keys.encode_to_vec(),
        content: content.encode_to_vec(),
    }
}

#[test]
fn kv_gpb_is_byte_identical_to_prost() {
    for path in SensorPath::ALL {
        for event in [false, true] {
            with_rows(5, |rows| {
                let c = collection(path, rows, event);
                let (messages, dropped) =
                    encode_all(&c, MdtEncoding::SelfDescribingGpb, MAX_TCP_MESSAGE);
                assert_eq!((messages.len(), dropped), (1, 0));
                let mut expected = reference_envelope(&c);
                expected.data_gpbkv = rows
                    .iter()
                    .map(|r| reference_kv_row(path, r, event))
                    .collect();
                same_bytes(
                    &messages[0].payload,
                    &expected.encode_to_vec(),
                    &format!("{path} event={event}"),
                );
                assert_eq!(
                    Telemetry::decode(&messages[0].payload[..]).unwrap(),
                    expected
                );
                let full = path.leaf_count() as u64;
                if !event {
                    assert_eq!(messages[0].leaves, full * 5);
                }
                assert_eq!(messages[0].rows, 5);
            });
        }
    }
}

#[test]
fn compact_rows_decode_with_the_generated_proto_byte_for_byte() {
    for path in SensorPath::ALL {
        let pool = pool_of(path);
        for event in [false, true] {
            with_rows(5, |rows| {
                let c = collection(path, rows, event);
                let (messages, _) = encode_all(&c, MdtEncoding::Gpb, MAX_TCP_MESSAGE);
                let mut expected = reference_envelope(&c);
                expected.data_gpb = Some(TelemetryGpbTable {
                    row: rows
                        .iter()
                        .map(|r| reference_compact_row(&pool, path, r, event))
                        .collect(),
                });
                same_bytes(
                    &messages[0].payload,
                    &expected.encode_to_vec(),
                    &format!("{path} event={event}"),
                );
                // And any runtime reads it back: the content of the first row by name.
                let decoded = Telemetry::decode(&messages[0].payload[..]).unwrap();
                let row = &decoded.data_gpb.unwrap().row[0];
                let keys = DynamicMessage::decode(
                    message_desc(&pool, path, &format!("{}_KEYS", path.message_name())),
                    &row.keys[..],
                )
                .unwrap();
                let key = path.keys()[0].name.replace('-', "_");
                assert_eq!(
                    keys.get_field_by_name(&key).unwrap().as_str(),
                    Some("Ethernet1")
                );
            });
        }
    }
}

#[test]
fn generic_counters_compact_rows_carry_the_analytic_values() {
    let pool = pool_of(SensorPath::GenericCounters);
    with_rows(1, |rows| {
        let c = collection(SensorPath::GenericCounters, rows, false);
        let (messages, _) = encode_all(&c, MdtEncoding::Gpb, MAX_TCP_MESSAGE);
        let decoded = Telemetry::decode(&messages[0].payload[..]).unwrap();
        let row = &decoded.data_gpb.unwrap().row[0];
        let content = DynamicMessage::decode(
            message_desc(&pool, SensorPath::GenericCounters, "ifstatsbag_generic"),
            &row.content[..],
        )
        .unwrap();
        let c = rows[0].reading.counters.0;
        assert_eq!(
            content
                .get_field_by_name("bytes_received")
                .unwrap()
                .as_u64(),
            Some(c[0])
        );
        assert_eq!(
            content
                .get_field_by_name("packets_received")
                .unwrap()
                .as_u64(),
            Some(c[2] + c[4] + c[6])
        );
        assert_eq!(
            content.get_field_by_name("bytes_sent").unwrap().as_u64(),
            Some(c[1])
        );
    });
}

#[test]
fn json_is_xr_shaped() {
    with_rows(3, |rows| {
        let c = collection(SensorPath::OpenconfigInterfaces, rows, false);
        let (messages, _) = encode_all(&c, MdtEncoding::Json, MAX_TCP_MESSAGE);
        let doc: serde_json::Value = serde_json::from_slice(&messages[0].payload).unwrap();
        assert_eq!(doc["node_id_str"], "xr-1");
        assert_eq!(doc["subscription_id_str"], "sub \"one\"");
        assert_eq!(
            doc["encoding_path"],
            "openconfig-interfaces:interfaces/interface"
        );
        assert_eq!(doc["collection_id"], 42);
        for key in [
            "collection_start_time",
            "msg_timestamp",
            "collection_end_time",
        ] {
            assert_eq!(doc[key], TS, "{key}");
        }
        let data = doc["data_json"].as_array().unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data[1]["timestamp"], TS);
        assert_eq!(data[1]["keys"], serde_json::json!([{"name": "Ethernet2"}]));
        let state = &data[1]["content"]["state"];
        assert_eq!(state["ifindex"], 2);
        assert_eq!(
            state["counters"]["in-octets"],
            rows[1].reading.counters.0[0]
        );
        assert_eq!(state["oper-status"], "UP");

        let c = collection(SensorPath::GenericCounters, rows, false);
        let (messages, _) = encode_all(&c, MdtEncoding::Json, MAX_TCP_MESSAGE);
        let doc: serde_json::Value = serde_json::from_slice(&messages[0].payload).unwrap();
        let content = doc["data_json"][0]["content"].as_object().unwrap();
        assert_eq!(content.len(), 36);
        assert_eq!(
            doc["data_json"][0]["keys"][0]["interface-name"],
            "Ethernet1"
        );
    });
}

#[test]
fn event_rows_carry_only_state() {
    with_rows(2, |rows| {
        let c = collection(SensorPath::OpenconfigInterfaces, rows, true);
        let (messages, _) = encode_all(&c, MdtEncoding::Json, MAX_TCP_MESSAGE);
        let doc: serde_json::Value = serde_json::from_slice(&messages[0].payload).unwrap();
        let state = doc["data_json"][0]["content"]["state"].as_object().unwrap();
        assert!(state.get("counters").is_none());
        assert_eq!(state.len(), 5);
        // name key + name + 5 state leaves.
        assert_eq!(messages[0].leaves, 2 * 7);
    });
}

#[test]
fn splitting_never_cuts_a_row_and_counts_rows_too_large() {
    for encoding in MdtEncoding::ALL {
        with_rows(10, |rows| {
            let c = collection(SensorPath::GenericCounters, rows, false);
            let (whole, _) = encode_all(&c, encoding, MAX_TCP_MESSAGE);
            let one = whole[0].payload.len();
            // Room for about three rows a message.
            let limit = one * 3 / 10 + 60;
            let (parts, dropped) = encode_all(&c, encoding, limit);
            assert_eq!(dropped, 0, "{encoding}");
            assert!(parts.len() >= 3, "{encoding}: {} parts", parts.len());
            assert!(parts.iter().all(|m| m.payload.len() <= limit && m.rows > 0));
            assert_eq!(parts.iter().map(|m| m.rows).sum::<usize>(), 10);
            assert_eq!(
                parts.iter().map(|m| m.leaves).sum::<u64>(),
                whole[0].leaves,
                "{encoding}"
            );
            // Every part is a whole message; together they hold every row, in order.
            let names: Vec<String> = parts
                .iter()
                .flat_map(|m| row_names(encoding, &m.payload))
                .collect();
            let expected: Vec<String> = (1..=10).map(|i| format!("Ethernet{i}")).collect();
            assert_eq!(names, expected, "{encoding}");

            // A limit below one row: every row dropped, nothing sent.
            let (none, dropped) = encode_all(&c, encoding, 40);
            assert!(none.is_empty());
            assert_eq!(dropped, 10);
        });
    }
}

#[test]
fn a_row_too_large_alone_is_dropped_and_the_others_sent() {
    let long = "x".repeat(600);
    with_rows(3, |rows| {
        let mut rows = rows.to_vec();
        rows[1].name = &long;
        let c = collection(SensorPath::InterfaceXr, &rows, false);
        let (parts, dropped) = encode_all(&c, MdtEncoding::Gpb, 1000);
        assert_eq!(dropped, 1);
        let names: Vec<String> = parts
            .iter()
            .flat_map(|m| row_names(MdtEncoding::Gpb, &m.payload))
            .collect();
        assert_eq!(names, ["Ethernet1", "Ethernet3"]);
    });
}

#[test]
fn no_rows_no_message() {
    let c = collection(SensorPath::GenericCounters, &[], false);
    for encoding in MdtEncoding::ALL {
        assert_eq!(encode_all(&c, encoding, MAX_TCP_MESSAGE), (vec![], 0));
    }
}

/// The interface names of a message's rows, in order.
fn row_names(encoding: MdtEncoding, payload: &[u8]) -> Vec<String> {
    match encoding {
        MdtEncoding::Json => {
            let doc: serde_json::Value = serde_json::from_slice(payload).unwrap();
            doc["data_json"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["keys"][0]["interface-name"].as_str().unwrap().to_string())
                .collect()
        }
        MdtEncoding::SelfDescribingGpb => Telemetry::decode(payload)
            .unwrap()
            .data_gpbkv
            .iter()
            .map(|r| match &r.fields[0].fields[0].value_by_type {
                Some(ValueByType::StringValue(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        MdtEncoding::Gpb => Telemetry::decode(payload)
            .unwrap()
            .data_gpb
            .unwrap()
            .row
            .iter()
            .map(|r| {
                // keys = { string interface_name = 1; }
                assert_eq!(r.keys[0], 0x0a);
                String::from_utf8(r.keys[2..].to_vec()).unwrap()
            })
            .collect(),
    }
}

/// Equal bytes, or a panic naming the first difference (not the whole dump).
fn same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: {} bytes, want {}; first difference at {at}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            &got[at.saturating_sub(8)..(at + 8).min(got.len())],
            &want[at.saturating_sub(8)..(at + 8).min(want.len())]
        );
    }
}
