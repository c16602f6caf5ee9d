//! gNMI path text ⇄ [`Path`], prefix joining and wildcard matching.
//!
//! Text syntax (gNMI path conventions):
//!
//! - Absolute paths only: `/interfaces/interface[name=Ethernet1/1]/state`.
//!   `/` alone is the root (a path with no elements).
//! - An optional origin prefix `origin:/…` (`openconfig:/interfaces`). Text
//!   before the first `:` is the origin only when it comes before the first
//!   `/` and contains no `[`; an empty origin (`:/a`) is rejected.
//! - The text is split on `/` only outside `[...]`, so key values may contain
//!   `/`. Element names are taken literally (they may contain `:` for module
//!   prefixes, but not `/`, `[` or `]`).
//! - Keys are `[name=value]`, several per element (`[a=1][b=2]`), each name at
//!   most once. The key name ends at the first `=`; the value may contain `=`.
//!   In a value `\]`, `\[`, `\\` and `\/` stand for `]`, `[`, `\` and `/`; any
//!   other backslash is kept literally.
//! - `*` (one level) and `...` (any depth) are accepted as element names and
//!   `*` as a key value; see [`matches()`].
//!
//! The path text carries no target: [`parse_path`] never sets
//! [`Path::target`] and [`format_path`] ignores it.
//!
//! Limits: a path has at most [`MAX_PATH_ELEMS`] elements, an element at most
//! [`MAX_KEYS_PER_ELEM`] keys, names (element, key, origin) at most
//! [`MAX_NAME_BYTES`] bytes and key values at most [`MAX_KEY_VALUE_BYTES`] bytes.
//! [`parse_path`] enforces them on text, [`check_limits`] on a [`Path`] received as a
//! message. Errors quote at most [`QUOTE_LIMIT`](crate::QUOTE_LIMIT) bytes of the input.

use thiserror::Error;

use crate::excerpt::Excerpt;
use crate::proto::gnmi::{Path, PathElem};

/// Most elements in one path (`Path.elem`); a request's prefix and each of its paths
/// are limited separately.
pub const MAX_PATH_ELEMS: usize = 64;
/// Most keys on one path element.
pub const MAX_KEYS_PER_ELEM: usize = 8;
/// Longest element name, key name or origin, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest key value, in bytes.
pub const MAX_KEY_VALUE_BYTES: usize = 1024;

/// Element name that matches exactly one element of any name.
const ANY_ONE: &str = "*";
/// Element name that matches any number of elements, zero included.
const ANY_DEPTH: &str = "...";

