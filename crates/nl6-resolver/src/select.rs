//! Compiling gNMI paths into a [`Selection`]: which leaves of which interfaces.

use nl6_gnmi::Excerpt;
use nl6_gnmi::proto::gnmi::{Path, PathElem};
use nl6_ifstate::{DeviceModel, InterfaceNames};
use nl6_model::{LeafClass, MAX_LEAVES, Subtrees};

use crate::error::ResolveError;
use crate::leaf::{Leaf, LeafSet};

/// The leaves a set of paths selects: per interface (index 0 = ifindex 1), and per entry
/// of the device's other subtrees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    masks: Box<[LeafSet]>,
    extras: Vec<ExtraPick>,
}

/// The leaves selected on one entry of one of a device's other subtrees.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExtraPick {
    /// Index of the subtree in the device's [`Subtrees`].
    pub subtree: u16,
    /// The entry.
    pub entry: u32,
    /// One bit per leaf of the subtree's schema.
    pub leaves: u64,
    /// The subtree's sampled leaves (bits).
    sampled: u64,
    /// The subtree's on-change leaves (bits).
    on_change: u64,
}

/// What paths are compiled against: a device's interface names and its other subtrees.
#[derive(Copy, Clone, Debug)]
pub struct Schema<'a> {
    /// The interface names.
    pub names: &'a InterfaceNames,
    /// The other subtrees, if the device has any.
    pub subtrees: Option<&'a Subtrees>,
}

