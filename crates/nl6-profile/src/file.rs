//! The profile file format and its errors (file, line, field).

use std::fmt;

use nl6_ifstate::InterfaceNaming;
use nl6_model::NotificationShape;
use nl6_platform::Inventory;
use serde::Deserialize;

/// Why a profile file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    /// The file (or the name a built-in or embedded text was given).
    pub file: String,
    /// The 1-based line, when the error has one.
    pub line: Option<usize>,
    /// The field, dotted (`inventory.fans`); empty for the file as a whole.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl ProfileError {
    pub(crate) fn file(file: &str, reason: String) -> ProfileError {
        ProfileError {
            file: file.to_string(),
            line: None,
            field: String::new(),
            reason,
        }
    }

    pub(crate) fn at(file: &str, line: Option<usize>, field: &str, reason: String) -> Self {
        ProfileError {
            file: file.to_string(),
            line,
            field: field.to_string(),
            reason,
        }
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    interfaces: InterfacesSection,
    inventory: Option<InventorySection>,
    #[serde(default)]
    telemetry: TelemetrySection,
    lldp: Option<LldpSection>,
    bgp: Option<BgpSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BgpSection {
    neighbors: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LldpSection {
    enabled: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TelemetrySection {
    notification_shape: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InterfacesSection {
    naming: Option<String>,
    #[serde(default)]
    subinterfaces: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventorySection {
    manufacturer: String,
    chassis_part: String,
    #[serde(default)]
    linecards: u32,
    #[serde(default)]
    fans: u32,
    #[serde(default)]
    power_supplies: u32,
    cpus: u32,
    memory_gib: u32,
}

/// A checked profile.
pub(crate) struct Parsed {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) naming: InterfaceNaming,
    pub(crate) inventory: Option<Inventory>,
    pub(crate) shape: NotificationShape,
    pub(crate) lldp: bool,
    pub(crate) bgp_neighbors: u32,
    pub(crate) subinterfaces: u32,
}

/// Most bytes of one profile file.
const MAX_FILE_BYTES: usize = 64 * 1024;

/// Parses and checks one file.
pub(crate) fn parse(file: &str, text: &str) -> Result<Parsed, ProfileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ProfileError::file(
            file,
            format!(
                "{} bytes is more than the {MAX_FILE_BYTES} allowed",
                text.len()
            ),
        ));
    }
    let raw: ProfileFile = toml::from_str(text).map_err(|e| syntax_error(file, text, &e))?;
    let name_ok = !raw.name.is_empty()
        && raw.name.len() <= 64
        && raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(ProfileError::at(
            file,
            line_of(text, None, "name"),
            "name",
            format!(
                "{:?} is not a profile name: 1 to 64 of a-z, 0-9 and -",
                raw.name
            ),
        ));
    }
    let naming = match raw.interfaces.naming.as_deref() {
        None => InterfaceNaming::default(),
        Some(text_value) => text_value
            .parse()
            .map_err(|e: nl6_ifstate::ParseEnumError| {
                ProfileError::at(
                    file,
                    line_of(text, Some("interfaces"), "naming"),
                    "interfaces.naming",
                    e.to_string(),
                )
            })?,
    };
    let subinterfaces = raw.interfaces.subinterfaces;
    if subinterfaces > nl6_ifstate::MAX_SUBINTERFACES {
        return Err(ProfileError::at(
            file,
            line_of(text, Some("interfaces"), "subinterfaces"),
            "interfaces.subinterfaces",
            format!(
                "{subinterfaces} is more than the {} subinterfaces per interface allowed",
                nl6_ifstate::MAX_SUBINTERFACES
            ),
        ));
    }
    let shape = match raw.telemetry.notification_shape.as_deref() {
        None => NotificationShape::default(),
        Some(value) => value.parse().map_err(|e: nl6_model::ParseShapeError| {
            ProfileError::at(
                file,
                line_of(text, Some("telemetry"), "notification_shape"),
                "telemetry.notification_shape",
                e.to_string(),
            )
        })?,
    };
    let inventory = match raw.inventory {
        None => None,
        Some(inv) => {
            let inventory = Inventory {
                manufacturer: inv.manufacturer,
                chassis_part: inv.chassis_part,
                linecards: inv.linecards,
                fans: inv.fans,
                power_supplies: inv.power_supplies,
                transceivers: 0,
                cpus: inv.cpus,
                memory_bytes: u64::from(inv.memory_gib) << 30,
            };
            if inv.memory_gib > 1 << 20 {
                return Err(ProfileError::at(
                    file,
                    line_of(text, Some("inventory"), "memory_gib"),
                    "inventory.memory_gib",
                    format!("{} is more than the {} allowed", inv.memory_gib, 1 << 20),
                ));
            }
            inventory.validate().map_err(|e| {
                let key = if e.field == "memory_bytes" {
                    "memory_gib"
                } else {
                    e.field
                };
                ProfileError::at(
                    file,
                    line_of(text, Some("inventory"), key),
                    &format!("inventory.{key}"),
                    e.reason,
                )
            })?;
            Some(inventory)
        }
    };
    let bgp_neighbors = match raw.bgp {
        None => 0,
        Some(bgp) if (1..=nl6_bgp::MAX_NEIGHBORS).contains(&bgp.neighbors) => bgp.neighbors,
        Some(bgp) => {
            return Err(ProfileError::at(
                file,
                line_of(text, Some("bgp"), "neighbors"),
                "bgp.neighbors",
                format!(
                    "{} is not in 1..={} (leave [bgp] out for no BGP)",
                    bgp.neighbors,
                    nl6_bgp::MAX_NEIGHBORS
                ),
            ));
        }
    };
    Ok(Parsed {
        name: raw.name,
        description: raw.description,
        naming,
        inventory,
        shape,
        lldp: raw.lldp.is_some_and(|l| l.enabled),
        bgp_neighbors,
        subinterfaces,
    })
}

