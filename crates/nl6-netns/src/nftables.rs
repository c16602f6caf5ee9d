//! A small nf_tables client over netlink, so no `nft` or `iptables` program is needed.
//!
//! It lists the base chains on the IPv4 forward hook (families `ip` and `inet`) with their
//! rules, inserts and deletes the simulator network's accept rules, and creates or deletes a
//! table with a forward chain (what tests use to build a host that drops forwarded traffic).
//! A socket talks to the network namespace it was opened in.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, Cmp, DataAttribute, ExpressionAttribute, Expressions, Hook,
    HookNumber, Immediate, InetHookNumber, ListAttribute, Meta, MetaKey, NfTablesMessage, Operator,
    Register, RuleAttribute, RuleMessage, TableAttribute, TableMessage, Verdict, VerdictAttribute,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::netlink::{align4, parse_all};

/// The nf_tables subsystem id, the resource id of a batch.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// Verdict codes of `include/uapi/linux/netfilter.h`.
const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
const NF_STOLEN: u32 = 2;
const NF_QUEUE: u32 = 3;
/// Interface names are compared as IFNAMSIZ bytes, zero padded (as `nft` does).
const IFNAMSIZ: usize = 16;
/// User-data type of a rule comment (libnftnl's NFTNL_UDATA_RULE_COMMENT), shown by `nft`.
const UDATA_RULE_COMMENT: u8 = 0;
/// Largest datagram a dump may send.
const RECV_BYTES: usize = 1 << 20;
/// Expressions that may end in a drop without an immediate verdict.
const DROPPING_EXPRESSIONS: [&str; 5] = ["reject", "queue", "target", "lookup", "synproxy"];

/// An nf_tables family whose forward hook sees forwarded IPv4 packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `ip`: IPv4 only (the family `iptables-nft` uses).
    Ip,
    /// `inet`: IPv4 and IPv6.
    Inet,
}

impl Family {
    /// The name `nft` uses.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Inet => "inet",
        }
    }

    /// The family of a name as `nft` writes it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ip" => Some(Family::Ip),
            "inet" => Some(Family::Inet),
            _ => None,
        }
    }

    fn proto(self) -> NetfilterProtoFamily {
        match self {
            Family::Ip => NetfilterProtoFamily::IPv4,
            Family::Inet => NetfilterProtoFamily::Inet,
        }
    }

    fn from_proto(proto: NetfilterProtoFamily) -> Option<Self> {
        match proto {
            NetfilterProtoFamily::IPv4 => Some(Family::Ip),
            NetfilterProtoFamily::Inet => Some(Family::Inet),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A base chain on the forward hook, with its rules in evaluation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardChain {
    /// The table's family.
    pub family: Family,
    /// Table name.
    pub table: String,
    /// Chain name.
    pub chain: String,
    /// Whether packets no rule decides on are dropped.
    pub policy_drop: bool,
    /// The chain's rules.
    pub rules: Vec<ForwardRule>,
}

/// One rule of a [`ForwardChain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRule {
    /// The kernel's handle of the rule.
    pub handle: u64,
    /// The rule's comment, if any.
    pub comment: Option<String>,
    /// Whether the rule may drop a packet (a drop, reject, queue, jump or goto, a verdict map,
    /// an xtables target).
    pub may_drop: bool,
}

impl ForwardChain {
    /// Whether this chain may drop forwarded packets: a drop policy, or a rule that may.
    pub fn filters(&self) -> bool {
        self.policy_drop || self.rules.iter().any(|r| r.may_drop)
    }

    /// Handles of the rules whose comment is `comment`.
    pub fn handles_with_comment(&self, comment: &str) -> Vec<u64> {
        self.rules
            .iter()
            .filter(|r| r.comment.as_deref() == Some(comment))
            .map(|r| r.handle)
            .collect()
    }
}

impl fmt::Display for ForwardChain {
    /// `ip filter FORWARD policy drop`, then one indented line per rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policy = if self.policy_drop { "drop" } else { "accept" };
        write!(
            f,
            "{} {} {} policy {policy}",
            self.family, self.table, self.chain
        )?;
        for rule in &self.rules {
            write!(f, "\n  handle {}", rule.handle)?;
            if let Some(comment) = &rule.comment {
                write!(f, " comment {comment:?}")?;
            }
            if rule.may_drop {
                f.write_str(" may drop")?;
            }
        }
        Ok(())
    }
}