impl<'a> Schema<'a> {
    /// Everything `device` serves.
    pub fn of(device: &'a DeviceModel) -> Schema<'a> {
        Schema {
            names: device.names(),
            subtrees: device.subtrees().map(|s| &**s),
        }
    }
}

impl<'a> From<&'a InterfaceNames> for Schema<'a> {
    /// Interfaces only.
    fn from(names: &'a InterfaceNames) -> Schema<'a> {
        Schema {
            names,
            subtrees: None,
        }
    }
}

impl<'a> From<&'a std::sync::Arc<InterfaceNames>> for Schema<'a> {
    /// Interfaces only.
    fn from(names: &'a std::sync::Arc<InterfaceNames>) -> Schema<'a> {
        Schema::from(&**names)
    }
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
            extras: Vec::new(),
        }
    }

    /// Every leaf of every interface.
    pub fn all(interfaces: usize) -> Selection {
        Selection {
            masks: vec![LeafSet::ALL; interfaces].into_boxed_slice(),
            extras: Vec::new(),
        }
    }

    /// Compiles `prefix` + each of `paths` against what a device serves: its interface
    /// names (`&InterfaceNames`) or everything ([`Schema::of`] a device).
    ///
    /// Errors follow the gNMI specification: an unknown origin, path, interface or list
    /// entry is NotFound; an empty key value or a path over a path limit is
    /// InvalidArgument.
    pub fn compile<'a>(
        prefix: Option<&Path>,
        paths: &[Path],
        schema: impl Into<Schema<'a>>,
    ) -> Result<Selection, ResolveError> {
        let schema = schema.into();
        let mut selection = Selection::empty(schema.names.len());
        for path in paths {
            selection = selection.union(&Selection::compile_one(prefix, path, schema)?);
        }
        Ok(selection)
    }

    /// Compiles one `prefix` + `path` pair.
    ///
    /// Both are first checked against the path limits ([`nl6_gnmi::check_limits`]);
    /// matching is linear in the path length, whatever its wildcards.
    pub fn compile_one<'a>(
        prefix: Option<&Path>,
        path: &Path,
        schema: impl Into<Schema<'a>>,
    ) -> Result<Selection, ResolveError> {
        let schema = schema.into();
        let names = schema.names;
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
            if matcher.matches(&schema[..len], Some(1)) {
                leaves.insert(leaf);
            }
        }
        let mut selection = Selection::empty(names.len());
        if let Some(subtrees) = schema.subtrees {
            selection.extras = compile_extras(&mut matcher, &full.elem, subtrees, &text)?;
        }
        if leaves.is_empty() {
            if selection.extras.is_empty() {
                return Err(ResolveError::NoSuchPath { path: text() });
            }
            return Ok(selection);
        }
        match interface_key(&full.elem) {
            IfKey::Any => selection.masks.iter_mut().for_each(|m| *m = leaves),
            IfKey::Named("") => return Err(ResolveError::EmptyInterfaceName { path: text() }),
            IfKey::Named(name) => match names.index_of(name) {
                Some(idx) => selection.masks[idx] = leaves,
                None if !selection.extras.is_empty() => {}
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
        let mut extras: Vec<ExtraPick> = self.extras.iter().chain(&other.extras).copied().collect();
        extras.sort_unstable();
        extras.dedup_by(|later, kept| {
            let same = (later.subtree, later.entry) == (kept.subtree, kept.entry);
            if same {
                kept.leaves |= later.leaves;
            }
            same
        });
        Selection { masks, extras }
    }

    /// The selection restricted to `allowed` leaves on every interface; the leaves of
    /// the other subtrees are kept when their class is one `allowed` has a leaf of
    /// (a counter stands for every sampled leaf).
    pub fn restrict(&self, allowed: LeafSet) -> Selection {
        self.restrict_with(allowed, |pick, leaf| {
            let class_set = match pick.class(leaf) {
                LeafClass::Static => LeafSet::STATIC,
                LeafClass::OnChange => LeafSet::ON_CHANGE,
                LeafClass::Sampled => LeafSet::COUNTERS,
            };
            !allowed.intersect(class_set).is_empty()
        })
    }

    /// The selection restricted to `allowed` interface leaves and to the other
    /// subtrees' leaves `keep(schema, leaf)` accepts.
    fn restrict_with(
        &self,
        allowed: LeafSet,
        keep: impl Fn(&ExtraPick, usize) -> bool,
    ) -> Selection {
        let masks = self.masks.iter().map(|m| m.intersect(allowed)).collect();
        let extras = self
            .extras
            .iter()
            .filter_map(|pick| {
                let mut leaves = pick.leaves;
                for bit in 0..MAX_LEAVES {
                    if leaves & (1 << bit) != 0 && !keep(pick, bit) {
                        leaves &= !(1 << bit);
                    }
                }
                (leaves != 0).then_some(ExtraPick { leaves, ..*pick })
            })
            .collect();
        Selection { masks, extras }
    }

    /// The picks on the device's other subtrees, ordered by subtree and entry.
    pub fn extras(&self) -> &[ExtraPick] {
        &self.extras
    }

    /// Whether the selection has leaves of the other subtrees, and whether all of them
    /// are sampled-only.
    pub fn extras_only_sampled(&self) -> bool {
        !self.extras.is_empty() && self.extras.iter().all(|p| p.leaves & p.sampled == p.leaves)
    }

    /// Union of the leaves selected on any interface.
    pub fn leaf_union(&self) -> LeafSet {
        self.masks
            .iter()
            .fold(LeafSet::EMPTY, |acc, m| acc.union(*m))
    }

    /// Whether nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.masks.iter().all(|m| m.is_empty()) && self.extras.is_empty()
    }

    /// Total number of (entry, leaf) pairs selected, interfaces and other subtrees.
    pub fn leaf_count(&self) -> usize {
        self.masks.iter().map(|m| m.len()).sum::<usize>()
            + self
                .extras
                .iter()
                .map(|p| p.leaves.count_ones() as usize)
                .sum::<usize>()
    }
}

impl ExtraPick {
    /// The class of leaf `leaf` (a bit of [`ExtraPick::leaves`]).
    pub fn class(&self, leaf: usize) -> LeafClass {
        if self.sampled & (1 << leaf) != 0 {
            LeafClass::Sampled
        } else if self.on_change & (1 << leaf) != 0 {
            LeafClass::OnChange
        } else {
            LeafClass::Static
        }
    }
}

