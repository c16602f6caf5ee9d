//! Updates for the leaves of a device's other subtrees (components, system, …): their
//! paths from the subtree schema and their values encoded by YANG type.

use nl6_gnmi::proto::gnmi::{Path, PathElem, ScalarArray, TypedValue, Update, typed_value};
use nl6_gnmi::value as json;
use std::sync::Arc;

use nl6_model::{LeafType, Subtree, SubtreeSchema, Subtrees, Value};

use crate::encoding::ValueEncoding;
use crate::snapshot::{ExtraReading, Snapshot};

/// The concrete path of leaf `leaf` on the entry keyed `key` of `schema`.
pub fn extra_path(schema: &SubtreeSchema, key: &str, leaf: usize) -> Path {
    let elem = |name: &str| PathElem {
        name: name.to_string(),
        key: Default::default(),
    };
    let mut elems: Vec<PathElem> = schema.list.iter().map(|n| elem(n)).collect();
    if let (Some(key_name), Some(last)) = (schema.key, elems.last_mut()) {
        last.key.insert(key_name.to_string(), key.to_string());
    }
    if let Some(leaf) = schema.leaves.get(leaf) {
        elems.extend(leaf.path.iter().map(|n| elem(n)));
    }
    Path {
        elem: elems,
        ..Default::default()
    }
}

/// The concrete path of leaf `leaf` of `entry` of `subtree`, or of the entry itself
/// when `leaf` is `None`: [`extra_path`] with the keys of the lists above the entry
/// ([`Subtree::parent_keys`]).
pub fn entry_path(subtree: &dyn Subtree, entry: usize, leaf: Option<usize>) -> Path {
    let schema = subtree.schema();
    let mut path = extra_path(schema, subtree.key(entry), leaf.unwrap_or(usize::MAX));
    for parent in subtree.parent_keys(entry) {
        if let Some(elem) = path.elem.get_mut(parent.depth) {
            elem.key
                .insert(parent.name.to_string(), parent.value.clone());
        }
    }
    path
}

/// `value` (of YANG type `ty`) as a gNMI `TypedValue` in `encoding`.
pub fn extra_value(value: &Value, ty: LeafType, encoding: ValueEncoding) -> TypedValue {
    use typed_value::Value as V;
    let value = match encoding {
        ValueEncoding::Proto => match value {
            Value::Str(s) => V::StringVal(s.clone()),
            Value::Enum(e) => V::StringVal((*e).to_string()),
            Value::Bool(b) => V::BoolVal(*b),
            Value::Uint(u) => V::UintVal(*u),
            Value::Int(i) => V::IntVal(*i),
            Value::Decimal(d) => V::DoubleVal(d.to_f64()),
            Value::List(items) => V::LeaflistVal(ScalarArray {
                element: items
                    .iter()
                    .map(|s| TypedValue {
                        value: Some(V::StringVal(s.clone())),
                    })
                    .collect(),
            }),
        },
        ValueEncoding::Json | ValueEncoding::JsonIetf => {
            let ietf = encoding == ValueEncoding::JsonIetf;
            let mut text = Vec::with_capacity(24);
            write_json(&mut text, value, ty, ietf);
            if ietf {
                V::JsonIetfVal(text)
            } else {
                V::JsonVal(text)
            }
        }
    };
    TypedValue { value: Some(value) }
}

/// JSON text of a value; JSON_IETF (RFC 7951) writes 64-bit integers and decimal64 as
/// strings.
fn write_json(out: &mut Vec<u8>, value: &Value, ty: LeafType, ietf: bool) {
    let wide = matches!(
        ty,
        LeafType::Uint64 | LeafType::Int64 | LeafType::Decimal64 { .. }
    );
    let quoted = |out: &mut Vec<u8>, text: &str| {
        if ietf && wide {
            json::write_json_string(out, text);
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    };
    match value {
        Value::Str(s) => json::write_json_string(out, s),
        Value::Enum(e) => json::write_json_string(out, e),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Uint(u) => quoted(out, &u.to_string()),
        Value::Int(i) => quoted(out, &i.to_string()),
        Value::Decimal(d) => quoted(out, &d.to_string()),
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::write_json_string(out, item);
            }
            out.push(b']');
        }
    }
}

/// The update of one reading, or `None` if the snapshot has no such subtree.
pub(crate) fn extra_update(
    snapshot: &Snapshot<'_>,
    reading: &ExtraReading,
    encoding: ValueEncoding,
) -> Option<Update> {
    let subtree = snapshot.subtrees()?.get(usize::from(reading.subtree))?;
    let schema = subtree.schema();
    let leaf = usize::from(reading.leaf);
    let ty = schema.leaves.get(leaf)?.ty;
    Some(Update {
        path: Some(entry_path(&**subtree, reading.entry as usize, Some(leaf))),
        val: Some(extra_value(&reading.value, ty, encoding)),
        duplicates: 0,
    })
}