/// Why a path text was rejected; every variant names the byte offset and the text (at
/// most [`QUOTE_LIMIT`](crate::QUOTE_LIMIT) bytes of it).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path (after any origin) does not start with `/`.
    #[error("path must be absolute (start with '/') at byte {pos} in {path}")]
    Relative {
        /// Byte offset where `/` was expected.
        pos: usize,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// The text before `:` is empty (`:/a`).
    #[error("empty origin before ':' at byte {pos} in {path}")]
    EmptyOrigin {
        /// Byte offset of the `:`.
        pos: usize,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// An element name is empty (`//`, a trailing `/`, or `/[k=v]`).
    #[error("empty path element at byte {pos} in {path}")]
    EmptyElement {
        /// Byte offset where the element should start.
        pos: usize,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// A `[` has no closing `]`.
    #[error("unterminated '[' at byte {pos} in {path}")]
    UnterminatedKey {
        /// Byte offset of the `[`.
        pos: usize,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// A key (`[name]`) has no `=`.
    #[error("key {key} has no '=' at byte {pos} in {path}")]
    KeyWithoutEquals {
        /// Byte offset of the `[`.
        pos: usize,
        /// The text between `[` and `]`.
        key: Excerpt,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// A key name is empty (`[=v]`).
    #[error("empty key name at byte {pos} in {path}")]
    EmptyKeyName {
        /// Byte offset of the `[`.
        pos: usize,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// The same key name appears twice on one element.
    #[error("duplicate key {key} at byte {pos} in {path}")]
    DuplicateKey {
        /// Byte offset of the second `[`.
        pos: usize,
        /// The repeated key name.
        key: Excerpt,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// Something other than `[`, `/` or the end follows a `]`.
    #[error(
        "unexpected character {found:?} after ']' at byte {pos} in {path} \
         (expected '[', '/' or end of path)"
    )]
    UnexpectedAfterKey {
        /// Byte offset of the unexpected character.
        pos: usize,
        /// The unexpected character.
        found: char,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// A `]` appears in an element name without a matching `[`.
    #[error("']' without matching '[' at byte {pos} in {path}")]
    StrayBracket {
        /// Byte offset of the `]`.
        pos: usize,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
    /// The path is over one of the path limits.
    #[error("{exceeded} at byte {pos} in {path}")]
    Limit {
        /// Byte offset of the element, key or origin over the limit.
        pos: usize,
        /// Which limit, and by how much.
        exceeded: PathLimitError,
        /// The rejected path text (an excerpt of a long one).
        path: Excerpt,
    },
}

/// A path over one of the path limits ([`MAX_PATH_ELEMS`] and the others); each
/// variant carries the limit and the actual number. Element indexes count from 0.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathLimitError {
    /// More than [`MAX_PATH_ELEMS`] elements.
    #[error("path has {actual} elements; the limit is {limit} elements per path")]
    TooManyElems {
        /// Elements in the path.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// More than [`MAX_KEYS_PER_ELEM`] keys on one element.
    #[error("elem[{elem}] has {actual} keys; the limit is {limit} keys per element")]
    TooManyKeys {
        /// Index of the element.
        elem: usize,
        /// Keys on it (as far as counted).
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// An element name longer than [`MAX_NAME_BYTES`].
    #[error("the name of elem[{elem}] is {actual} bytes; the limit is {limit} bytes per name")]
    ElemNameTooLong {
        /// Index of the element.
        elem: usize,
        /// Length of its name in bytes.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// A key name longer than [`MAX_NAME_BYTES`].
    #[error("a key name of elem[{elem}] is {actual} bytes; the limit is {limit} bytes per name")]
    KeyNameTooLong {
        /// Index of the element.
        elem: usize,
        /// Length of the key name in bytes.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// A key value longer than [`MAX_KEY_VALUE_BYTES`].
    #[error(
        "the value of key {key} of elem[{elem}] is {actual} bytes; \
         the limit is {limit} bytes per key value"
    )]
    KeyValueTooLong {
        /// Index of the element.
        elem: usize,
        /// The key's name.
        key: Excerpt,
        /// Length of the value in bytes.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// An origin longer than [`MAX_NAME_BYTES`].
    #[error("the origin is {actual} bytes; the limit is {limit} bytes per name")]
    OriginTooLong {
        /// Length of the origin in bytes.
        actual: usize,
        /// The limit.
        limit: usize,
    },
}

/// Checks a [`Path`] received as a message against the path limits (what
/// [`parse_path`] enforces on text); the target is not checked.
pub fn check_limits(path: &Path) -> Result<(), PathLimitError> {
    check_origin(&path.origin)?;
    if path.elem.len() > MAX_PATH_ELEMS {
        return Err(PathLimitError::TooManyElems {
            actual: path.elem.len(),
            limit: MAX_PATH_ELEMS,
        });
    }
    for (index, elem) in path.elem.iter().enumerate() {
        check_elem_name(index, &elem.name)?;
        if elem.key.len() > MAX_KEYS_PER_ELEM {
            return Err(PathLimitError::TooManyKeys {
                elem: index,
                actual: elem.key.len(),
                limit: MAX_KEYS_PER_ELEM,
            });
        }
        for (name, value) in &elem.key {
            check_key(index, name, value)?;
        }
    }
    Ok(())
}

fn check_origin(origin: &str) -> Result<(), PathLimitError> {
    if origin.len() > MAX_NAME_BYTES {
        return Err(PathLimitError::OriginTooLong {
            actual: origin.len(),
            limit: MAX_NAME_BYTES,
        });
    }
    Ok(())
}

fn check_elem_name(elem: usize, name: &str) -> Result<(), PathLimitError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(PathLimitError::ElemNameTooLong {
            elem,
            actual: name.len(),
            limit: MAX_NAME_BYTES,
        });
    }
    Ok(())
}

fn check_key(elem: usize, name: &str, value: &str) -> Result<(), PathLimitError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(PathLimitError::KeyNameTooLong {
            elem,
            actual: name.len(),
            limit: MAX_NAME_BYTES,
        });
    }
    if value.len() > MAX_KEY_VALUE_BYTES {
        return Err(PathLimitError::KeyValueTooLong {
            elem,
            key: Excerpt::new(name),
            actual: value.len(),
            limit: MAX_KEY_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Parses gNMI path text such as `openconfig:/interfaces/interface[name=Ethernet1/1]/state`,
/// enforcing the path limits ([`MAX_PATH_ELEMS`] and the others).
pub fn parse_path(text: &str) -> Result<Path, PathError> {
    Parser::new(text).parse()
}

/// Formats a [`Path`] as text: the inverse of [`parse_path`] (keys sorted, target omitted).
pub fn format_path(path: &Path) -> String {
    let mut out = String::new();
    if !path.origin.is_empty() {
        out.push_str(&path.origin);
        out.push(':');
    }
    if path.elem.is_empty() {
        out.push('/');
    }
    for elem in &path.elem {
        out.push('/');
        out.push_str(&elem.name);
        let mut keys: Vec<(&String, &String)> = elem.key.iter().collect();
        keys.sort_unstable();
        for (name, value) in keys {
            out.push('[');
            out.push_str(name);
            out.push('=');
            for ch in value.chars() {
                if ch == ']' || ch == '\\' {
                    out.push('\\');
                }
                out.push(ch);
            }
            out.push(']');
        }
    }
    out
}

/// Prepends `prefix`'s elements to `path`'s; origin from `path` unless empty, target from `prefix` unless empty.
pub fn join(prefix: Option<&Path>, path: &Path) -> Path {
    let Some(prefix) = prefix else {
        return Path {
            origin: path.origin.clone(),
            elem: path.elem.clone(),
            target: path.target.clone(),
            ..Default::default()
        };
    };
    let pick = |own: &String, fallback: &String| {
        if own.is_empty() {
            fallback.clone()
        } else {
            own.clone()
        }
    };
    let mut elem = Vec::with_capacity(prefix.elem.len() + path.elem.len());
    elem.extend_from_slice(&prefix.elem);
    elem.extend_from_slice(&path.elem);
    Path {
        origin: pick(&path.origin, &prefix.origin),
        elem,
        target: pick(&prefix.target, &path.target),
        ..Default::default()
    }
}

/// Whether `concrete`'s elements match `pattern`'s (`*` one level, `...` any depth, key `*` or absent = any).
///
/// The whole of `concrete` must be matched: to match a subtree, end the
/// pattern with `...`. Origin and target are not compared. Only the last `...` is
/// ever retried, so the cost is at most O(pattern × concrete) elements (both at most
/// [`MAX_PATH_ELEMS`] for paths that passed the limits).
pub fn matches(pattern: &Path, concrete: &Path) -> bool {
    let (pat, con) = (&pattern.elem, &concrete.elem);
    let (mut p, mut c) = (0, 0);
    // Position of the last `...` seen in the pattern and the concrete index it was tried at.
    let mut backtrack: Option<(usize, usize)> = None;
    while c < con.len() {
        if p < pat.len() && pat[p].name == ANY_DEPTH {
            backtrack = Some((p, c));
            p += 1;
        } else if p < pat.len() && elem_matches(&pat[p], &con[c]) {
            p += 1;
            c += 1;
        } else if let Some((bp, bc)) = backtrack {
            // Let the last `...` swallow one more concrete element and retry.
            backtrack = Some((bp, bc + 1));
            p = bp + 1;
            c = bc + 1;
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|e| e.name == ANY_DEPTH)
}

/// Whether one pattern element (not `...`) matches one concrete element.
fn elem_matches(pattern: &PathElem, concrete: &PathElem) -> bool {
    if pattern.name != ANY_ONE && pattern.name != concrete.name {
        return false;
    }
    pattern.key.iter().all(|(name, want)| {
        want == ANY_ONE || concrete.key.get(name).is_some_and(|have| have == want)
    })
}

/// Single-pass scanner over the path text; all offsets are byte offsets into `text`.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn parse(mut self) -> Result<Path, PathError> {
        let origin = self.origin()?;
        if self.peek() != Some(b'/') {
            return Err(PathError::Relative {
                pos: self.pos,
                path: self.owned(),
            });
        }
        self.pos += 1;
        let mut elem = Vec::new();
        if self.pos == self.bytes.len() {
            return Ok(Path {
                origin,
                elem,
                ..Default::default()
            });
        }
        // Elements past the limit are parsed (for syntax) and counted, but not kept.
        let mut count = 0;
        let mut over_at = None;
        loop {
            let start = self.pos;
            let parsed = self.element(count)?;
            count += 1;
            if count <= MAX_PATH_ELEMS {
                elem.push(parsed);
            } else if over_at.is_none() {
                over_at = Some(start);
            }
            match self.peek() {
                None => break,
                Some(b'/') => self.pos += 1,
                Some(_) => {
                    return Err(PathError::UnexpectedAfterKey {
                        pos: self.pos,
                        found: self.text[self.pos..].chars().next().unwrap_or('?'),
                        path: self.owned(),
                    });
                }
            }
        }
        if let Some(pos) = over_at {
            return Err(self.limit(
                pos,
                PathLimitError::TooManyElems {
                    actual: count,
                    limit: MAX_PATH_ELEMS,
                },
            ));
        }
        Ok(Path {
            origin,
            elem,
            ..Default::default()
        })
    }

    /// Consumes `origin:` if present and returns the origin ("" when absent).
    fn origin(&mut self) -> Result<String, PathError> {
        let Some(colon) = self.text.find(':') else {
            return Ok(String::new());
        };
        let before = &self.text[..colon];
        if before.contains('/') || before.contains('[') {
            return Ok(String::new());
        }
        if before.is_empty() {
            return Err(PathError::EmptyOrigin {
                pos: colon,
                path: self.owned(),
            });
        }
        check_origin(before).map_err(|e| self.limit(0, e))?;
        self.pos = colon + 1;
        Ok(before.to_owned())
    }

    /// Parses element number `index`: a name followed by any number of `[k=v]` keys.
    fn element(&mut self, index: usize) -> Result<PathElem, PathError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'/' | b'[' => break,
                b']' => {
                    return Err(PathError::StrayBracket {
                        pos: self.pos,
                        path: self.owned(),
                    });
                }
                _ => self.pos += 1,
            }
        }
        if self.pos == start {
            return Err(PathError::EmptyElement {
                pos: start,
                path: self.owned(),
            });
        }
        let name = &self.text[start..self.pos];
        check_elem_name(index, name).map_err(|e| self.limit(start, e))?;
        let mut elem = PathElem {
            name: name.to_owned(),
            key: Default::default(),
        };
        while self.peek() == Some(b'[') {
            let open = self.pos;
            if elem.key.len() == MAX_KEYS_PER_ELEM {
                let exceeded = PathLimitError::TooManyKeys {
                    elem: index,
                    actual: elem.key.len() + 1,
                    limit: MAX_KEYS_PER_ELEM,
                };
                return Err(self.limit(open, exceeded));
            }
            let (k, v) = self.key()?;
            check_key(index, &k, &v).map_err(|e| self.limit(open, e))?;
            if elem.key.contains_key(&k) {
                return Err(PathError::DuplicateKey {
                    pos: open,
                    key: Excerpt::new(&k),
                    path: self.owned(),
                });
            }
            elem.key.insert(k, v);
        }
        Ok(elem)
    }

    /// Parses `[name=value]` starting at the `[`.
    fn key(&mut self) -> Result<(String, String), PathError> {
        let open = self.pos;
        self.pos += 1;
        let name_start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.unterminated(open)),
                Some(b'=') => break,
                Some(b']') => {
                    return Err(PathError::KeyWithoutEquals {
                        pos: open,
                        key: Excerpt::new(&self.text[name_start..self.pos]),
                        path: self.owned(),
                    });
                }
                Some(_) => self.pos += 1,
            }
        }
        if self.pos == name_start {
            return Err(PathError::EmptyKeyName {
                pos: open,
                path: self.owned(),
            });
        }
        let name = self.text[name_start..self.pos].to_owned();
        self.pos += 1; // '='
        let mut value = String::new();
        let mut run = self.pos; // start of the not-yet-copied literal run
        loop {
            match self.peek() {
                None => return Err(self.unterminated(open)),
                Some(b']') => {
                    value.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Ok((name, value));
                }
                Some(b'\\') => match self.bytes.get(self.pos + 1) {
                    Some(&esc @ (b']' | b'[' | b'\\' | b'/')) => {
                        value.push_str(&self.text[run..self.pos]);
                        value.push(char::from(esc));
                        self.pos += 2;
                        run = self.pos;
                    }
                    // Not an escape: the backslash stays part of the value.
                    _ => self.pos += 1,
                },
                Some(_) => self.pos += 1,
            }
        }
    }

    fn unterminated(&self, open: usize) -> PathError {
        PathError::UnterminatedKey {
            pos: open,
            path: self.owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The excerpt of the text errors carry.
    fn owned(&self) -> Excerpt {
        Excerpt::new(self.text)
    }

    fn limit(&self, pos: usize, exceeded: PathLimitError) -> PathError {
        PathError::Limit {
            pos,
            exceeded,
            path: self.owned(),
        }
    }
}

#[cfg(test)]
mod tests;
