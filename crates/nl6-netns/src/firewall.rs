//! The FORWARD accept rules for the host veth: with the `iptables` program when there is one,
//! else over netlink in the nf_tables chains that filter forwarded traffic, else none.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::nftables::{Family, ForwardChain, NfTables};
use crate::{IptablesLookup, NetnsError};

/// Where the kernel lists the loaded legacy (x_tables) iptables tables.
const LEGACY_TABLES: &str = "/proc/net/ip_tables_names";
/// Searched after `$PATH`: root's programs, for a process started with a user's PATH.
const SBIN_DIRS: [&str; 2] = ["/usr/sbin", "/sbin"];
/// `$PATH` when it is not set (the default of Debian's login for root).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How setup lets forwarded traffic of the host veth through the host's filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// Accept rules at the top of the FORWARD chain, inserted with this `iptables` program.
    Iptables(PathBuf),
    /// No `iptables` program: accept rules inserted over netlink at the top of each of these
    /// nf_tables chains, the forward-hook chains that may drop.
    NfTables(Vec<ChainRef>),
    /// No `iptables` program and nothing filters forwarded traffic: no rule is needed.
    Unfiltered,
}

/// An nf_tables chain by family, table and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChainRef {
    /// The table's family.
    pub family: Family,
    /// Table name.
    pub table: String,
    /// Chain name.
    pub chain: String,
}

impl fmt::Display for ChainRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.family, self.table, self.chain)
    }
}

impl From<&ForwardChain> for ChainRef {
    fn from(c: &ForwardChain) -> Self {
        Self {
            family: c.family,
            table: c.table.clone(),
            chain: c.chain.clone(),
        }
    }
}

/// The `iptables` program `lookup` names, if it exists.
pub(crate) fn find_iptables(lookup: &IptablesLookup) -> Option<PathBuf> {
    match lookup {
        IptablesLookup::Path => search_path(std::env::var_os("PATH")),
        IptablesLookup::Program(path) => is_executable(path).then(|| path.clone()),
        IptablesLookup::Disabled => None,
    }
}

fn search_path(path: Option<OsString>) -> Option<PathBuf> {
    let path = path.unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("iptables"))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Decides how forwarded traffic gets through: the program if there is one; else the
/// nf_tables chains that filter; an error when a legacy `filter` table is loaded (only the
/// program can change it).
pub(crate) fn plan(
    iptables: Option<PathBuf>,
    legacy_filter: bool,
    chains: &[ForwardChain],
) -> Result<Forwarding, NetnsError> {
    if let Some(program) = iptables {
        return Ok(Forwarding::Iptables(program));
    }
    if legacy_filter {
        return Err(NetnsError::Firewall {
            reason: format!(
                "the legacy iptables filter table is loaded ({LEGACY_TABLES}) but there is no \
                 iptables program to add the FORWARD rules (Debian package iptables)"
            ),
        });
    }
    let filtering: Vec<ChainRef> = chains
        .iter()
        .filter(|c| c.filters())
        .map(ChainRef::from)
        .collect();
    Ok(if filtering.is_empty() {
        Forwarding::Unfiltered
    } else {
        Forwarding::NfTables(filtering)
    })
}

/// Looks at this host and plans (see [`plan`]); logs the choice when there is no program.
pub(crate) fn plan_host(
    lookup: &IptablesLookup,
    host_veth: &str,
) -> Result<Forwarding, NetnsError> {
    let program = find_iptables(lookup);
    if program.is_some() {
        return plan(program, false, &[]);
    }
    let forwarding = plan(None, legacy_filter_loaded(), &forward_chains()?)?;
    match &forwarding {
        Forwarding::Unfiltered => tracing::info!(
            "no iptables program and forwarded traffic is not filtered (no legacy filter table, \
             no nf_tables forward chain that drops): no FORWARD rule for {host_veth}"
        ),
        Forwarding::NfTables(chains) => tracing::info!(
            "no iptables program: accepting forwarded traffic of {host_veth} over netlink in \
             nf_tables chain(s) {}",
            chains
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Forwarding::Iptables(_) => {}
    }
    Ok(forwarding)
}

/// Whether the legacy iptables `filter` table is loaded.
fn legacy_filter_loaded() -> bool {
    std::fs::read_to_string(LEGACY_TABLES).is_ok_and(|names| lists_filter(&names))
}

fn lists_filter(names: &str) -> bool {
    names.lines().any(|l| l.trim() == "filter")
}

/// The host's forward-hook chains; none when the kernel has no nf_tables.
pub(crate) fn forward_chains() -> Result<Vec<ForwardChain>, NetnsError> {
    let chains = NfTables::open().and_then(|mut nft| nft.forward_chains());
    match chains {
        Ok(chains) => Ok(chains),
        Err(e) if no_nf_tables(&e) => Ok(Vec::new()),
        Err(source) => Err(NetnsError::Nftables {
            op: "list forward chains",
            target: "host".to_owned(),
            source,
        }),
    }
}

/// Errors that mean "this kernel has no nf_tables (or no netfilter netlink)".
fn no_nf_tables(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT | libc::EOPNOTSUPP)
    )
}

