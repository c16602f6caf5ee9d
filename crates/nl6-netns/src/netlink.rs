//! A small synchronous rtnetlink client that sends requests in batches.
//!
//! Many requests are packed into one datagram; only the last one of a chunk asks for an
//! acknowledgement, the kernel reports failures of the others on its own. A socket talks to
//! the network namespace it was created in, whatever thread uses it later.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// Requests per datagram (each address request is about 40 bytes).
const CHUNK_MSGS: usize = 512;
/// Receive buffer asked for with SO_RCVBUFFORCE, room for many error reports.
const RCVBUF_BYTES: libc::c_int = 8 << 20;
/// Upper bound on one datagram from the kernel.
const RECV_BYTES: usize = 64 * 1024;
/// No kernel answer within this time means something is badly wrong.
pub(crate) const RECV_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags for "create, fail if it exists".
pub(crate) const CREATE_EXCL: u16 = NLM_F_CREATE | NLM_F_EXCL;
/// Flags for "create or replace".
pub(crate) const CREATE_REPLACE: u16 = NLM_F_CREATE | NLM_F_REPLACE;

/// One failed request of a batch: its position in the batch and the kernel's error.
pub(crate) type BatchFailure = (usize, io::Error);

/// A route-netlink socket bound to the namespace it was opened in.
pub(crate) struct Netlink {
    sock: Socket,
    seq: u32,
    rx: Vec<u8>,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        sock.set_cap_ack(true)?;
        // Extended acks are optional; older kernels may refuse the option.
        let _ = sock.set_ext_ack(true);
        let fd = sock.as_raw_fd();
        if set_int_opt(fd, libc::SO_RCVBUFFORCE, RCVBUF_BYTES).is_err() {
            set_int_opt(fd, libc::SO_RCVBUF, RCVBUF_BYTES)?;
        }
        set_recv_timeout(fd, RECV_TIMEOUT)?;
        Ok(Self {
            sock,
            seq: 0,
            rx: Vec::with_capacity(RECV_BYTES),
        })
    }

    /// Sends one request and waits for its acknowledgement.
    pub(crate) fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        match self.batch(vec![msg], flags)?.pop() {
            Some((_, err)) => Err(err),
            None => Ok(()),
        }
    }

    /// Sends requests in chunks; returns the failures, transport errors end the batch.
    pub(crate) fn batch(
        &mut self,
        msgs: Vec<RouteNetlinkMessage>,
        flags: u16,
    ) -> io::Result<Vec<BatchFailure>> {
        let mut failures = Vec::new();
        let mut tx = Vec::with_capacity(CHUNK_MSGS * 64);
        let mut offset = 0;
        let mut msgs = msgs.into_iter().peekable();
        while msgs.peek().is_some() {
            tx.clear();
            let first = self.seq.wrapping_add(1);
            let mut count = 0usize;
            while count < CHUNK_MSGS {
                let Some(msg) = msgs.next() else { break };
                count += 1;
                let last = count == CHUNK_MSGS || msgs.peek().is_none();
                let ack = if last { NLM_F_ACK } else { 0 };
                self.seq = self.seq.wrapping_add(1);
                append(&mut tx, msg, NLM_F_REQUEST | flags | ack, self.seq);
            }
            self.sock.send(&tx, 0)?;
            let last_seq = self.seq;
            self.read_until_ack(last_seq, |seq, err| {
                let index = seq.wrapping_sub(first) as usize;
                if index < count {
                    failures.push((offset + index, err));
                }
            })?;
            offset += count;
        }
        Ok(failures)
    }

    /// Lists the links of the namespace: name to interface index.
    pub(crate) fn link_indexes(&mut self) -> io::Result<HashMap<String, u32>> {
        let mut tx = Vec::new();
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = RouteNetlinkMessage::GetLink(LinkMessage::default());
        append(&mut tx, msg, NLM_F_REQUEST | NLM_F_DUMP, seq);
        self.sock.send(&tx, 0)?;
        let mut links = HashMap::new();
        loop {
            self.recv()?;
            let mut done = false;
            for msg in parse_all::<RouteNetlinkMessage>(&self.rx) {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => done = true,
                    NetlinkPayload::Error(e) => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        if let Some(name) = link_name(&link) {
                            links.insert(name, link.header.index);
                        }
                    }
                    _ => {}
                }
            }
            if done {
                return Ok(links);
            }
        }
    }

    /// Looks one link up by name; `None` if the namespace has no such link.
    pub(crate) fn link_by_name(&mut self, name: &str) -> io::Result<Option<(u32, Option<String>)>> {
        let mut req = LinkMessage::default();
        req.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let mut tx = Vec::new();
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        append(
            &mut tx,
            RouteNetlinkMessage::GetLink(req),
            NLM_F_REQUEST,
            seq,
        );
        self.sock.send(&tx, 0)?;
        loop {
            self.recv()?;
            for msg in parse_all::<RouteNetlinkMessage>(&self.rx) {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        let err = e.to_io();
                        return match err.raw_os_error() {
                            Some(libc::ENODEV) => Ok(None),
                            _ => Err(err),
                        };
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        return Ok(Some((link.header.index, link_kind(&link))));
                    }
                    _ => {}
                }
            }
        }
    }

    fn read_until_ack(
        &mut self,
        last_seq: u32,
        mut on_error: impl FnMut(u32, io::Error),
    ) -> io::Result<()> {
        loop {
            self.recv()?;
            let mut done = false;
            for msg in parse_all::<RouteNetlinkMessage>(&self.rx) {
                let seq = msg.header.sequence_number;
                if let NetlinkPayload::Error(e) = msg.payload {
                    if e.code.is_some() {
                        on_error(seq, e.to_io());
                    }
                    done |= seq == last_seq;
                }
            }
            if done {
                return Ok(());
            }
        }
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

fn append(tx: &mut Vec<u8>, msg: RouteNetlinkMessage, flags: u16, seq: u32) {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    packet.finalize();
    let start = tx.len();
    let len = packet.buffer_len();
    tx.resize(start + align4(len), 0);
    packet.serialize(&mut tx[start..start + len]);
}

/// `len` rounded up to netlink's 4-byte alignment.
pub(crate) fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Splits a datagram into messages of any netlink family, skipping the ones this crate
/// cannot parse.
pub(crate) fn parse_all<T>(buf: &[u8]) -> Vec<NetlinkMessage<T>>
where
    T: netlink_packet_core::NetlinkDeserializable,
{
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= buf.len() {
        let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if len < 16 || at + len > buf.len() {
            break;
        }
        match NetlinkMessage::<T>::deserialize(&buf[at..at + len]) {
            Ok(msg) => out.push(msg),
            Err(e) => tracing::debug!("skipping unparsable netlink message: {e}"),
        }
        at += align4(len);
    }
    out
}

fn link_name(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

fn link_kind(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k.to_string()),
            _ => None,
        }),
        _ => None,
    })
}

