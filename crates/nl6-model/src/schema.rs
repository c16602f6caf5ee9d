//! Subtree schemas: the list path, its key, and the leaves with type and class.

/// Most leaves one subtree may declare (the resolver keeps one bit per leaf).
pub const MAX_LEAVES: usize = 64;

/// How a leaf behaves over time, which decides what ON_CHANGE may subscribe to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LeafClass {
    /// Never changes while the device runs (names, serial numbers).
    Static,
    /// Changes on events (an oper-status, a session state).
    OnChange,
    /// Changes continuously (counters, temperatures, utilisation): only ever sampled.
    Sampled,
}

/// The YANG type of a leaf, which decides how its value is encoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LeafType {
    /// `string`.
    String,
    /// An enumeration or identityref, sent as its name.
    Enum,
    /// `boolean`.
    Bool,
    /// `uint8` … `uint32`: JSON numbers in every encoding.
    Uint32,
    /// `uint64`: a string in JSON_IETF (RFC 7951), a number otherwise.
    Uint64,
    /// `int8` … `int32`.
    Int32,
    /// `int64`: a string in JSON_IETF.
    Int64,
    /// `decimal64` with this many fraction digits: a string in JSON_IETF, a double in
    /// PROTO (`double_val`, as gNMI 0.10 asks instead of the deprecated `decimal_val`).
    Decimal64 {
        /// Fraction digits of the YANG type.
        fraction_digits: u8,
    },
    /// `leaf-list` of strings.
    StringList,
}

/// One leaf below a subtree entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LeafSchema {
    /// Path below the entry, e.g. `["state", "temperature", "instant"]`.
    pub path: &'static [&'static str],
    /// Its type.
    pub ty: LeafType,
    /// Its class.
    pub class: LeafClass,
}

/// A YANG model a device advertises in Capabilities.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// Module name, e.g. `openconfig-platform`.
    pub name: &'static str,
    /// Organisation.
    pub organization: &'static str,
    /// Revision served.
    pub version: &'static str,
}

/// A subtree: a YANG list (or container) and the leaves of each entry.
#[derive(Debug, PartialEq, Eq)]
pub struct SubtreeSchema {
    /// The module its top element belongs to (JSON_IETF qualifies the top element with
    /// it), e.g. `openconfig-platform`.
    pub module: &'static str,
    /// Path from the root to the entries, e.g. `["components", "component"]`; for a
    /// container, the container itself (e.g. `["system", "state"]`).
    pub list: &'static [&'static str],
    /// The list's key name (`name`, `index`), or `None` for a container.
    pub key: Option<&'static str>,
    /// The leaves below each entry, in the order updates are sent.
    pub leaves: &'static [LeafSchema],
}

impl SubtreeSchema {
    /// The index of the leaf at `path` below an entry.
    pub fn leaf_index(&self, path: &[&str]) -> Option<usize> {
        self.leaves.iter().position(|l| l.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static S: SubtreeSchema = SubtreeSchema {
        module: "m",
        list: &["a", "b"],
        key: Some("name"),
        leaves: &[
            LeafSchema {
                path: &["state", "x"],
                ty: LeafType::Bool,
                class: LeafClass::Static,
            },
            LeafSchema {
                path: &["state", "y", "z"],
                ty: LeafType::Int64,
                class: LeafClass::Sampled,
            },
        ],
    };

    #[test]
    fn leaves_are_found_by_their_path() {
        assert_eq!(S.leaf_index(&["state", "y", "z"]), Some(1));
        assert_eq!(S.leaf_index(&["state", "y"]), None);
    }
}
