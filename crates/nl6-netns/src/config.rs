//! The simulator namespace configuration and its validation.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::NetnsError;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;
/// Longest namespace name accepted (it also names the state file and iptables comment).
const NAME_MAX: usize = 64;

/// Where the simulator namespace lives and how it is wired to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsConfig {
    /// Namespace name, as shown by `ip netns list`.
    pub name: String,
    /// Host side of the veth pair.
    pub host_veth: String,
    /// Namespace side of the veth pair.
    pub ns_veth: String,
    /// Host address on the transfer network.
    pub host_addr: Ipv4Addr,
    /// Namespace address on the transfer network; the host routes device networks via it.
    pub ns_addr: Ipv4Addr,
    /// Prefix length of the transfer network.
    pub prefix_len: u8,
    /// Where setup looks for the `iptables` program that inserts the FORWARD rules.
    pub iptables: IptablesLookup,
}

/// Where [`SimNetwork::setup`](crate::SimNetwork::setup) looks for the `iptables` program.
///
/// Without one, the FORWARD accept rules go over netlink into the nf_tables chains that filter
/// forwarded traffic, or are skipped when nothing filters it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IptablesLookup {
    /// `iptables` in the directories of `$PATH`, then in /usr/sbin and /sbin (the default).
    #[default]
    Path,
    /// This program, if it exists (tests use it to stand in for a host with or without it).
    Program(PathBuf),
    /// Never iptables, even if it is installed.
    Disabled,
}

impl IptablesLookup {
    /// The program this lookup finds on this host now, if any.
    pub fn find(&self) -> Option<PathBuf> {
        crate::firewall::find_iptables(self)
    }
}

impl Default for NetnsConfig {
    fn default() -> Self {
        Self {
            name: "nl6sim".to_owned(),
            host_veth: "veth-sim-host".to_owned(),
            ns_veth: "veth-sim-ns".to_owned(),
            host_addr: Ipv4Addr::new(10, 254, 0, 1),
            ns_addr: Ipv4Addr::new(10, 254, 0, 2),
            prefix_len: 30,
            iptables: IptablesLookup::Path,
        }
    }
}

