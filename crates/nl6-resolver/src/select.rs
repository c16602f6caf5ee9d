//! Compiling gNMI paths into a [`Selection`]: which leaves of which interfaces.

use nl6_gnmi::Excerpt;
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

/// Element name that matches one element of any name.
const ANY_ONE: &str = "*";
/// Element name that matches any number of elements, zero included.
const ANY_DEPTH: &str = "...";

/// Which interfaces a match applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IfKey<'a> {
    Any,
    Named(&'a str),
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
    /// is NotFound; an empty interface name or a path over a path limit is
    /// InvalidArgument.
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
    ///
    /// Both are first checked against the path limits ([`nl6_gnmi::check_limits`]);
    /// matching is linear in the path length, whatever its wildcards.
    pub fn compile_one(
        prefix: Option<&Path>,
        path: &Path,
        names: &InterfaceNames,
    ) -> Result<Selection, ResolveError> {
        if let Some(prefix) = prefix {
            nl6_gnmi::check_limits(prefix).map_err(|exceeded| ResolveError::PathLimit {
                part: "prefix",
                exceeded,
            })?;
        }
        nl6_gnmi::check_limits(path).map_err(|exceeded| ResolveError::PathLimit {
            part: "path",
            exceeded,
        })?;
        let full = nl6_gnmi::path::join(prefix, path);
        let text = || Excerpt::new(&nl6_gnmi::format_path(&full));
        let prefix_origin = prefix.map(|p| p.origin.as_str()).unwrap_or("");
        if !prefix_origin.is_empty() && !path.origin.is_empty() && prefix_origin != path.origin {
            return Err(ResolveError::OriginInBoth {
                prefix: Excerpt::new(prefix_origin),
                path: Excerpt::new(&path.origin),
            });
        }
        if !matches!(full.origin.as_str(), "" | "openconfig") {
            return Err(ResolveError::UnknownOrigin {
                origin: Excerpt::new(&full.origin),
                path: text(),
            });
        }
        let mut matcher = Matcher::new(&full.elem);
        let mut leaves = LeafSet::EMPTY;
        for leaf in Leaf::all() {
            let (schema, len) = schema_of(leaf);
            if matcher.matches(&schema[..len]) {
                leaves.insert(leaf);
            }
        }
        if leaves.is_empty() {
            return Err(ResolveError::NoSuchPath { path: text() });
        }
        let mut selection = Selection::empty(names.len());
        match interface_key(&full.elem) {
            IfKey::Any => selection.masks.iter_mut().for_each(|m| *m = leaves),
            IfKey::Named("") => return Err(ResolveError::EmptyInterfaceName { path: text() }),
            IfKey::Named(name) => match names.index_of(name) {
                Some(idx) => selection.masks[idx] = leaves,
                None => {
                    return Err(ResolveError::NoSuchInterface {
                        name: Excerpt::new(name),
                        path: text(),
                    });
                }
            },
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

/// Which interfaces a matching pattern selects.
///
/// Only the `interface` list (schema depth 1) has a key, and an element with keys
/// matches nothing at any other depth, so in every match the one keyed element (other
/// than `...`, whose keys are ignored) sits on the list: its `name` key decides. With
/// two keyed elements nothing matches; with none, or no `name` key, or `name=*`, every
/// interface is selected.
fn interface_key(pattern: &[PathElem]) -> IfKey<'_> {
    let keyed = pattern
        .iter()
        .find(|e| e.name != ANY_DEPTH && !e.key.is_empty());
    match keyed.and_then(|e| e.key.get("name")).map(String::as_str) {
        None | Some(ANY_ONE) => IfKey::Any,
        Some(name) => IfKey::Named(name),
    }
}

/// Matches a pattern against a prefix of a schema path (a path ending at a container
/// selects every leaf below it): an NFA over pattern positions, advanced one schema
/// element at a time. O(pattern length × schema depth) per call, no backtracking, so a
/// pattern of many `...` costs no more than any other of its length.
struct Matcher<'a> {
    pattern: &'a [PathElem],
    /// `active[p]`: the first `p` pattern elements match the schema elements consumed.
    active: Vec<bool>,
    next: Vec<bool>,
}

impl<'a> Matcher<'a> {
    fn new(pattern: &'a [PathElem]) -> Matcher<'a> {
        Matcher {
            pattern,
            active: vec![false; pattern.len() + 1],
            next: vec![false; pattern.len() + 1],
        }
    }

    /// Whether the pattern matches a prefix of `schema`.
    fn matches(&mut self, schema: &[&str]) -> bool {
        let end = self.pattern.len();
        self.active.fill(false);
        self.active[0] = true;
        self.skip_any_depth_active();
        for (depth, name) in schema.iter().enumerate() {
            if self.active[end] {
                // The pattern ended at a container above this leaf.
                return true;
            }
            self.next.fill(false);
            let mut alive = false;
            for (p, elem) in self.pattern.iter().enumerate() {
                if !self.active[p] {
                    continue;
                }
                if elem.name == ANY_DEPTH {
                    self.next[p] = true;
                    alive = true;
                } else if elem_matches(elem, name, depth) {
                    self.next[p + 1] = true;
                    alive = true;
                }
            }
            if !alive {
                return false;
            }
            std::mem::swap(&mut self.active, &mut self.next);
            self.skip_any_depth_active();
        }
        self.active[end]
    }

    /// A `...` may match no element: whoever reaches it also reaches the next position.
    fn skip_any_depth_active(&mut self) {
        for (p, elem) in self.pattern.iter().enumerate() {
            if self.active[p] && elem.name == ANY_DEPTH {
                self.active[p + 1] = true;
            }
        }
    }
}

/// Whether one pattern element (not `...`) matches the schema element `name` at
/// `depth`; keys are only allowed on the `interface` list (depth 1).
fn elem_matches(elem: &PathElem, name: &str, depth: usize) -> bool {
    (elem.name == ANY_ONE || elem.name == name) && (depth == 1 || elem.key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_gnmi::parse_path;
    use proptest::prelude::*;

    /// The matcher this module had before the NFA: a recursion that tries every way a
    /// `...` can align (exponential in the number of `...`), kept as the reference the
    /// NFA must agree with.
    fn reference_match(
        pattern: &[PathElem],
        schema: &[&str],
        depth: usize,
        keys: &mut Vec<Option<String>>,
    ) -> bool {
        let Some((first, rest)) = pattern.split_first() else {
            if !keys.contains(&None) {
                keys.push(None);
            }
            return true;
        };
        if first.name == "..." {
            let mut any = false;
            for skip in 0..=schema.len() {
                any |= reference_match(rest, &schema[skip..], depth + skip, keys);
            }
            return any;
        }
        let Some((head, tail)) = schema.split_first() else {
            return false;
        };
        if first.name != "*" && first.name != *head {
            return false;
        }
        let is_list = depth == 1;
        if !is_list && !first.key.is_empty() {
            return false;
        }
        let mut inner = Vec::new();
        if !reference_match(rest, tail, depth + 1, &mut inner) {
            return false;
        }
        let found = if is_list {
            vec![match first.key.get("name").map(String::as_str) {
                None | Some("*") => None,
                Some(name) => Some(name.to_string()),
            }]
        } else {
            inner
        };
        for key in found {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        true
    }

    /// What the reference says `pattern` selects: per leaf, the interface keys.
    fn reference(pattern: &[PathElem]) -> Vec<(Leaf, Vec<Option<String>>)> {
        Leaf::all()
            .filter_map(|leaf| {
                let (schema, len) = schema_of(leaf);
                let mut keys = Vec::new();
                reference_match(pattern, &schema[..len], 0, &mut keys).then_some((leaf, keys))
            })
            .collect()
    }

    fn pattern_elem() -> impl Strategy<Value = PathElem> {
        let name = prop::sample::select(vec![
            "...",
            "...",
            "*",
            "interfaces",
            "interface",
            "state",
            "counters",
            "in-octets",
            "oper-status",
            "name",
            "other",
        ]);
        let key = prop::option::weighted(
            0.25,
            (
                prop::sample::select(vec!["name", "unit"]),
                prop::sample::select(vec!["*", "Ethernet1", "Ethernet3", ""]),
            ),
        );
        (name, key).prop_map(|(name, key)| PathElem {
            name: name.to_string(),
            key: key
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The NFA selects exactly what the backtracking reference selects.
        #[test]
        fn nfa_agrees_with_the_backtracking_reference(
            elems in prop::collection::vec(pattern_elem(), 0..9)
        ) {
            let names = InterfaceNames::for_count(4);
            let expected = reference(&elems);
            let mut matcher = Matcher::new(&elems);
            let matched: Vec<Leaf> =
                Leaf::all().filter(|l| matcher.matches(&schema_of(*l).0[..schema_of(*l).1])).collect();
            let reference_leaves: Vec<Leaf> = expected.iter().map(|(l, _)| *l).collect();
            prop_assert_eq!(&matched, &reference_leaves);
            let path = Path { elem: elems.clone(), ..Default::default() };
            let compiled = Selection::compile_one(None, &path, &names);
            if expected.is_empty() {
                prop_assert!(matches!(compiled, Err(ResolveError::NoSuchPath { .. })), "{:?}", compiled);
                return Ok(());
            }
            // Every match of a pattern agrees on its interface key (see `interface_key`).
            let keys: Vec<&Option<String>> = expected.iter().flat_map(|(_, k)| k).collect();
            prop_assert!(keys.iter().all(|k| *k == keys[0]), "{:?}", keys);
            match (keys[0], compiled) {
                (None, Ok(sel)) => {
                    for (leaf, _) in &expected {
                        prop_assert!((0..4).all(|i| sel.leaves(i).contains(*leaf)));
                    }
                    prop_assert_eq!(sel.leaf_count(), 4 * expected.len());
                }
                (Some(name), Ok(sel)) => {
                    let idx = names.index_of(name).unwrap();
                    prop_assert_eq!(sel.leaves(idx).len(), expected.len());
                    prop_assert_eq!(sel.leaf_count(), expected.len());
                }
                (Some(name), Err(ResolveError::EmptyInterfaceName { .. })) => {
                    prop_assert!(name.is_empty())
                }
                (Some(name), Err(ResolveError::NoSuchInterface { .. })) => {
                    prop_assert!(names.index_of(name).is_none())
                }
                (key, other) => prop_assert!(false, "{:?} for key {:?}", other, key),
            }
        }
    }

    fn dots(n: usize) -> Path {
        Path {
            elem: vec![
                PathElem {
                    name: "...".to_string(),
                    key: Default::default(),
                };
                n
            ],
            ..Default::default()
        }
    }

    #[test]
    fn vendor_interface_names_with_slashes_select_their_interface() {
        let names = InterfaceNames::for_style(nl6_ifstate::InterfaceNaming::Xr, 40);
        let path =
            parse_path("/interfaces/interface[name=HundredGigE0/1/0/2]/state/oper-status").unwrap();
        let selection = Selection::compile(None, &[path], &names).unwrap();
        assert_eq!(selection.leaf_count(), 1);
        let idx = names.index_of("HundredGigE0/1/0/2").unwrap();
        assert_eq!(idx, 38);
        assert!(!selection.masks()[idx].is_empty());
    }

    #[test]
    fn many_any_depth_elements_up_to_the_limit_select_everything() {
        // The backtracking matcher took ~5 s for this path (see the resolver bench).
        let names = InterfaceNames::for_count(4);
        let all = Selection::compile_one(None, &dots(nl6_gnmi::path::MAX_PATH_ELEMS), &names);
        assert_eq!(all.unwrap(), Selection::all(4));
        let mut tail = dots(nl6_gnmi::path::MAX_PATH_ELEMS - 1);
        tail.elem.push(PathElem {
            name: "in-octets".into(),
            key: Default::default(),
        });
        let one = Selection::compile_one(None, &tail, &names).unwrap();
        assert_eq!(one.leaf_count(), 4);
        assert!((0..4).all(|i| {
            one.leaves(i)
                .contains(Leaf::Counter(nl6_ifstate::Counter::InOctets))
        }));
    }

    #[test]
    fn paths_over_the_limits_are_invalid_argument_naming_the_limit() {
        let names = InterfaceNames::for_count(4);
        let err = Selection::compile_one(None, &dots(10_000), &names).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            err.to_string(),
            "path has 10000 elements; the limit is 64 elements per path (in the request path)"
        );
        let ok = parse_path("/state").unwrap();
        let err = Selection::compile_one(Some(&dots(65)), &ok, &names).unwrap_err();
        assert!(
            matches!(err, ResolveError::PathLimit { part: "prefix", .. }),
            "{err}"
        );
    }

    #[test]
    fn errors_quote_at_most_a_bounded_excerpt() {
        let names = InterfaceNames::for_count(4);
        // Within every limit, yet its text is ~600 KB.
        let value = "v".repeat(nl6_gnmi::path::MAX_KEY_VALUE_BYTES);
        let keys = (0..8).map(|i| (format!("k{i}"), value.clone())).collect();
        let big = Path {
            elem: vec![
                PathElem {
                    name: "x".repeat(nl6_gnmi::path::MAX_NAME_BYTES),
                    key: keys,
                };
                nl6_gnmi::path::MAX_PATH_ELEMS
            ],
            ..Default::default()
        };
        let err = Selection::compile_one(None, &big, &names).unwrap_err();
        assert!(matches!(err, ResolveError::NoSuchPath { .. }), "{err}");
        let message = err.to_string();
        assert!(message.len() < 1024, "{} bytes", message.len());
        let named = parse_path(&format!("/interfaces/interface[name={value}]")).unwrap();
        let message = Selection::compile_one(None, &named, &names)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("no interface named \"vvv"), "{message}");
        assert!(message.len() < 1024, "{} bytes", message.len());
    }

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