/// Encoded `Update.path` fields (tag, length, path) of every (subtree, entry, leaf) of a
/// device's subtrees, built once per [`Subtrees`] and kept in its encoder cache.
pub(crate) struct ExtraPathTable {
    bytes: Vec<u8>,
    /// Per subtree: where its spans start, and its leaf count.
    subtrees: Vec<(usize, usize)>,
    spans: Vec<(u32, u32)>,
}

impl ExtraPathTable {
    fn build(subtrees: &Subtrees) -> ExtraPathTable {
        let mut table = ExtraPathTable {
            bytes: Vec::new(),
            subtrees: Vec::new(),
            spans: Vec::new(),
        };
        for subtree in subtrees.items() {
            let schema = subtree.schema();
            table
                .subtrees
                .push((table.spans.len(), schema.leaves.len()));
            for entry in 0..subtree.entry_count() {
                for leaf in 0..schema.leaves.len() {
                    let path = entry_path(&**subtree, entry, Some(leaf));
                    let start = table.bytes.len() as u32;
                    prost::encoding::message::encode(1, &path, &mut table.bytes);
                    table.spans.push((start, table.bytes.len() as u32 - start));
                }
            }
        }
        table
    }

    /// The table of `subtrees`, built on first use.
    pub(crate) fn of(subtrees: &Subtrees) -> Option<Arc<ExtraPathTable>> {
        let cached = subtrees
            .encoder_cache()
            .get_or_init(|| Arc::new(ExtraPathTable::build(subtrees)));
        Arc::clone(cached).downcast::<ExtraPathTable>().ok()
    }

    /// The encoded `Update.path` field of one reading.
    pub(crate) fn update_path(&self, reading: &ExtraReading) -> Option<&[u8]> {
        let &(first, leaves) = self.subtrees.get(usize::from(reading.subtree))?;
        let index = first + reading.entry as usize * leaves + usize::from(reading.leaf);
        let &(start, len) = self.spans.get(index)?;
        self.bytes.get(start as usize..(start + len) as usize)
    }
}

/// The type of a reading's leaf, if the snapshot has its subtree.
pub(crate) fn reading_type(snapshot: &Snapshot<'_>, reading: &ExtraReading) -> Option<LeafType> {
    let subtree = snapshot.subtrees()?.get(usize::from(reading.subtree))?;
    Some(subtree.schema().leaves.get(usize::from(reading.leaf))?.ty)
}

/// Every extra update of `snapshot`, in order.
pub(crate) fn extra_updates<'s>(
    snapshot: &'s Snapshot<'_>,
    encoding: ValueEncoding,
) -> impl Iterator<Item = Update> + 's {
    snapshot
        .extras()
        .iter()
        .filter_map(move |r| extra_update(snapshot, r, encoding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_model::Decimal;

    fn text(value: &Value, ty: LeafType, encoding: ValueEncoding) -> String {
        match extra_value(value, ty, encoding).value {
            Some(typed_value::Value::JsonVal(t) | typed_value::Value::JsonIetfVal(t)) => {
                String::from_utf8(t).unwrap()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_ietf_quotes_wide_numbers_and_json_does_not() {
        let temp = Value::Decimal(Decimal {
            digits: 415,
            fraction_digits: 1,
        });
        let ty = LeafType::Decimal64 { fraction_digits: 1 };
        assert_eq!(text(&temp, ty, ValueEncoding::JsonIetf), "\"41.5\"");
        assert_eq!(text(&temp, ty, ValueEncoding::Json), "41.5");
        assert_eq!(
            text(&Value::Uint(7), LeafType::Uint64, ValueEncoding::JsonIetf),
            "\"7\""
        );
        assert_eq!(
            text(&Value::Uint(7), LeafType::Uint32, ValueEncoding::JsonIetf),
            "7"
        );
        assert_eq!(
            text(&Value::Bool(true), LeafType::Bool, ValueEncoding::JsonIetf),
            "true"
        );
        let list = Value::List(vec!["a".into(), "b\"".into()]);
        assert_eq!(
            text(&list, LeafType::StringList, ValueEncoding::Json),
            "[\"a\",\"b\\\"\"]"
        );
        assert_eq!(
            extra_value(&temp, ty, ValueEncoding::Proto).value,
            Some(typed_value::Value::DoubleVal(41.5))
        );
    }
}
