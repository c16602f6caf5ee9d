//! A small builder for JSON_IETF / JSON subtrees (containers and lists).

use super::{JsonScalar, typed, write_escaped};
use crate::proto::gnmi::{TypedValue, typed_value::Value};

/// A JSON object of YANG members, written as RFC 7951 JSON_IETF or plain JSON.
///
/// Each member carries its YANG module. In JSON_IETF, member names are
/// qualified (`"openconfig-interfaces:name"`) at the top level and wherever
/// the module differs from the enclosing member's, and unqualified otherwise.
/// An empty module means "same module as the parent". Members are written in
/// insertion order; duplicate names are the caller's responsibility.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonIetfObject {
    members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    module: String,
    name: String,
    value: MemberValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MemberValue {
    Leaf(JsonScalar),
    Object(JsonIetfObject),
    List(Vec<JsonIetfObject>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Ietf,
    Plain,
}

impl JsonIetfObject {
    /// An empty object (`{}`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds a leaf member `name` of `module` with a scalar value.
    pub fn leaf(&mut self, module: &str, name: &str, value: impl Into<JsonScalar>) -> &mut Self {
        self.push(module, name, MemberValue::Leaf(value.into()))
    }

    /// Adds a container member `name` of `module` whose value is `child`.
    pub fn object(&mut self, module: &str, name: &str, child: JsonIetfObject) -> &mut Self {
        self.push(module, name, MemberValue::Object(child))
    }

    /// Adds a list member `name` of `module`: a JSON array of entry objects.
    pub fn list(&mut self, module: &str, name: &str, entries: Vec<JsonIetfObject>) -> &mut Self {
        self.push(module, name, MemberValue::List(entries))
    }

    /// Appends the RFC 7951 (JSON_IETF) text of the object.
    pub fn write_ietf(&self, out: &mut Vec<u8>) {
        self.write(out, Style::Ietf, "");
    }

    /// Appends the plain JSON text: no module qualification, 64-bit integers as numbers.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write(out, Style::Plain, "");
    }

    /// The object as a `json_ietf_val` typed value.
    pub fn to_json_ietf_val(&self) -> TypedValue {
        let mut out = Vec::new();
        self.write_ietf(&mut out);
        typed(Value::JsonIetfVal(out))
    }

    /// The object as a plain `json_val` typed value.
    pub fn to_json_val(&self) -> TypedValue {
        let mut out = Vec::new();
        self.write_json(&mut out);
        typed(Value::JsonVal(out))
    }

    fn push(&mut self, module: &str, name: &str, value: MemberValue) -> &mut Self {
        self.members.push(Member {
            module: module.to_owned(),
            name: name.to_owned(),
            value,
        });
        self
    }

    /// Writes `{...}`; `parent` is the enclosing member's module ("" at the top).
    fn write(&self, out: &mut Vec<u8>, style: Style, parent: &str) {
        out.push(b'{');
        for (i, member) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let module = if member.module.is_empty() {
                parent
            } else {
                member.module.as_str()
            };
            out.push(b'"');
            if style == Style::Ietf && !module.is_empty() && module != parent {
                write_escaped(out, module);
                out.push(b':');
            }
            write_escaped(out, &member.name);
            out.extend_from_slice(b"\":");
            match &member.value {
                MemberValue::Leaf(v) => match style {
                    Style::Ietf => v.write_ietf(out),
                    Style::Plain => v.write_json(out),
                },
                MemberValue::Object(child) => child.write(out, style, module),
                MemberValue::List(entries) => {
                    out.push(b'[');
                    for (j, entry) in entries.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        entry.write(out, style, module);
                    }
                    out.push(b']');
                }
            }
        }
        out.push(b'}');
    }
}
