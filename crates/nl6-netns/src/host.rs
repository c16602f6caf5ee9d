//! Host-wide changes (sysctls, the FORWARD rules) and the state file that records them.
//!
//! Every change is written to `/run/nl6/<name>.state` before it is made, so a run that died
//! without teardown is undone by the next setup (or by hand, see the README).

use std::fmt::Write as _;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::NetnsError;
use crate::firewall::ChainRef;
use crate::nftables::Family;

/// Directory of the state files.
pub(crate) const STATE_DIR: &str = "/run/nl6";
/// How long iptables waits for the xtables lock, in seconds.
const XTABLES_WAIT_SECS: &str = "5";

/// What one simulator network changed on the host, as far as teardown must undo it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostState {
    /// Namespace name.
    pub namespace: String,
    /// Host side veth (deleting it deletes the pair).
    pub host_veth: String,
    /// Sysctls changed, with their original values.
    pub sysctls: Vec<(String, String)>,
    /// The iptables program that inserted `rules` (older state files have none: `$PATH`).
    pub iptables: Option<PathBuf>,
    /// iptables rules inserted, as arguments after `-I`/`-D` (chain first).
    pub rules: Vec<Vec<String>>,
    /// nf_tables chains that got accept rules commented [`rule_comment`] over netlink.
    pub nft_chains: Vec<ChainRef>,
    /// Host routes added: destination, prefix length, gateway.
    pub routes: Vec<(Ipv4Addr, u8, Ipv4Addr)>,
}

impl HostState {
    /// The state file of namespace `name`.
    pub fn path(name: &str) -> PathBuf {
        Path::new(STATE_DIR).join(format!("{name}.state"))
    }

    /// Reads the state file of `name`, `None` if there is none.
    pub fn load(name: &str) -> Result<Option<Self>, NetnsError> {
        let path = Self::path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Self::parse(&text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(NetnsError::StateFile { path, source }),
        }
    }

    /// Writes the state file atomically (write + rename).
    pub fn save(&self) -> Result<(), NetnsError> {
        let path = Self::path(&self.namespace);
        let tmp = path.with_extension("state.tmp");
        let result = std::fs::create_dir_all(STATE_DIR)
            .and_then(|()| std::fs::write(&tmp, self.render()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        result.map_err(|source| NetnsError::StateFile { path, source })
    }

    /// Deletes the state file (absent is fine).
    pub fn remove_file(name: &str) -> Result<(), NetnsError> {
        let path = Self::path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(NetnsError::StateFile { path, source }),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# nl6-netns: host changes of namespace {}; undone by teardown or the next setup",
            self.namespace
        );
        let _ = writeln!(out, "namespace {}", self.namespace);
        let _ = writeln!(out, "host_veth {}", self.host_veth);
        for (key, value) in &self.sysctls {
            let _ = writeln!(out, "sysctl {key} {value}");
        }
        if let Some(program) = &self.iptables {
            let _ = writeln!(out, "iptables {}", program.display());
        }
        for rule in &self.rules {
            let _ = writeln!(out, "rule {}", rule.join(" "));
        }
        for c in &self.nft_chains {
            let _ = writeln!(out, "nft {} {} {}", c.family, c.table, c.chain);
        }
        for (dst, len, gw) in &self.routes {
            let _ = writeln!(out, "route {dst}/{len} via {gw}");
        }
        out
    }

    fn parse(text: &str) -> Self {
        let mut state = Self::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match (words.next(), words.collect::<Vec<_>>().as_slice()) {
                (Some("namespace"), [name]) => state.namespace = (*name).to_owned(),
                (Some("host_veth"), [veth]) => state.host_veth = (*veth).to_owned(),
                (Some("sysctl"), [key, value]) => {
                    state.sysctls.push(((*key).to_owned(), (*value).to_owned()))
                }
                (Some("iptables"), [program]) => state.iptables = Some(PathBuf::from(program)),
                (Some("nft"), [family, table, chain]) => {
                    if let Some(family) = Family::from_name(family) {
                        state.nft_chains.push(ChainRef {
                            family,
                            table: (*table).to_owned(),
                            chain: (*chain).to_owned(),
                        });
                    }
                }
                (Some("rule"), args) if !args.is_empty() => state
                    .rules
                    .push(args.iter().map(|a| (*a).to_owned()).collect()),
                (Some("route"), [net, "via", gw]) => {
                    let parsed = net.split_once('/').and_then(|(dst, len)| {
                        Some((dst.parse().ok()?, len.parse().ok()?, gw.parse().ok()?))
                    });
                    if let Some(route) = parsed {
                        state.routes.push(route);
                    }
                }
                _ => {}
            }
        }
        state
    }
}

