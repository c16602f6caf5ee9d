//! Compiling gNMI paths into a [`Selection`]: which leaves of which interfaces.

use nl6_gnmi::proto::gnmi::{Path, PathElem};
use nl6_ifstate::InterfaceNames;

use crate::error::ResolveError;
use crate::leaf::{Leaf, LeafSet};

/// The leaves a set of paths selects, per interface (index 0 = ifindex 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    masks: Box<[LeafSet]>,
}

/// Schema elements of a leaf below the root: `interfaces`, `interface`, `state`,
/// optionally `counters`, then the leaf.
fn schema_of(leaf: Leaf) -> ([&'static str; 5], usize) {
    match leaf {
        Leaf::Counter(c) => (
            ["interfaces", "interface", "state", "counters", c.name()],
            5,
        ),
        other => (["interfaces", "interface", "state", other.name(), ""], 4),
    }
}

/// Which interfaces one match applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum IfKey {
    Any,
    Named(String),
}

impl Selection {
    /// A selection of nothing for a device with `interfaces` interfaces.
    pub fn empty(interfaces: usize) -> Selection {
        Selection {
            masks: vec![LeafSet::EMPTY; interfaces].into_boxed_slice(),
        }
    }

    /// Every leaf of every interface.
    pub fn all(interfaces: usize) -> Selection {
        Selection {
            masks: vec![LeafSet::ALL; interfaces].into_boxed_slice(),
        }
    }

    /// Compiles `prefix` + each of `paths` against a device's interfaces.
    ///
    /// Errors follow the gNMI specification: an unknown origin, path or interface
    /// is NotFound; an empty interface name is InvalidArgument.
    pub fn compile(
        prefix: Option<&Path>,
        paths: &[Path],
        names: &InterfaceNames,
    ) -> Result<Selection, ResolveError> {
        let mut selection = Selection::empty(names.len());
        for path in paths {
            selection = selection.union(&Selection::compile_one(prefix, path, names)?);
        }
        Ok(selection)
    }

    /// Compiles one `prefix` + `path` pair.
    pub fn compile_one(
        prefix: Option<&Path>,
        path: &Path,
        names: &InterfaceNames,
    ) -> Result<Selection, ResolveError> {
        let full = nl6_gnmi::path::join(prefix, path);
        let text = || nl6_gnmi::format_path(&full);
        let prefix_origin = prefix.map(|p| p.origin.as_str()).unwrap_or("");
        if !prefix_origin.is_empty() && !path.origin.is_empty() && prefix_origin != path.origin {
            return Err(ResolveError::OriginInBoth {
                prefix: prefix_origin.to_string(),
                path: path.origin.clone(),
            });
        }
        if !matches!(full.origin.as_str(), "" | "openconfig") {
            return Err(ResolveError::UnknownOrigin {
                origin: full.origin.clone(),
                path: text(),
            });
        }
        let mut selection = Selection::empty(names.len());
        let mut matched = false;
        for leaf in Leaf::all() {
            let (schema, len) = schema_of(leaf);
            let mut keys = Vec::new();
            if !match_prefix(&full.elem, &schema[..len], 0, &mut keys) {
                continue;
            }
            matched = true;
            for key in keys {
                match key {
                    IfKey::Any => selection.masks.iter_mut().for_each(|m| m.insert(leaf)),
                    IfKey::Named(name) if name.is_empty() => {
                        return Err(ResolveError::EmptyInterfaceName { path: text() });
                    }
                    IfKey::Named(name) => match names.index_of(&name) {
                        Some(idx) => selection.masks[idx].insert(leaf),
                        None => {
                            return Err(ResolveError::NoSuchInterface { name, path: text() });
                        }
                    },
                }
            }
        }
        if !matched {
            return Err(ResolveError::NoSuchPath { path: text() });
        }
        Ok(selection)
    }

    /// Number of interfaces the selection is sized for.
    pub fn interface_count(&self) -> usize {
        self.masks.len()
    }

    /// The leaves selected on the interface at `idx` (0-based).
    pub fn leaves(&self, idx: usize) -> LeafSet {
        self.masks.get(idx).copied().unwrap_or_default()
    }

    /// Per-interface leaf sets, index 0 = ifindex 1.
    pub fn masks(&self) -> &[LeafSet] {
        &self.masks
    }

    /// Leaves selected by either selection.
    pub fn union(&self, other: &Selection) -> Selection {
        let masks = self
            .masks
            .iter()
            .zip(other.masks.iter())
            .map(|(a, b)| a.union(*b))
            .collect();
        Selection { masks }
    }

    /// The selection restricted to `allowed` leaves on every interface.
    pub fn restrict(&self, allowed: LeafSet) -> Selection {
        let masks = self.masks.iter().map(|m| m.intersect(allowed)).collect();
        Selection { masks }
    }