/// A TOML or schema error from the parser, with its line and the field it is about.
fn syntax_error(file: &str, text: &str, e: &toml::de::Error) -> ProfileError {
    let line = e
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let field = line.and_then(|l| field_at(text, l)).unwrap_or_default();
    ProfileError::at(file, line, &field, e.message().to_string())
}

/// The dotted field a `key = value` line sets (its section's name, then the key).
fn field_at(text: &str, line: usize) -> Option<String> {
    let mut section = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = name.trim().to_string();
        }
        if i + 1 == line {
            let key = l.split('=').next()?.trim();
            if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
                return (!section.is_empty()).then_some(section);
            }
            return Some(if section.is_empty() {
                key.to_string()
            } else {
                format!("{section}.{key}")
            });
        }
    }
    None
}

/// The 1-based line that sets `key` in `section` (`None` = top level).
pub(crate) fn line_of(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            continue;
        }
        let here = l.split('=').next().map(str::trim);
        if current.as_deref() == section && here == Some(key) && l.contains('=') {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ProfileError {
        parse("p.toml", text).err().expect("refused")
    }

    #[test]
    fn every_builtin_parses() {
        for (file, text) in crate::BUILTIN {
            let parsed = parse(file, text).unwrap();
            assert_eq!(format!("{}.toml", parsed.name), file);
        }
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = err(
            "name = \"a\"\n[inventory]\nmanufacturer = \"m\"\nchassis_part = \"c\"\ncpus = 0\nmemory_gib = 4\n",
        );
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(5), "inventory.cpus"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with("p.toml:5: inventory.cpus: "),
            "{e}"
        );

        let e = err("name = \"a\"\ncolour = \"red\"\n");
        assert_eq!((e.line, e.field.as_str()), (Some(2), "colour"), "{e}");
        assert!(e.reason.contains("unknown field"), "{e}");

        let e = err("name = \"a\"\n[interfaces]\nnaming = \"cisco\"\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(3), "interfaces.naming"),
            "{e}"
        );
        assert!(e.reason.contains("arista"), "{e}");

        let e = err("name = \"a\"\n[telemetry]\nnotification_shape = \"nested\"\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(3), "telemetry.notification_shape"),
            "{e}"
        );
        assert!(e.reason.contains("flat, prefixed, junos"), "{e}");

        let e = err("name = \"Not OK\"\n");
        assert_eq!((e.line, e.field.as_str()), (Some(1), "name"), "{e}");

        let e = err("name = \"a\"\n[inventory]\nmanufacturer = \"m\"\n");
        assert!(e.reason.contains("missing field"), "{e}");

        let e = err("name = \"a\"\nthis is not toml\n");
        assert_eq!(e.line, Some(2), "{e}");

        let e = err("name = \"a\"\n[bgp]\nneighbors = 0\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(3), "bgp.neighbors"),
            "{e}"
        );
        assert!(e.reason.contains("1..=1024"), "{e}");

        let e = err("name = \"a\"\n[lldp]\nenabled = \"yes\"\n");
        assert_eq!((e.line, e.field.as_str()), (Some(3), "lldp.enabled"), "{e}");
    }

    #[test]
    fn lldp_is_served_only_when_enabled() {
        let lldp = |text: &str| parse("p.toml", text).unwrap().lldp;
        assert!(!lldp("name = \"a\"\n"));
        assert!(!lldp("name = \"a\"\n[lldp]\nenabled = false\n"));
        assert!(lldp("name = \"a\"\n[lldp]\nenabled = true\n"));
        let builtin = |name: &str| {
            let (file, text) = crate::BUILTIN
                .iter()
                .find(|(f, _)| *f == format!("{name}.toml"))
                .unwrap();
            parse(file, text).unwrap().lldp
        };
        assert!(!builtin("generic"));
        assert!(builtin("juniper-mx") && builtin("arista-eos") && builtin("sonic"));
    }

    #[test]
    fn bgp_neighbors_are_declared_per_profile() {
        let bgp = |text: &str| parse("p.toml", text).unwrap().bgp_neighbors;
        assert_eq!(bgp("name = \"a\"\n"), 0);
        assert_eq!(bgp("name = \"a\"\n[bgp]\nneighbors = 1024\n"), 1024);
        let e = err("name = \"a\"\n[bgp]\nneighbors = 1025\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(3), "bgp.neighbors"),
            "{e}"
        );
        let e = err("name = \"a\"\n[bgp]\npeers = 2\n");
        assert_eq!((e.line, e.field.as_str()), (Some(3), "bgp.peers"), "{e}");
    }

    #[test]
    fn subinterfaces_are_declared_per_profile() {
        let subs = |text: &str| parse("p.toml", text).unwrap().subinterfaces;
        assert_eq!(subs("name = \"a\"\n"), 0);
        assert_eq!(subs("name = \"a\"\n[interfaces]\nsubinterfaces = 64\n"), 64);
        let e = err("name = \"a\"\n[interfaces]\nnaming = \"junos\"\nsubinterfaces = 65\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(4), "interfaces.subinterfaces"),
            "{e}"
        );
        assert!(e.reason.contains("64"), "{e}");
        let e = err("name = \"a\"\n[interfaces]\nsubinterfaces = -1\n");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(3), "interfaces.subinterfaces"),
            "{e}"
        );
        let e = err("name = \"a\"\n[bgp]\npeers = 2\n");
        assert_eq!((e.line, e.field.as_str()), (Some(3), "bgp.peers"), "{e}");
    }
}
