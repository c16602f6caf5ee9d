//! How a device groups the values of one sample into notifications.

use std::fmt;
use std::str::FromStr;

/// How a device's telemetry groups values into notifications, as a vendor does.
///
/// Encoders act on it; the values themselves are the same in every shape.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum NotificationShape {
    /// One notification per sample, every value with its absolute path.
    #[default]
    Flat,
    /// One notification per list entry: the entry's path as the prefix, the values'
    /// paths relative to it.
    Prefixed,
    /// [`NotificationShape::Prefixed`] plus Juniper's telemetry header on every
    /// notification, as Junos streams it.
    Junos,
}

/// The accepted spellings, in [`NotificationShape`] order.
const NAMES: [&str; 3] = ["flat", "prefixed", "junos"];

impl NotificationShape {
    /// Every shape.
    pub const ALL: [NotificationShape; 3] = [
        NotificationShape::Flat,
        NotificationShape::Prefixed,
        NotificationShape::Junos,
    ];

    /// The name used in profile files (`flat`, `prefixed`, `junos`).
    pub fn as_str(self) -> &'static str {
        NAMES[self as usize]
    }

    /// Whether values are grouped per list entry under a prefix.
    pub fn per_entry(self) -> bool {
        self != NotificationShape::Flat
    }
}

impl fmt::Display for NotificationShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no [`NotificationShape`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseShapeError(pub String);

impl fmt::Display for ParseShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a notification shape; use {}",
            self.0,
            NAMES.join(", ")
        )
    }
}

impl std::error::Error for ParseShapeError {}

impl FromStr for NotificationShape {
    type Err = ParseShapeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NotificationShape::ALL
            .into_iter()
            .find(|shape| shape.as_str() == s)
            .ok_or_else(|| ParseShapeError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for shape in NotificationShape::ALL {
            assert_eq!(shape.as_str().parse::<NotificationShape>(), Ok(shape));
        }
        assert_eq!(NotificationShape::default(), NotificationShape::Flat);
        let err = "Junos".parse::<NotificationShape>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"Junos\" is not a notification shape; use flat, prefixed, junos"
        );
    }
}