/// Inserts the accept rules for `host_veth` at the top of each chain.
pub(crate) fn insert_nft_rules(
    chains: &[ChainRef],
    host_veth: &str,
    comment: &str,
) -> Result<(), NetnsError> {
    let mut nft = open()?;
    for c in chains {
        nft.insert_accept_rules(c.family, &c.table, &c.chain, host_veth, comment)
            .map_err(|source| nft_err("insert accept rules", c.to_string(), source))?;
    }
    Ok(())
}

/// Deletes the rules commented `comment` from the given chains, or from every forward chain
/// when `only` is `None`; a chain that is gone is fine.
pub(crate) fn delete_nft_rules(only: Option<&[ChainRef]>, comment: &str) -> Result<(), NetnsError> {
    let chains = forward_chains()?;
    if chains.is_empty() {
        return Ok(());
    }
    let mut nft = open()?;
    for chain in &chains {
        let at = ChainRef::from(chain);
        if only.is_some_and(|only| !only.contains(&at)) {
            continue;
        }
        let handles = chain.handles_with_comment(comment);
        if !handles.is_empty() {
            nft.delete_rules(at.family, &at.table, &at.chain, &handles)
                .map_err(|source| nft_err("delete rules", at.to_string(), source))?;
        }
    }
    Ok(())
}

fn open() -> Result<NfTables, NetnsError> {
    NfTables::open().map_err(|source| nft_err("open socket", "host".to_owned(), source))
}

fn nft_err(op: &'static str, target: String, source: std::io::Error) -> NetnsError {
    NetnsError::Nftables { op, target, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nftables::ForwardRule;

    fn chain(table: &str, policy_drop: bool, rule_drops: Option<bool>) -> ForwardChain {
        ForwardChain {
            family: Family::Inet,
            table: table.into(),
            chain: "forward".into(),
            policy_drop,
            rules: rule_drops
                .map(|may_drop| ForwardRule {
                    handle: 2,
                    comment: None,
                    may_drop,
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn the_program_wins_when_there_is_one() {
        let program = PathBuf::from("/usr/sbin/iptables");
        let plan = plan(Some(program.clone()), true, &[chain("a", true, None)]).unwrap();
        assert_eq!(plan, Forwarding::Iptables(program));
    }

    #[test]
    fn without_the_program_only_filtering_chains_get_rules() {
        let chains = [
            chain("open", false, None),
            chain("accepts", false, Some(false)),
            chain("drops", true, None),
            chain("rule_drops", false, Some(true)),
        ];
        let Forwarding::NfTables(got) = plan(None, false, &chains).unwrap() else {
            panic!("expected nf_tables chains");
        };
        let names: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["inet drops forward", "inet rule_drops forward"]);
        assert_eq!(
            plan(None, false, &chains[..2]).unwrap(),
            Forwarding::Unfiltered
        );
        assert_eq!(plan(None, false, &[]).unwrap(), Forwarding::Unfiltered);
    }

    #[test]
    fn a_legacy_filter_table_without_the_program_is_an_error() {
        let err = plan(None, true, &[]).unwrap_err().to_string();
        assert!(err.contains("legacy iptables filter table"), "{err}");
        assert!(lists_filter("nat\nfilter\n"));
        assert!(!lists_filter("nat\nmangle\n"));
        assert!(!lists_filter(""));
    }

    #[test]
    fn lookup_searches_path_then_sbin_and_honours_overrides() {
        let dir = std::env::temp_dir().join(format!("nl6-netns-lookup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("iptables");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Not executable: not a program.
        assert_eq!(
            search_path(Some(dir.clone().into_os_string()))
                .as_deref()
                .filter(|p| p.starts_with(&dir)),
            None
        );
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            search_path(Some(dir.clone().into_os_string())),
            Some(program.clone())
        );
        assert_eq!(
            find_iptables(&IptablesLookup::Program(program.clone())),
            Some(program.clone())
        );
        assert_eq!(
            find_iptables(&IptablesLookup::Program(dir.join("absent"))),
            None
        );
        assert_eq!(find_iptables(&IptablesLookup::Disabled), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