/// An nf_tables netlink socket in the calling thread's network namespace.
pub struct NfTables {
    sock: Socket,
    seq: u32,
    rx: Vec<u8>,
}

impl fmt::Debug for NfTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NfTables").finish_non_exhaustive()
    }
}

impl NfTables {
    /// Opens a socket (needs CAP_NET_ADMIN to change anything, not to list).
    pub fn open() -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_NETFILTER)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        crate::netlink::set_recv_timeout(sock.as_raw_fd(), crate::netlink::RECV_TIMEOUT)?;
        Ok(Self {
            sock,
            seq: 0,
            rx: Vec::with_capacity(RECV_BYTES),
        })
    }

    /// The base chains on the forward hook of families `ip` and `inet`, with their rules.
    pub fn forward_chains(&mut self) -> io::Result<Vec<ForwardChain>> {
        let mut chains = Vec::new();
        for msg in self.dump(NfTablesMessage::GetChain(ChainMessage {
            attributes: vec![],
        }))? {
            let (Some(family), NetfilterMessageInner::NfTables(NfTablesMessage::NewChain(chain))) =
                (Family::from_proto(msg.header.family), msg.inner)
            else {
                continue;
            };
            if let Some(chain) = forward_chain(family, chain) {
                chains.push(chain);
            }
        }
        if chains.is_empty() {
            return Ok(chains);
        }
        for msg in self.dump(NfTablesMessage::GetRule(RuleMessage { attributes: vec![] }))? {
            let (Some(family), NetfilterMessageInner::NfTables(NfTablesMessage::NewRule(rule))) =
                (Family::from_proto(msg.header.family), msg.inner)
            else {
                continue;
            };
            let (table, chain, rule) = parse_rule(rule);
            if let Some(c) = chains
                .iter_mut()
                .find(|c| c.family == family && c.table == table && c.chain == chain)
            {
                c.rules.push(rule);
            }
        }
        Ok(chains)
    }

    /// Inserts, at the top of a chain, accept rules for packets coming in on `ifname` and for
    /// packets going out on it, both with `comment`.
    pub fn insert_accept_rules(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        ifname: &str,
        comment: &str,
    ) -> io::Result<()> {
        // Inserted at the top one after the other: the `-o` rule ends up second.
        let msgs = [MetaKey::Oifname, MetaKey::Iifname]
            .into_iter()
            .map(|key| accept_rule(table, chain, key, ifname, comment))
            .collect();
        self.batch(family, msgs, NLM_F_CREATE)
    }

    /// Deletes rules of a chain by handle; a rule or chain that is gone is fine.
    pub fn delete_rules(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        handles: &[u64],
    ) -> io::Result<()> {
        for handle in handles {
            let msg = NfTablesMessage::DeleteRule(RuleMessage {
                attributes: vec![
                    RuleAttribute::Table(table.to_owned()),
                    RuleAttribute::Chain(chain.to_owned()),
                    RuleAttribute::Handle(*handle),
                ],
            });
            match self.batch(family, vec![msg], 0) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Creates table `table` (if needed) with a base chain `chain` on the forward hook, priority
    /// 0, whose policy drops (`policy_drop`) or accepts.
    pub fn add_forward_chain(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        policy_drop: bool,
    ) -> io::Result<()> {
        let new_table = NfTablesMessage::NewTable(TableMessage {
            attributes: vec![TableAttribute::Name(table.to_owned())],
        });
        let new_chain = NfTablesMessage::NewChain(ChainMessage {
            attributes: vec![
                ChainAttribute::Table(table.to_owned()),
                ChainAttribute::Name(chain.to_owned()),
                ChainAttribute::Hook(vec![
                    Hook::Number(HookNumber::Inet(InetHookNumber::Forward)),
                    Hook::Priority(0),
                ]),
                ChainAttribute::Policy(if policy_drop { NF_DROP } else { NF_ACCEPT }),
                ChainAttribute::Type("filter".to_owned()),
            ],
        });
        self.batch(family, vec![new_table, new_chain], NLM_F_CREATE)
    }

    /// Deletes a table with everything in it; a missing table is fine.
    pub fn delete_table(&mut self, family: Family, table: &str) -> io::Result<()> {
        let msg = NfTablesMessage::DeleteTable(TableMessage {
            attributes: vec![TableAttribute::Name(table.to_owned())],
        });
        match self.batch(family, vec![msg], 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other,
        }
    }

    /// Sends one transaction (batch begin, `msgs`, batch end) and waits for every message's
    /// acknowledgement; the first error the kernel reports is returned (and nothing applied).
    fn batch(&mut self, family: Family, msgs: Vec<NfTablesMessage>, flags: u16) -> io::Result<()> {
        let mut tx = Vec::new();
        let res_id = NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, NFNL_SUBSYS_NFTABLES);
        self.append(
            &mut tx,
            NetfilterMessage::new(res_id.clone(), ControlMessage::BatchBegin),
            0,
        );
        let first = self.seq.wrapping_add(1);
        let count = msgs.len() as u32;
        for msg in msgs {
            let header = NetfilterHeader::new(family.proto(), 0, 0);
            self.append(
                &mut tx,
                NetfilterMessage::new(header, msg),
                flags | NLM_F_ACK,
            );
        }
        self.append(
            &mut tx,
            NetfilterMessage::new(res_id, ControlMessage::BatchEnd),
            0,
        );
        self.sock.send(&tx, 0)?;
        let mut answered = 0;
        let mut error = None;
        while answered < count {
            self.recv()?;
            for msg in parse_all::<NetfilterMessage>(&self.rx) {
                let seq = msg.header.sequence_number;
                if seq.wrapping_sub(first) >= count {
                    continue;
                }
                if let NetlinkPayload::Error(e) = msg.payload {
                    answered += 1;
                    if e.code.is_some() && error.is_none() {
                        error = Some(e.to_io());
                    }
                }
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// Sends a dump request for every family and collects the answers.
    fn dump(&mut self, msg: NfTablesMessage) -> io::Result<Vec<NetfilterMessage>> {
        let mut tx = Vec::new();
        let header = NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, 0);
        self.append(&mut tx, NetfilterMessage::new(header, msg), NLM_F_DUMP);
        let seq = self.seq;
        self.sock.send(&tx, 0)?;
        let mut out = Vec::new();
        loop {
            self.recv()?;
            for msg in parse_all::<NetfilterMessage>(&self.rx) {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
        }
    }

    fn append(&mut self, tx: &mut Vec<u8>, msg: NetfilterMessage, flags: u16) {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let start = tx.len();
        let len = packet.buffer_len();
        tx.resize(start + align4(len), 0);
        packet.serialize(&mut tx[start..start + len]);
    }

    fn recv(&mut self) -> io::Result<()> {
        self.rx.clear();
        self.rx.reserve(RECV_BYTES);
        let n = self.sock.recv(&mut self.rx, 0)?;
        if n > self.rx.len() {
            return Err(io::Error::other("netlink reply truncated"));
        }
        Ok(())
    }
}

/// The chain as a [`ForwardChain`] (without rules) if it is a base chain on the forward hook.
fn forward_chain(family: Family, msg: ChainMessage) -> Option<ForwardChain> {
    let mut table = None;
    let mut name = None;
    let mut forward = false;
    let mut policy_drop = false;
    for attr in msg.attributes {
        match attr {
            ChainAttribute::Table(t) => table = Some(t),
            ChainAttribute::Name(n) => name = Some(n),
            ChainAttribute::Policy(p) => policy_drop = p == NF_DROP,
            ChainAttribute::Hook(hooks) => {
                forward = hooks.iter().any(|h| {
                    matches!(h, Hook::Number(n) if u32::from(*n) == u32::from(InetHookNumber::Forward))
                });
            }
            _ => {}
        }
    }
    forward.then_some(ForwardChain {
        family,
        table: table?,
        chain: name?,
        policy_drop,
        rules: Vec::new(),
    })
}

/// Table, chain and the rule's handle, comment and whether it may drop.
fn parse_rule(msg: RuleMessage) -> (String, String, ForwardRule) {
    let mut table = String::new();
    let mut chain = String::new();
    let mut rule = ForwardRule {
        handle: 0,
        comment: None,
        may_drop: false,
    };
    for attr in msg.attributes {
        match attr {
            RuleAttribute::Table(t) => table = t,
            RuleAttribute::Chain(c) => chain = c,
            RuleAttribute::Handle(h) => rule.handle = h,
            RuleAttribute::UserData(data) => rule.comment = comment_of(&data),
            RuleAttribute::Expressions(exprs) => rule.may_drop = exprs.iter().any(may_drop),
            _ => {}
        }
    }
    (table, chain, rule)
}

fn may_drop(expr: &ListAttribute<ExpressionAttribute>) -> bool {
    let ListAttribute::Element(attrs) = expr else {
        return false;
    };
    attrs.iter().any(|attr| match attr {
        ExpressionAttribute::Name(name) => DROPPING_EXPRESSIONS.contains(&name.as_str()),
        ExpressionAttribute::Data(Expressions::Immediate(imm)) => imm.iter().any(|i| {
            let Immediate::Data(DataAttribute::Verdict(verdict)) = i else {
                return false;
            };
            verdict.iter().any(|v| {
                matches!(v, VerdictAttribute::Code(code) if matches!(
                    code,
                    Verdict::Jump | Verdict::Goto | Verdict::Other(NF_DROP | NF_STOLEN | NF_QUEUE)
                ))
            })
        }),
        _ => false,
    })
}

/// `meta <key> "<ifname>" accept`, commented.
fn accept_rule(
    table: &str,
    chain: &str,
    key: MetaKey,
    ifname: &str,
    comment: &str,
) -> NfTablesMessage {
    let mut name = ifname.as_bytes().to_vec();
    name.resize(IFNAMSIZ, 0);
    NfTablesMessage::NewRule(RuleMessage {
        attributes: vec![
            RuleAttribute::Table(table.to_owned()),
            RuleAttribute::Chain(chain.to_owned()),
            RuleAttribute::Expressions(vec![
                Expressions::Meta(vec![
                    Meta::Key(key),
                    Meta::DestinationRegister(Register::Reg1),
                ])
                .into(),
                Expressions::Cmp(vec![
                    Cmp::SourceRegister(Register::Reg1),
                    Cmp::Op(Operator::Equal),
                    Cmp::Data(DataAttribute::Value(name)),
                ])
                .into(),
                Expressions::Immediate(vec![
                    Immediate::DestinationRegister(Register::Verdict),
                    Immediate::Data(DataAttribute::Verdict(vec![VerdictAttribute::Code(
                        Verdict::Other(NF_ACCEPT),
                    )])),
                ])
                .into(),
            ]),
            RuleAttribute::UserData(comment_udata(comment)),
        ],
    })
}

/// A rule comment as libnftnl encodes it: type, length, the string with its NUL.
fn comment_udata(comment: &str) -> Vec<u8> {
    let mut value = comment.as_bytes().to_vec();
    value.truncate(254);
    value.push(0);
    let mut out = vec![UDATA_RULE_COMMENT, value.len() as u8];
    out.extend(value);
    out
}

/// The comment in a rule's user data, if there is one.
fn comment_of(data: &[u8]) -> Option<String> {
    let mut at = 0;
    while at + 2 <= data.len() {
        let (kind, len) = (data[at], usize::from(data[at + 1]));
        let value = data.get(at + 2..at + 2 + len)?;
        if kind == UDATA_RULE_COMMENT {
            let text = value.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        at += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_round_trip_through_user_data() {
        let data = comment_udata("nl6:nl6sim");
        assert_eq!(data[..2], [UDATA_RULE_COMMENT, 11]);
        assert_eq!(comment_of(&data).as_deref(), Some("nl6:nl6sim"));
        // Another user-data entry first (e.g. a type annotation), then the comment.
        let mut mixed = vec![7, 2, 0, 0];
        mixed.extend(comment_udata("x"));
        assert_eq!(comment_of(&mixed).as_deref(), Some("x"));
        assert_eq!(comment_of(&[7, 9, 1]), None);
    }

    fn rule(exprs: Vec<Expressions>) -> ForwardRule {
        let msg = RuleMessage {
            attributes: vec![
                RuleAttribute::Table("t".into()),
                RuleAttribute::Chain("c".into()),
                RuleAttribute::Handle(4),
                RuleAttribute::Expressions(exprs.into_iter().map(Into::into).collect()),
            ],
        };
        let (table, chain, rule) = parse_rule(msg);
        assert_eq!((table.as_str(), chain.as_str(), rule.handle), ("t", "c", 4));
        rule
    }

    fn verdict(code: Verdict) -> Expressions {
        Expressions::Immediate(vec![
            Immediate::DestinationRegister(Register::Verdict),
            Immediate::Data(DataAttribute::Verdict(vec![VerdictAttribute::Code(code)])),
        ])
    }

    #[test]
    fn rules_that_may_drop_are_recognised() {
        assert!(!rule(vec![verdict(Verdict::Other(NF_ACCEPT))]).may_drop);
        assert!(!rule(vec![verdict(Verdict::Return)]).may_drop);
        assert!(rule(vec![verdict(Verdict::Other(NF_DROP))]).may_drop);
        assert!(rule(vec![verdict(Verdict::Jump)]).may_drop);
        let reject = Expressions::Other {
            expression_type: "reject".into(),
            attributes: vec![],
        };
        assert!(rule(vec![reject]).may_drop);
        let counter = Expressions::Other {
            expression_type: "counter".into(),
            attributes: vec![],
        };
        assert!(!rule(vec![counter]).may_drop);
    }

    #[test]
    fn only_base_chains_on_the_forward_hook_count() {
        let chain = |hook: Option<InetHookNumber>, policy: u32| ChainMessage {
            attributes: [
                Some(ChainAttribute::Table("filter".into())),
                Some(ChainAttribute::Name("FORWARD".into())),
                hook.map(|h| ChainAttribute::Hook(vec![Hook::Number(h.into()), Hook::Priority(0)])),
                Some(ChainAttribute::Policy(policy)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        };
        let fwd = forward_chain(Family::Ip, chain(Some(InetHookNumber::Forward), NF_DROP)).unwrap();
        assert!(fwd.policy_drop && fwd.filters());
        assert_eq!(fwd.to_string(), "ip filter FORWARD policy drop");
        let open = forward_chain(
            Family::Inet,
            chain(Some(InetHookNumber::Forward), NF_ACCEPT),
        );
        assert!(!open.unwrap().filters());
        assert!(forward_chain(Family::Ip, chain(Some(InetHookNumber::LocalIn), NF_DROP)).is_none());
        assert!(forward_chain(Family::Ip, chain(None, NF_DROP)).is_none());
    }

    #[test]
    fn display_lists_rules_with_comments() {
        let chain = ForwardChain {
            family: Family::Inet,
            table: "filter".into(),
            chain: "forward".into(),
            policy_drop: false,
            rules: vec![
                ForwardRule {
                    handle: 5,
                    comment: Some("nl6:a".into()),
                    may_drop: false,
                },
                ForwardRule {
                    handle: 6,
                    comment: None,
                    may_drop: true,
                },
            ],
        };
        assert_eq!(
            chain.to_string(),
            "inet filter forward policy accept\n  handle 5 comment \"nl6:a\"\n  handle 6 may drop"
        );
        assert!(chain.filters());
        assert_eq!(chain.handles_with_comment("nl6:a"), [5]);
    }
}