fn set_int_opt(fd: RawFd, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    crate::sockopt::set_option(fd, libc::SOL_SOCKET, opt, &value)
}

pub(crate) fn set_recv_timeout(fd: RawFd, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    crate::sockopt::set_option(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
}

/// Message builders for the few requests this crate sends.
pub(crate) mod msg {
    use super::*;

    /// A link of the given kind, created administratively up.
    pub(crate) fn new_link(name: &str, kind: InfoKind) -> RouteNetlinkMessage {
        let mut link = LinkMessage::default();
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        link.attributes.push(LinkAttribute::IfName(name.to_owned()));
        link.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(kind)]));
        RouteNetlinkMessage::NewLink(link)
    }

    /// A veth pair whose peer is created directly inside the namespace `ns_fd`.
    pub(crate) fn new_veth(host: &str, peer: &str, ns_fd: RawFd) -> RouteNetlinkMessage {
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_owned()));
        peer_msg.attributes.push(LinkAttribute::NetNsFd(ns_fd));
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(host.to_owned()));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        RouteNetlinkMessage::NewLink(link)
    }

    /// Deletes a link by name.
    pub(crate) fn del_link(name: &str) -> RouteNetlinkMessage {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.to_owned()));
        RouteNetlinkMessage::DelLink(link)
    }

    /// Sets a link administratively up.
    pub(crate) fn link_up(index: u32) -> RouteNetlinkMessage {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        RouteNetlinkMessage::SetLink(link)
    }

    fn address(index: u32, addr: Ipv4Addr, prefix_len: u8) -> AddressMessage {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix_len;
        msg.header.scope = AddressScope::Universe;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr.into()));
        msg.attributes.push(AddressAttribute::Address(addr.into()));
        msg
    }

    /// Adds `addr/prefix_len` to the link `index`.
    pub(crate) fn new_address(index: u32, addr: Ipv4Addr, prefix_len: u8) -> RouteNetlinkMessage {
        RouteNetlinkMessage::NewAddress(address(index, addr, prefix_len))
    }

    /// Removes `addr/prefix_len` from the link `index`.
    pub(crate) fn del_address(index: u32, addr: Ipv4Addr, prefix_len: u8) -> RouteNetlinkMessage {
        RouteNetlinkMessage::DelAddress(address(index, addr, prefix_len))
    }

    fn route(dst: Ipv4Addr, prefix_len: u8, gateway: Ipv4Addr, oif: Option<u32>) -> RouteMessage {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = prefix_len;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Static;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        if prefix_len > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
        }
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        if let Some(oif) = oif {
            msg.attributes.push(RouteAttribute::Oif(oif));
        }
        msg
    }

    /// Adds (or replaces) the route `dst/prefix_len via gateway`.
    pub(crate) fn new_route(
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Ipv4Addr,
        oif: Option<u32>,
    ) -> RouteNetlinkMessage {
        RouteNetlinkMessage::NewRoute(route(dst, prefix_len, gateway, oif))
    }

    /// Deletes the route `dst/prefix_len via gateway`.
    pub(crate) fn del_route(
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Ipv4Addr,
    ) -> RouteNetlinkMessage {
        let mut msg = route(dst, prefix_len, gateway, None);
        // Deletion matches on what is given; leave protocol/scope/type open.
        msg.header.protocol = RouteProtocol::Unspec;
        msg.header.scope = RouteScope::NoWhere;
        msg.header.kind = RouteType::Unspec;
        RouteNetlinkMessage::DelRoute(msg)
    }
}
