//! Interned interface name lists ("Ethernet1".."EthernetN"), one per interface count.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

const PREFIX: &str = "Ethernet";

/// The interface names of a device with N interfaces; shared by every device with that N.
#[derive(Debug)]
pub struct InterfaceNames {
    /// All names concatenated.
    text: String,
    /// `ends[i]` is the end offset of name i in `text` (start is `ends[i-1]` or 0).
    ends: Box<[u32]>,
}

impl InterfaceNames {
    /// The shared list for `n` interfaces (Ethernet1..EthernetN); the same `Arc` for equal `n`.
    ///
    /// Lists stay interned for the life of the process (at most one per distinct `n`).
    pub fn for_count(n: u32) -> Arc<InterfaceNames> {
        static TABLE: OnceLock<Mutex<HashMap<u32, Arc<InterfaceNames>>>> = OnceLock::new();
        let table = TABLE.get_or_init(Default::default);
        table
            .lock()
            .entry(n)
            .or_insert_with(|| Arc::new(Self::build(n)))
            .clone()
    }

    fn build(n: u32) -> Self {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(n as usize);
        for i in 1..=n {
            text.push_str(PREFIX);
            text.push_str(&i.to_string());
            ends.push(text.len() as u32);
        }
        Self {
            text,
            ends: ends.into_boxed_slice(),
        }
    }

    /// Number of interfaces.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the list is empty (never for a valid device).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Name of the interface at 0-based `idx` ("Ethernet{idx+1}"); "" when out of range.
    pub fn name(&self, idx: usize) -> &str {
        match self.ends.get(idx) {
            Some(&end) => {
                let start = if idx == 0 { 0 } else { self.ends[idx - 1] };
                &self.text[start as usize..end as usize]
            }
            None => "",
        }
    }

    /// 0-based index of `name`, if it is one of these interfaces (exact, case-sensitive).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        let digits = name.strip_prefix(PREFIX)?;
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let n: usize = digits.parse().ok()?;
        (1..=self.len()).contains(&n).then(|| n - 1)
    }

    /// The names in ifindex order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(move |i| self.name(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_and_indexed() {
        let a = InterfaceNames::for_count(12);
        let b = InterfaceNames::for_count(12);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &InterfaceNames::for_count(13)));
        assert_eq!(a.len(), 12);
        assert_eq!(a.name(0), "Ethernet1");
        assert_eq!(a.name(11), "Ethernet12");
        assert_eq!(a.name(12), "");
        for (i, n) in a.iter().enumerate() {
            assert_eq!(a.index_of(n), Some(i));
        }
        for bad in [
            "Ethernet0",
            "Ethernet13",
            "Ethernet01",
            "ethernet1",
            "Ethernet",
            "Ethernet1/1",
            "Ethernet+1",
        ] {
            assert_eq!(a.index_of(bad), None, "{bad}");
        }
        assert_eq!(a.iter().count(), 12);
    }
}
