//! Leaf values before encoding.

use std::fmt;

/// A decimal64 value: `digits · 10^-fraction_digits`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// The scaled integer.
    pub digits: i64,
    /// Digits after the point (1..=18).
    pub fraction_digits: u8,
}

impl Decimal {
    /// The value as the nearest f64.
    pub fn to_f64(self) -> f64 {
        self.digits as f64 / 10f64.powi(i32::from(self.fraction_digits))
    }
}

impl fmt::Display for Decimal {
    /// The canonical YANG text: every fraction digit written, e.g. `41.5` with one digit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u64.pow(u32::from(self.fraction_digits));
        let abs = self.digits.unsigned_abs();
        let sign = if self.digits < 0 { "-" } else { "" };
        if self.fraction_digits == 0 {
            return write!(f, "{sign}{abs}");
        }
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = usize::from(self.fraction_digits)
        )
    }
}

/// One leaf's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `string`.
    Str(String),
    /// An enumeration or identityref name.
    Enum(&'static str),
    /// `boolean`.
    Bool(bool),
    /// An unsigned integer (uint8 … uint64).
    Uint(u64),
    /// A signed integer (int8 … int64).
    Int(i64),
    /// `decimal64`.
    Decimal(Decimal),
    /// A `leaf-list` of strings.
    List(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_every_fraction_digit() {
        let d = |digits, fraction_digits| Decimal {
            digits,
            fraction_digits,
        };
        assert_eq!(d(415, 1).to_string(), "41.5");
        assert_eq!(d(-5, 2).to_string(), "-0.05");
        assert_eq!(d(4000, 1).to_string(), "400.0");
        assert_eq!(d(7, 0).to_string(), "7");
        assert!((d(415, 1).to_f64() - 41.5).abs() < 1e-12);
    }
}
