//! Bounded quoting of request input in error messages.
//!
//! An error that echoes what a client sent must not grow with it: a 1.8 MB path quoted
//! whole makes a `grpc-message` header that clients refuse (they then report
//! RESOURCE_EXHAUSTED instead of the real error). [`quote_truncated`] and [`Excerpt`]
//! quote at most [`QUOTE_LIMIT`] bytes and say how long the input was.

use std::fmt;

/// Most bytes of request input an error message quotes (escapes included).
pub const QUOTE_LIMIT: usize = 200;

/// Debug-quotes `text` (`"…"`, escapes as in `{:?}`) using at most `max` bytes inside
/// the quotes; a longer text is cut on a character boundary and followed by
/// `… (N bytes)`, N being the length of the whole text.
///
/// ```
/// use nl6_gnmi::quote_truncated;
/// assert_eq!(quote_truncated("/a//b", 200), r#""/a//b""#);
/// assert_eq!(quote_truncated("/aaaaaaaa", 4), r#""/aaa"… (9 bytes)"#);
/// ```
pub fn quote_truncated(text: &str, max: usize) -> String {
    Excerpt::with_limit(text, max).to_string()
}

/// A bounded copy of rejected input, for error values: the first bytes of the text (at
/// most [`QUOTE_LIMIT`] once escaped) and its full length. Displays as
/// [`quote_truncated`] does.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Excerpt {
    head: String,
    len: usize,
}

impl Excerpt {
    /// The excerpt of `text` that fits [`QUOTE_LIMIT`].
    pub fn new(text: &str) -> Excerpt {
        Excerpt::with_limit(text, QUOTE_LIMIT)
    }

    /// The excerpt of `text` whose escaped form fits `max` bytes.
    pub fn with_limit(text: &str, max: usize) -> Excerpt {
        let mut escaped = 0;
        let mut cut = text.len();
        for (at, ch) in text.char_indices() {
            // An escape is ASCII (one byte per char); an unescaped char is itself.
            let escape = ch.escape_debug().len();
            escaped += if escape > 1 { escape } else { ch.len_utf8() };
            if escaped > max {
                cut = at;
                break;
            }
        }
        Excerpt {
            head: text[..cut].to_string(),
            len: text.len(),
        }
    }

    /// The quoted part of the text (all of it unless [`Excerpt::is_truncated`]).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Length in bytes of the whole text.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the whole text was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the text was longer than what is kept.
    pub fn is_truncated(&self) -> bool {
        self.head.len() < self.len
    }
}

impl From<&str> for Excerpt {
    fn from(text: &str) -> Excerpt {
        Excerpt::new(text)
    }
}

impl From<&String> for Excerpt {
    fn from(text: &String) -> Excerpt {
        Excerpt::new(text)
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.head)?;
        if self.is_truncated() {
            write!(f, "… ({} bytes)", self.len)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_like_debug() {
        for text in ["", "/a//b", "tab\there", "quote\"d", "ünï"] {
            assert_eq!(quote_truncated(text, QUOTE_LIMIT), format!("{text:?}"));
            assert!(!Excerpt::new(text).is_truncated());
        }
    }

    #[test]
    fn long_text_is_cut_and_names_its_length() {
        let text = "x".repeat(1_800_000);
        let quoted = quote_truncated(&text, QUOTE_LIMIT);
        assert_eq!(
            quoted,
            format!("\"{}\"… (1800000 bytes)", "x".repeat(QUOTE_LIMIT))
        );
        let excerpt = Excerpt::new(&text);
        assert!(excerpt.is_truncated());
        assert_eq!(excerpt.len(), 1_800_000);
        assert_eq!(excerpt.head().len(), QUOTE_LIMIT);
    }

    #[test]
    fn escapes_count_towards_the_limit_and_cuts_keep_characters_whole() {
        // Each control character escapes to 6 bytes (`\u{1}`).
        let control = "\u{1}".repeat(1000);
        let quoted = quote_truncated(&control, 200);
        assert!(quoted.len() < 200 + 40, "{}", quoted.len());
        // Multi-byte characters are never split.
        let wide = "ü".repeat(300);
        let excerpt = Excerpt::with_limit(&wide, 201);
        assert_eq!(excerpt.head().chars().count(), 100);
        assert!(excerpt.to_string().ends_with("… (600 bytes)"));
    }
}
