//! Device host names: derived from the address by default, or from a batch's
//! `hostname` pattern.

use std::net::Ipv4Addr;

use crate::error::FleetError;

/// The longest host name (RFC 1123).
const MAX_HOSTNAME: usize = 253;

/// The host name of device `n` (1-based, in creation order) of a batch at `ip`.
///
/// Without a pattern: [`nl6_dialout::default_hostname`] (`nl6-127-42-0-1`). A pattern
/// replaces `{n}` with `n` and `{ip}` with the address in dashes (`127-42-0-1`); a
/// pattern with neither is a prefix followed by `n` (`leaf` → `leaf1`, `leaf2`, ...).
pub fn hostname_for(pattern: Option<&str>, ip: Ipv4Addr, n: u32) -> String {
    let Some(pattern) = pattern.filter(|p| !p.is_empty()) else {
        return nl6_dialout::default_hostname(ip);
    };
    if !pattern.contains("{n}") && !pattern.contains("{ip}") {
        return format!("{pattern}{n}");
    }
    let [a, b, c, d] = ip.octets();
    pattern
        .replace("{n}", &n.to_string())
        .replace("{ip}", &format!("{a}-{b}-{c}-{d}"))
}

/// Checks that `pattern` gives valid host names for a batch of `count` devices from
/// `first`; the error names the `hostname` field.
pub fn check_pattern(pattern: &str, first: Ipv4Addr, count: u32) -> Result<(), FleetError> {
    // The longest address text, with the largest index.
    let probe = Ipv4Addr::BROADCAST;
    for (ip, n) in [(first, 1), (probe, count.max(1))] {
        let name = hostname_for(Some(pattern), ip, n);
        if let Err(reason) = check_name(&name) {
            return Err(FleetError::invalid(
                "hostname",
                format!(
                    "{pattern:?} gives {name:?}, which is not a host name: {reason} (use letters, digits, '-' and '.', with {{n}} and {{ip}} as placeholders)"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `name` is an RFC 1123 host name.
fn check_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_HOSTNAME {
        return Err(format!("longer than {MAX_HOSTNAME} characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("every dot-separated part must have 1 to 63 characters".to_string());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "{label:?} has a character other than a letter, digit or '-'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("{label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_prefixes_and_the_default() {
        let ip = Ipv4Addr::new(127, 42, 0, 7);
        assert_eq!(hostname_for(None, ip, 3), "nl6-127-42-0-7");
        assert_eq!(hostname_for(Some(""), ip, 3), "nl6-127-42-0-7");
        assert_eq!(hostname_for(Some("leaf"), ip, 3), "leaf3");
        assert_eq!(hostname_for(Some("sr-{n}.lab"), ip, 12), "sr-12.lab");
        assert_eq!(hostname_for(Some("r{ip}"), ip, 1), "r127-42-0-7");
        assert!(check_pattern("leaf-{n}", ip, 100).is_ok());
        for bad in ["-x{n}", "a b", "a..{n}", "x_{n}", &"a".repeat(70)] {
            let e = check_pattern(bad, ip, 10).unwrap_err().to_string();
            assert!(e.starts_with("invalid hostname: "), "{bad}: {e}");
        }
    }
}