/// The comment that marks the FORWARD rules of namespace `namespace`.
pub(crate) fn rule_comment(namespace: &str) -> String {
    format!("nl6:{namespace}")
}

/// The iptables FORWARD rules for a host veth: traffic from the namespace and back to it.
pub(crate) fn forward_rules(namespace: &str, host_veth: &str) -> Vec<Vec<String>> {
    ["-i", "-o"]
        .iter()
        .map(|dir| {
            [
                "FORWARD",
                dir,
                host_veth,
                "-m",
                "comment",
                "--comment",
                &rule_comment(namespace),
                "-j",
                "ACCEPT",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
        })
        .collect()
}

/// Reads a sysctl under /proc/sys (`key` like "net/ipv4/ip_forward").
pub(crate) fn sysctl_read(key: &str) -> Result<String, NetnsError> {
    std::fs::read_to_string(Path::new("/proc/sys").join(key))
        .map(|v| v.trim().to_owned())
        .map_err(|source| NetnsError::Sysctl {
            key: key.to_owned(),
            source,
        })
}

/// Writes a sysctl under /proc/sys.
pub(crate) fn sysctl_write(key: &str, value: &str) -> Result<(), NetnsError> {
    std::fs::write(Path::new("/proc/sys").join(key), value).map_err(|source| NetnsError::Sysctl {
        key: key.to_owned(),
        source,
    })
}

/// Inserts a rule at the top of its chain with the iptables `program`.
pub(crate) fn iptables_insert(program: &Path, rule: &[String]) -> Result<(), NetnsError> {
    let (chain, spec) = rule.split_first().ok_or_else(|| NetnsError::Iptables {
        args: String::new(),
        reason: "empty rule".to_owned(),
    })?;
    let mut args = vec!["-I".to_owned(), chain.clone(), "1".to_owned()];
    args.extend(spec.iter().cloned());
    iptables(program, &args).map(|_| ())
}

/// Deletes every copy of a rule; a missing rule is not an error.
pub(crate) fn iptables_delete(program: &Path, rule: &[String]) -> Result<(), NetnsError> {
    // Bounded: a rule inserted more often than this was not inserted by us.
    for _ in 0..16 {
        let mut check = vec!["-C".to_owned()];
        check.extend(rule.iter().cloned());
        if !iptables(program, &check)? {
            return Ok(());
        }
        let mut delete = vec!["-D".to_owned()];
        delete.extend(rule.iter().cloned());
        if !iptables(program, &delete)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Runs iptables; `Ok(false)` when it exits with 1 (rule not found for -C / -D).
fn iptables(program: &Path, args: &[String]) -> Result<bool, NetnsError> {
    let output = Command::new(program)
        .arg("-w")
        .arg(XTABLES_WAIT_SECS)
        .args(args)
        .output()
        .map_err(|e| NetnsError::Iptables {
            args: args.join(" "),
            reason: format!("running {}: {e}", program.display()),
        })?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) if matches!(args.first().map(String::as_str), Some("-C" | "-D")) => Ok(false),
        _ => Err(NetnsError::Iptables {
            args: args.join(" "),
            reason: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_text() {
        let state = HostState {
            namespace: "nl6sim".into(),
            host_veth: "veth-sim-host".into(),
            sysctls: vec![("net/ipv4/ip_forward".into(), "0".into())],
            iptables: Some("/usr/sbin/iptables".into()),
            rules: forward_rules("nl6sim", "veth-sim-host"),
            nft_chains: vec![ChainRef {
                family: Family::Inet,
                table: "filter".into(),
                chain: "forward".into(),
            }],
            routes: vec![(
                Ipv4Addr::new(10, 42, 0, 0),
                16,
                Ipv4Addr::new(10, 254, 0, 2),
            )],
        };
        assert_eq!(HostState::parse(&state.render()), state);
    }

    #[test]
    fn parse_ignores_garbage() {
        let state = HostState::parse("junk\nroute nonsense via x\nnamespace a\n");
        assert_eq!(state.namespace, "a");
        assert!(state.routes.is_empty());
    }

    #[test]
    fn rules_cover_both_directions() {
        let rules = forward_rules("n", "vh");
        assert_eq!(rules[0][..3], ["FORWARD", "-i", "vh"]);
        assert_eq!(rules[1][..3], ["FORWARD", "-o", "vh"]);
        assert!(rules[0].contains(&"nl6:n".to_owned()));
    }
}