    /// Union of the leaves selected on any interface.
    pub fn leaf_union(&self) -> LeafSet {
        self.masks
            .iter()
            .fold(LeafSet::EMPTY, |acc, m| acc.union(*m))
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.masks.iter().all(|m| m.is_empty())
    }

    /// Total number of (interface, leaf) pairs selected.
    pub fn leaf_count(&self) -> usize {
        self.masks.iter().map(|m| m.len()).sum()
    }
}

/// Matches `pattern` against a prefix of `schema` (a path ending at a container
/// selects every leaf below it), collecting the `interface` key constraint of each
/// way the pattern can align.
fn match_prefix(
    pattern: &[PathElem],
    schema: &[&str],
    depth: usize,
    keys: &mut Vec<IfKey>,
) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        if !keys.contains(&IfKey::Any) {
            keys.push(IfKey::Any);
        }
        return true;
    };
    if first.name == "..." {
        let mut any = false;
        for skip in 0..=schema.len() {
            any |= match_prefix(rest, &schema[skip..], depth + skip, keys);
        }
        return any;
    }
    let Some((head, tail)) = schema.split_first() else {
        return false;
    };
    if first.name != "*" && first.name != *head {
        return false;
    }
    // Only the `interface` list (schema depth 1) has a key; keys anywhere else never match.
    let is_list = depth == 1;
    if !is_list && !first.key.is_empty() {
        return false;
    }
    let mut inner = Vec::new();
    if !match_prefix(rest, tail, depth + 1, &mut inner) {
        return false;
    }
    if is_list {
        let key = match first.key.get("name").map(String::as_str) {
            None | Some("*") => IfKey::Any,
            Some(name) => IfKey::Named(name.to_string()),
        };
        if !keys.contains(&key) {
            keys.push(key);
        }
    } else {
        for key in inner {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_gnmi::parse_path;

    fn compile(text: &str) -> Result<Selection, ResolveError> {
        let names = InterfaceNames::for_count(4);
        Selection::compile(None, &[parse_path(text).unwrap()], &names)
    }

    #[test]
    fn shapes_select_the_expected_leaves() {
        let all = compile("/interfaces/interface[name=*]").unwrap();
        assert_eq!(all.leaf_count(), 4 * 17);
        assert_eq!(compile("/interfaces/interface").unwrap(), all);
        assert_eq!(compile("/interfaces/interface[name=*]/state").unwrap(), all);
        assert_eq!(compile("/").unwrap(), all);
        assert_eq!(compile("/interfaces").unwrap(), all);
        assert_eq!(compile("/...").unwrap(), all);
        let counters = compile("/interfaces/interface[name=Ethernet2]/state/counters").unwrap();
        assert_eq!(counters.leaves(1), LeafSet::COUNTERS);
        assert_eq!(counters.leaf_count(), 12);
        let one =
            compile("/interfaces/interface[name=Ethernet3]/state/counters/in-octets").unwrap();
        assert_eq!(one.leaf_count(), 1);
        let oper = compile("/interfaces/interface/state/oper-status").unwrap();
        assert_eq!(oper.leaf_count(), 4);
        assert_eq!(
            compile("/interfaces/.../in-octets").unwrap().leaf_count(),
            4
        );
        assert_eq!(
            compile("/interfaces/interface/*/counters")
                .unwrap()
                .leaf_count(),
            48
        );
        assert_eq!(compile("openconfig:/interfaces").unwrap(), all);
    }

    #[test]
    fn errors_carry_the_gnmi_code() {
        let not_found = [
            "/interfaces/interface[name=Ethernet9]",
            "/interfaces/interface/config",
            "/interfaces/interface/state/nonsense",
            "/interfaces/interface/subinterfaces",
            "/system",
            "/interfaces/interface/state/counters/in-octets/deeper",
            "/interfaces[name=x]",
        ];
        for text in not_found {
            assert_eq!(
                compile(text).unwrap_err().code(),
                tonic::Code::NotFound,
                "{text}"
            );
        }
        let err = compile("/interfaces/interface[name=]").unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = compile("eos_native:/interfaces").unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert!(err.to_string().contains("eos_native"));
    }

    #[test]
    fn prefix_elems_are_prepended() {
        let names = InterfaceNames::for_count(2);
        let prefix = parse_path("/interfaces/interface[name=Ethernet1]").unwrap();
        let sel = Selection::compile(
            Some(&prefix),
            &[parse_path("/state/ifindex").unwrap()],
            &names,
        )
        .unwrap();
        assert_eq!(sel.leaves(0), LeafSet::of(Leaf::Ifindex));
        assert!(sel.leaves(1).is_empty());
    }
}
