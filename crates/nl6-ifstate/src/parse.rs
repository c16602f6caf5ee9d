//! The shared error for parsing the crate's enums from text.

/// A string did not name a value of an enum; names the bad value and the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: expected one of {}", valid.join(", "))]
pub struct ParseEnumError {
    /// What was being parsed ("link status", "error scenario", ...).
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
    /// The accepted spellings.
    pub valid: &'static [&'static str],
}

impl ParseEnumError {
    pub(crate) fn new(kind: &'static str, value: &str, valid: &'static [&'static str]) -> Self {
        Self {
            kind,
            value: value.to_owned(),
            valid,
        }
    }
}

/// Finds `s` (case-insensitively, `-` and `_` equivalent) among `names`; returns its index.
pub(crate) fn lookup(s: &str, names: &[&str]) -> Option<usize> {
    let s = s.trim();
    names.iter().position(|n| {
        n.len() == s.len()
            && n.bytes().zip(s.bytes()).all(|(a, b)| {
                let norm = |c: u8| {
                    if c == b'-' {
                        b'_'
                    } else {
                        c.to_ascii_uppercase()
                    }
                };
                norm(a) == norm(b)
            })
    })
}
