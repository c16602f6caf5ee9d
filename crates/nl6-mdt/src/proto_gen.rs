//! The path-specific `.proto` of compact GPB rows, as IOS XR's
//! `telemetry generate gpb-encoding path <path> syntax proto3` prints it: a package
//! named after the path, a `<name>_KEYS` message (tags from 1) and the content message
//! (tags from 50), nested containers as their own messages.

use std::fmt::Write;

use crate::sensor::{FieldKind, FieldSpec, SensorPath, UnknownSensorPath};

/// The `.proto` that decodes compact GPB rows of `path` (the path as configured).
///
/// ```
/// let text = nl6_mdt::generate_proto(
///     "Cisco-IOS-XR-infra-statsd-oper:infra-statistics/interfaces/interface/latest/generic-counters",
/// )?;
/// assert!(text.contains("message ifstatsbag_generic_KEYS {"));
/// assert!(text.contains("    uint64 packets_received = 50;"));
/// # Ok::<(), nl6_mdt::UnknownSensorPath>(())
/// ```
pub fn generate_proto(path: &str) -> Result<String, UnknownSensorPath> {
    Ok(proto_of(path.parse()?))
}

/// The `.proto` of a known sensor path (see [`generate_proto`]).
pub fn proto_of(path: SensorPath) -> String {
    let mut out = String::new();
    let name = path.message_name();
    let _ = writeln!(out, "syntax = \"proto3\";\n");
    let _ = writeln!(out, "//Path: {}\n", path.as_str());
    let _ = writeln!(out, "package {};\n", path.proto_package());
    let _ = writeln!(out, "// {}", path.description());
    message(&mut out, &format!("{name}_KEYS"), path.keys());
    let _ = writeln!(out);
    let _ = writeln!(out, "// {}", path.description());
    message(&mut out, name, path.content());
    nested(&mut out, name, path.content());
    out
}

fn field_name(yang: &str) -> String {
    yang.replace('-', "_")
}

fn type_name(parent: &str, field: &FieldSpec) -> String {
    format!("{parent}_{}", field_name(field.name))
}

fn message(out: &mut String, name: &str, fields: &[FieldSpec]) {
    let _ = writeln!(out, "message {name} {{");
    for f in fields {
        let ty = match f.kind {
            FieldKind::String => "string".to_string(),
            FieldKind::Bool => "bool".to_string(),
            FieldKind::Uint32 => "uint32".to_string(),
            FieldKind::Uint64 => "uint64".to_string(),
            FieldKind::Container(_) => type_name(name, f),
        };
        let _ = writeln!(out, "    // {}", f.description);
        let _ = writeln!(out, "    {ty} {} = {};", field_name(f.name), f.tag);
    }
    let _ = writeln!(out, "}}");
}

/// The messages of the containers below `parent`, depth first.
fn nested(out: &mut String, parent: &str, fields: &[FieldSpec]) {
    for f in fields {
        if let FieldKind::Container(children) = f.kind {
            let name = type_name(parent, f);
            let _ = writeln!(out);
            let _ = writeln!(out, "// {}", f.description);
            message(out, &name, children);
            nested(out, &name, children);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_container_and_a_typed_error_for_unknown_paths() {
        let text = proto_of(SensorPath::OpenconfigInterfaces);
        for line in [
            "package openconfig_interfaces.interfaces.interface;",
            "message interface_KEYS {",
            "    interface_state state = 51;",
            "    interface_state_counters counters = 55;",
            "message interface_state_counters {",
            "    uint64 in_octets = 50;",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let e = generate_proto("openconfig-interfaces:interfaces").unwrap_err();
        assert_eq!(e.path, "openconfig-interfaces:interfaces");
    }
}
