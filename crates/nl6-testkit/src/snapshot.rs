//! What the host looks like where a namespace set-up makes changes, and what changed.

use std::collections::BTreeSet;

use crate::host::{forward_rules, run, sysctl};

/// The host state a simulator namespace set-up touches; compare two to see what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    /// `net/ipv4/ip_forward`.
    pub ip_forward: String,
    /// `net/ipv4/conf/all/rp_filter`.
    pub all_rp_filter: String,
    /// `iptables -S FORWARD` (if installed) and the nf_tables forward chains.
    pub forward_rules: String,
    /// `ip -4 route show table all`.
    pub routes: String,
    /// `ip -4 rule show`.
    pub policy_rules: String,
    /// Link names (without the `@peer` suffix).
    pub links: BTreeSet<String>,
    /// Names under `/run/netns`.
    pub namespaces: BTreeSet<String>,
}

impl HostSnapshot {
    /// Reads the host state now.
    pub fn take() -> Self {
        let links = run("ip", &["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect();
        let namespaces = std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            ip_forward: sysctl("net/ipv4/ip_forward"),
            all_rp_filter: sysctl("net/ipv4/conf/all/rp_filter"),
            forward_rules: forward_rules(),
            routes: run("ip", &["-4", "route", "show", "table", "all"]),
            policy_rules: run("ip", &["-4", "rule", "show"]),
            links,
            namespaces,
        }
    }

    /// One line per difference from `self` to `later` (`-` gone, `+` new); empty when equal.
    pub fn diff(&self, later: &HostSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        value_diff(&mut out, "ip_forward", &self.ip_forward, &later.ip_forward);
        value_diff(
            &mut out,
            "all_rp_filter",
            &self.all_rp_filter,
            &later.all_rp_filter,
        );
        text_diff(
            &mut out,
            "forward_rules",
            &self.forward_rules,
            &later.forward_rules,
        );
        text_diff(&mut out, "routes", &self.routes, &later.routes);
        text_diff(
            &mut out,
            "policy_rules",
            &self.policy_rules,
            &later.policy_rules,
        );
        set_diff(&mut out, "links", &self.links, &later.links);
        set_diff(&mut out, "namespaces", &self.namespaces, &later.namespaces);
        out
    }

    /// Takes a new snapshot and panics, listing the differences, unless it equals `self`.
    #[track_caller]
    pub fn assert_unchanged(&self, context: &str) {
        let changes = self.diff(&Self::take());
        assert!(
            changes.is_empty(),
            "{context}: the host changed:\n{}",
            changes.join("\n")
        );
    }
}

fn value_diff(out: &mut Vec<String>, field: &str, before: &str, after: &str) {
    if before != after {
        out.push(format!("{field}: {before} -> {after}"));
    }
}

fn text_diff(out: &mut Vec<String>, field: &str, before: &str, after: &str) {
    if before == after {
        return;
    }
    let old: BTreeSet<&str> = before.lines().collect();
    let new: BTreeSet<&str> = after.lines().collect();
    let len = out.len();
    set_diff(out, field, &old, &new);
    if out.len() == len {
        out.push(format!("{field}: same lines, other order or repeats"));
    }
}

fn set_diff<T: Ord + std::fmt::Display>(
    out: &mut Vec<String>,
    field: &str,
    before: &BTreeSet<T>,
    after: &BTreeSet<T>,
) {
    out.extend(before.difference(after).map(|x| format!("{field}: - {x}")));
    out.extend(after.difference(before).map(|x| format!("{field}: + {x}")));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> HostSnapshot {
        HostSnapshot {
            ip_forward: "0".into(),
            all_rp_filter: "2".into(),
            forward_rules: "-P FORWARD ACCEPT\n-A FORWARD -i a -j ACCEPT\n".into(),
            routes: "default via 10.0.0.1 dev eth0\n".into(),
            policy_rules: "0:\tfrom all lookup local\n".into(),
            links: ["lo", "eth0"].map(String::from).into(),
            namespaces: BTreeSet::new(),
        }
    }

    #[test]
    fn equal_snapshots_have_no_diff() {
        assert!(snapshot().diff(&snapshot()).is_empty());
    }

    #[test]
    fn every_change_is_named() {
        let before = snapshot();
        let mut after = snapshot();
        after.ip_forward = "1".into();
        after
            .routes
            .push_str("10.160.0.0/16 via 10.252.1.2 dev ft1h\n");
        after.links.remove("eth0");
        after.namespaces.insert("nl6t1f1".into());
        assert_ne!(before, after);
        assert_eq!(
            before.diff(&after),
            [
                "ip_forward: 0 -> 1",
                "routes: + 10.160.0.0/16 via 10.252.1.2 dev ft1h",
                "links: - eth0",
                "namespaces: + nl6t1f1",
            ]
        );
    }

    #[test]
    fn reordered_rules_are_a_difference() {
        let before = snapshot();
        let mut after = snapshot();
        after.forward_rules = "-A FORWARD -i a -j ACCEPT\n-P FORWARD ACCEPT\n".into();
        assert_eq!(
            before.diff(&after),
            ["forward_rules: same lines, other order or repeats"]
        );
    }
}