/// The picks `pattern` makes on the subtrees: per subtree, the leaves whose schema path
/// it matches, on the entries its key selects.
fn compile_extras(
    matcher: &mut Matcher<'_>,
    pattern: &[PathElem],
    subtrees: &Subtrees,
    text: &dyn Fn() -> Excerpt,
) -> Result<Vec<ExtraPick>, ResolveError> {
    let mut picks = Vec::new();
    let mut full: Vec<&str> = Vec::with_capacity(16);
    // Key values the pattern asks for (`*` asks for none): the depth of the element
    // they sit on (unknown after a `...`), the key name and the value.
    let mut wanted: Vec<(Option<usize>, &str, &str)> = Vec::new();
    let mut aligned = true;
    for (depth, elem) in pattern.iter().enumerate() {
        if elem.name == ANY_DEPTH {
            aligned = false;
            continue;
        }
        for (k, v) in &elem.key {
            if v != ANY_ONE {
                wanted.push((aligned.then_some(depth), k.as_str(), v.as_str()));
            }
        }
    }
    for (index, subtree) in subtrees.items().iter().enumerate() {
        let schema = subtree.schema();
        let parents = if subtree.entry_count() > 0 {
            subtree.parent_keys(0)
        } else {
            &[]
        };
        // Keys may sit on the entry's own list and on the lists above it.
        let mut keyed: u64 = schema.key.map_or(0, |_| 1 << (schema.list.len() - 1));
        for parent in parents {
            keyed |= 1 << parent.depth;
        }
        let (mut leaves, mut sampled, mut on_change) = (0u64, 0u64, 0u64);
        for (bit, leaf) in schema.leaves.iter().enumerate().take(MAX_LEAVES) {
            full.clear();
            full.extend(schema.list.iter().chain(leaf.path));
            if matcher.matches_keyed(&full, keyed) {
                leaves |= 1 << bit;
            }
            match leaf.class {
                LeafClass::Sampled => sampled |= 1 << bit,
                LeafClass::OnChange => on_change |= 1 << bit,
                LeafClass::Static => {}
            }
        }
        if leaves == 0 {
            continue;
        }
        let pick = |entry: usize| ExtraPick {
            subtree: index as u16,
            entry: entry as u32,
            leaves,
            sampled,
            on_change,
        };
        // Per key of this subtree (its parents', then its own): the list it is on, its
        // name, and the value the pattern asks for on that list (by depth; by name alone
        // after a `...`).
        let own = schema.key.map(|key| (schema.list.len() - 1, key));
        let named = parents.iter().map(|p| (p.depth, p.name)).chain(own);
        let mut asked = Vec::new();
        for (depth, key) in named {
            let list = schema.list[depth];
            let found = wanted
                .iter()
                .find(|&&(d, k, _)| k == key && d.is_none_or(|d| d == depth));
            if let Some(&(_, _, value)) = found {
                if value.is_empty() {
                    return Err(ResolveError::EmptyKey {
                        list,
                        key,
                        path: text(),
                    });
                }
                asked.push((list, depth, key, value));
            }
        }
        let own_depth = schema.list.len() - 1;
        let key_of = |entry: usize, depth: usize, key: &str| -> Option<&str> {
            if depth == own_depth && schema.key == Some(key) {
                return Some(subtree.key(entry));
            }
            subtree
                .parent_keys(entry)
                .iter()
                .find(|p| p.depth == depth && p.name == key)
                .map(|p| p.value.as_str())
        };
        let has = |e: usize, &(_, d, k, v): &(&str, usize, &str, &str)| key_of(e, d, k) == Some(v);
        let before = picks.len();
        picks.extend(
            (0..subtree.entry_count())
                .filter(|&e| asked.iter().all(|a| has(e, a)))
                .map(pick),
        );
        if picks.len() == before && subtree.entry_count() > 0 {
            // Name the first key whose value no entry has.
            if let Some(&(list, _, key, value)) = asked
                .iter()
                .find(|a| !(0..subtree.entry_count()).any(|e| has(e, a)))
            {
                return Err(ResolveError::NoSuchEntry {
                    list,
                    key,
                    value: Excerpt::new(value),
                    path: text(),
                });
            }
        }
    }
    Ok(picks)
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

    /// Whether the pattern matches a prefix of `schema`, whose only list (the only
    /// element keys may sit on) is at `keyed_depth`.
    fn matches(&mut self, schema: &[&str], keyed_depth: Option<usize>) -> bool {
        self.matches_keyed(schema, keyed_depth.map_or(0, |d| 1 << d))
    }

    /// Whether the pattern matches a prefix of `schema`, whose lists (the elements keys
    /// may sit on) are at the depths of the bits of `keyed`.
    fn matches_keyed(&mut self, schema: &[&str], keyed: u64) -> bool {
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
                } else if elem_matches(elem, name, depth < 64 && keyed & (1 << depth) != 0) {
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

/// Whether one pattern element (not `...`) matches the schema element `name`; keys
/// are only allowed on a list element.
fn elem_matches(elem: &PathElem, name: &str, is_list: bool) -> bool {
    (elem.name == ANY_ONE || elem.name == name) && (is_list || elem.key.is_empty())
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
                Leaf::all().filter(|l| matcher.matches(&schema_of(*l).0[..schema_of(*l).1], Some(1))).collect();
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