impl NetnsConfig {
    /// Checks names, addresses and the prefix; the error names the field and the reason.
    pub fn validate(&self) -> Result<(), NetnsError> {
        check_ns_name(&self.name)?;
        check_ifname("host_veth", &self.host_veth)?;
        check_ifname("ns_veth", &self.ns_veth)?;
        if !(1..=31).contains(&self.prefix_len) {
            return Err(invalid(
                "prefix_len",
                format!("{} is outside 1..=31", self.prefix_len),
            ));
        }
        check_unicast("host_addr", self.host_addr)?;
        check_unicast("ns_addr", self.ns_addr)?;
        if self.host_addr == self.ns_addr {
            return Err(invalid("ns_addr", "equals host_addr".to_owned()));
        }
        let mask = prefix_mask(self.prefix_len);
        let net = u32::from(self.host_addr) & mask;
        if u32::from(self.ns_addr) & mask != net {
            return Err(invalid(
                "ns_addr",
                format!(
                    "{} is not in the same /{} as host_addr {}",
                    self.ns_addr, self.prefix_len, self.host_addr
                ),
            ));
        }
        if self.prefix_len <= 30 {
            for (field, addr) in [("host_addr", self.host_addr), ("ns_addr", self.ns_addr)] {
                let host_bits = u32::from(addr) & !mask;
                if host_bits == 0 || host_bits == !mask {
                    return Err(invalid(
                        field,
                        format!(
                            "{addr} is the network or broadcast address of its /{}",
                            self.prefix_len
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The netmask of a prefix length (0..=32) as a host-order integer.
pub(crate) fn prefix_mask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        n if n >= 32 => u32::MAX,
        n => u32::MAX << (32 - n),
    }
}

fn invalid(field: &'static str, reason: String) -> NetnsError {
    NetnsError::InvalidConfig { field, reason }
}

fn check_ns_name(name: &str) -> Result<(), NetnsError> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(invalid(
            "name",
            format!("must be 1..={NAME_MAX} characters, got {}", name.len()),
        ));
    }
    if name == "." || name == ".." {
        return Err(invalid("name", format!("{name:?} is not a file name")));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid(
            "name",
            format!("character {c:?} is not allowed (use A-Z a-z 0-9 - _ .)"),
        ));
    }
    Ok(())
}

fn check_ifname(field: &'static str, name: &str) -> Result<(), NetnsError> {
    if name.is_empty() || name.len() > IFNAME_MAX {
        return Err(invalid(
            field,
            format!(
                "interface names are 1..={IFNAME_MAX} bytes, {name:?} has {}",
                name.len()
            ),
        ));
    }
    if name == "." || name == ".." {
        return Err(invalid(
            field,
            format!("{name:?} is not a valid interface name"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid(
            field,
            format!("character {c:?} is not allowed in interface names"),
        ));
    }
    Ok(())
}

fn check_unicast(field: &'static str, addr: Ipv4Addr) -> Result<(), NetnsError> {
    if addr.is_unspecified() || addr.is_loopback() || addr.is_multicast() || addr.is_broadcast() {
        return Err(invalid(
            field,
            format!("{addr} is not a unicast address usable on a veth"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(cfg: &NetnsConfig) -> &'static str {
        match cfg.validate() {
            Err(NetnsError::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn default_is_the_nl6_layout_and_valid() {
        let cfg = NetnsConfig::default();
        assert_eq!(cfg.name, "nl6sim");
        assert_eq!(cfg.host_veth, "veth-sim-host");
        assert_eq!(cfg.ns_veth, "veth-sim-ns");
        assert_eq!(cfg.host_addr, Ipv4Addr::new(10, 254, 0, 1));
        assert_eq!(cfg.ns_addr, Ipv4Addr::new(10, 254, 0, 2));
        assert_eq!(cfg.prefix_len, 30);
        cfg.validate().unwrap();
    }

    #[test]
    fn rejects_bad_fields_naming_them() {
        let base = NetnsConfig::default();
        let cases: Vec<(NetnsConfig, &str)> = vec![
            (
                NetnsConfig {
                    name: String::new(),
                    ..base.clone()
                },
                "name",
            ),
            (
                NetnsConfig {
                    name: "a/b".into(),
                    ..base.clone()
                },
                "name",
            ),
            (
                NetnsConfig {
                    name: "..".into(),
                    ..base.clone()
                },
                "name",
            ),
            (
                NetnsConfig {
                    host_veth: "a-very-long-veth-name".into(),
                    ..base.clone()
                },
                "host_veth",
            ),
            (
                NetnsConfig {
                    ns_veth: "bad name".into(),
                    ..base.clone()
                },
                "ns_veth",
            ),
            (
                NetnsConfig {
                    prefix_len: 0,
                    ..base.clone()
                },
                "prefix_len",
            ),
            (
                NetnsConfig {
                    prefix_len: 32,
                    ..base.clone()
                },
                "prefix_len",
            ),
            (
                NetnsConfig {
                    host_addr: Ipv4Addr::UNSPECIFIED,
                    ..base.clone()
                },
                "host_addr",
            ),
            (
                NetnsConfig {
                    ns_addr: Ipv4Addr::new(224, 0, 0, 1),
                    ..base.clone()
                },
                "ns_addr",
            ),
            (
                NetnsConfig {
                    ns_addr: base.host_addr,
                    ..base.clone()
                },
                "ns_addr",
            ),
            (
                NetnsConfig {
                    ns_addr: Ipv4Addr::new(10, 254, 0, 6),
                    ..base.clone()
                },
                "ns_addr",
            ),
            (
                NetnsConfig {
                    ns_addr: Ipv4Addr::new(10, 254, 0, 3),
                    ..base.clone()
                },
                "ns_addr",
            ),
            (
                NetnsConfig {
                    host_addr: Ipv4Addr::new(10, 254, 0, 0),
                    ..base.clone()
                },
                "host_addr",
            ),
        ];
        for (cfg, field) in cases {
            assert_eq!(field_of(&cfg), field, "{cfg:?}");
        }
    }

    #[test]
    fn error_message_names_field_and_reason() {
        let cfg = NetnsConfig {
            prefix_len: 40,
            ..NetnsConfig::default()
        };
        let msg = cfg.validate().unwrap_err().to_string();
        assert!(msg.contains("prefix_len") && msg.contains("40"), "{msg}");
    }

    #[test]
    fn point_to_point_31_is_accepted() {
        let cfg = NetnsConfig {
            host_addr: Ipv4Addr::new(10, 9, 0, 0),
            ns_addr: Ipv4Addr::new(10, 9, 0, 1),
            prefix_len: 31,
            ..NetnsConfig::default()
        };
        cfg.validate().unwrap();
    }

    #[test]
    fn masks() {
        assert_eq!(prefix_mask(0), 0);
        assert_eq!(prefix_mask(24), 0xffff_ff00);
        assert_eq!(prefix_mask(32), u32::MAX);
    }
}
