//! The simulator namespace: set-up, device addresses, host routes and teardown.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use netlink_packet_route::link::InfoKind;
use netns_rs::NetNs;

use crate::config::prefix_mask;
use crate::executor::NsExecutor;
use crate::firewall::{self, Forwarding};
use crate::host::{self, HostState};
use crate::netlink::{CREATE_EXCL, CREATE_REPLACE, Netlink, msg};
use crate::{NetnsConfig, NetnsError};

/// Threads of the simulator namespace's socket executor.
const EXECUTOR_THREADS: usize = 2;
/// The sysctls setup changes globally, with the value it sets.
const GLOBAL_SYSCTLS: [(&str, &str); 2] = [
    ("net/ipv4/ip_forward", "1"),
    ("net/ipv4/conf/all/rp_filter", "0"),
];

/// The simulator namespace with its veth link to the host; see the crate docs.
///
/// Device addresses live on small address-holder links inside the namespace, one per /24
/// (kind `dummy`, or `ifb` where the kernel has no dummy driver): the kernel walks a link's
/// whole address list on every add, so one link with 30,000 addresses would take seconds.
#[derive(Debug)]
pub struct SimNetwork {
    inner: Arc<Inner>,
}

/// A cloneable handle that tears the simulator network down, e.g. from a SIGTERM task.
#[derive(Debug, Clone)]
pub struct TeardownHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: NetnsConfig,
    forwarding: Forwarding,
    exec: NsExecutor,
    live: Mutex<Option<Live>>,
}

struct Live {
    host_nl: Netlink,
    ns_nl: Netlink,
    host_veth_index: u32,
    /// /24 key (address >> 8) to the index of its address-holder link.
    shards: HashMap<u32, u32>,
    shard_kind: Option<InfoKind>,
    state: HostState,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("host_veth_index", &self.host_veth_index)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl SimNetwork {
    /// Creates the namespace and wires it to the host, after removing leftovers of an
    /// earlier run with the same name (restoring what its state file recorded).
    pub async fn setup(cfg: NetnsConfig) -> Result<SimNetwork, NetnsError> {
        cfg.validate()?;
        let inner = blocking(move || setup_blocking(cfg)).await?;
        Ok(SimNetwork {
            inner: Arc::new(inner),
        })
    }

    /// Undoes what an earlier run with this config left behind, without setting up.
    pub async fn cleanup_stale(cfg: NetnsConfig) -> Result<(), NetnsError> {
        cfg.validate()?;
        blocking(move || cleanup_leftovers(&cfg)).await
    }

    /// The configuration this network was set up with.
    pub fn config(&self) -> &NetnsConfig {
        &self.inner.cfg
    }

    /// How setup let the namespace's forwarded traffic through the host's filters.
    pub fn forwarding(&self) -> &Forwarding {
        &self.inner.forwarding
    }

    /// The executor that creates sockets inside the namespace.
    pub fn executor(&self) -> NsExecutor {
        self.inner.exec.clone()
    }

    /// A handle that can tear the network down from elsewhere (signal task, other owner).
    pub fn teardown_handle(&self) -> TeardownHandle {
        TeardownHandle {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Adds /32 device addresses inside the namespace in batched netlink requests.
    ///
    /// Addresses already present are fine; the call is all-or-error per request.
    pub async fn add_addresses(&self, addrs: &[Ipv4Addr]) -> Result<(), NetnsError> {
        check_device_addrs(addrs)?;
        let inner = Arc::clone(&self.inner);
        let addrs = addrs.to_vec();
        blocking(move || inner.lock_live()?.add_addresses(&addrs)).await
    }

    /// Removes device addresses inside the namespace; absent addresses are fine.
    pub async fn remove_addresses(&self, addrs: &[Ipv4Addr]) -> Result<(), NetnsError> {
        let inner = Arc::clone(&self.inner);
        let addrs = addrs.to_vec();
        blocking(move || inner.lock_live()?.remove_addresses(&addrs)).await
    }

    /// Adds (or replaces) the host route `net/prefix_len via ns_addr`; teardown deletes it.
    pub async fn add_route(&self, net: Ipv4Addr, prefix_len: u8) -> Result<(), NetnsError> {
        if prefix_len > 32 {
            return Err(NetnsError::InvalidArgument {
                field: "prefix_len",
                reason: format!("{prefix_len} is above 32"),
            });
        }
        if u32::from(net) & !prefix_mask(prefix_len) != 0 {
            return Err(NetnsError::InvalidArgument {
                field: "net",
                reason: format!("{net}/{prefix_len} has host bits set"),
            });
        }
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let gateway = inner.cfg.ns_addr;
            inner.lock_live()?.add_route(net, prefix_len, gateway)
        })
        .await
    }

    /// Deletes the namespace, its routes and rules and restores the sysctls it changed.
    pub async fn teardown(self) -> Result<(), NetnsError> {
        self.teardown_handle().teardown().await
    }
}

impl TeardownHandle {
    /// Tears the network down; later calls (from any handle) return `Ok` and do nothing.
    pub async fn teardown(&self) -> Result<(), NetnsError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.teardown()).await
    }

    /// Same as [`TeardownHandle::teardown`] for threads outside the async runtime.
    ///
    /// It blocks on netlink (and iptables, if setup used it); not for use inside a raw POSIX
    /// signal handler.
    pub fn teardown_blocking(&self) -> Result<(), NetnsError> {
        self.inner.teardown()
    }

    /// Whether the network is still set up.
    pub fn is_live(&self) -> bool {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

impl Inner {
    fn lock_live(&self) -> Result<LiveGuard<'_>, NetnsError> {
        let guard = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(NetnsError::TornDown {
                name: self.cfg.name.clone(),
            });
        }
        Ok(LiveGuard(guard))
    }

    fn teardown(&self) -> Result<(), NetnsError> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(live) = live else { return Ok(()) };
        self.exec.shutdown();
        let state = live.state.clone();
        drop(live);
        let failures = undo(&state);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(NetnsError::Teardown {
                name: self.cfg.name.clone(),
                failures,
            })
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let live = self.live.get_mut().unwrap_or_else(|e| e.into_inner());
        if live.is_some() {
            tracing::warn!(
                namespace = %self.cfg.name,
                "simulator network dropped without teardown; the next setup cleans it up"
            );
        }
    }
}

/// The locked, live state (checked not torn down).
struct LiveGuard<'a>(MutexGuard<'a, Option<Live>>);

impl std::ops::Deref for LiveGuard<'_> {
    type Target = Live;
    fn deref(&self) -> &Live {
        self.0.as_ref().expect("checked in lock_live")
    }
}

impl std::ops::DerefMut for LiveGuard<'_> {
    fn deref_mut(&mut self) -> &mut Live {
        self.0.as_mut().expect("checked in lock_live")
    }
}

impl Live {
    fn add_addresses(&mut self, addrs: &[Ipv4Addr]) -> Result<(), NetnsError> {
        let keys: BTreeSet<u32> = addrs.iter().map(|a| shard_key(*a)).collect();
        self.ensure_shards(&keys)?;
        let msgs = addrs
            .iter()
            .map(|a| msg::new_address(self.shards[&shard_key(*a)], *a, 32))
            .collect();
        let failures = self.ns_nl.batch(msgs, CREATE_EXCL).map_err(|source| {
            nl_err(
                "add addresses",
                format!("{} addresses", addrs.len()),
                source,
            )
        })?;
        report(failures, libc::EEXIST, "add address", addrs)
    }

    fn remove_addresses(&mut self, addrs: &[Ipv4Addr]) -> Result<(), NetnsError> {
        let present: Vec<(Ipv4Addr, u32)> = addrs
            .iter()
            .filter_map(|a| self.shards.get(&shard_key(*a)).map(|idx| (*a, *idx)))
            .collect();
        let msgs = present
            .iter()
            .map(|(a, idx)| msg::del_address(*idx, *a, 32))
            .collect();
        let failures = self.ns_nl.batch(msgs, 0).map_err(|source| {
            nl_err(
                "remove addresses",
                format!("{} addresses", present.len()),
                source,
            )
        })?;
        let order: Vec<Ipv4Addr> = present.iter().map(|(a, _)| *a).collect();
        report(failures, libc::EADDRNOTAVAIL, "remove address", &order)
    }

    fn add_route(&mut self, net: Ipv4Addr, len: u8, gateway: Ipv4Addr) -> Result<(), NetnsError> {
        let route = (net, len, gateway);
        if !self.state.routes.contains(&route) {
            // Record first: a crash right after the add must still undo it.
            self.state.routes.push(route);
            self.state.save()?;
        }
        self.host_nl
            .request(
                msg::new_route(net, len, gateway, Some(self.host_veth_index)),
                CREATE_REPLACE,
            )
            .map_err(|source| nl_err("add route", format!("{net}/{len} via {gateway}"), source))
    }

    /// Creates the address-holder links of the given /24 keys that do not exist yet.
    fn ensure_shards(&mut self, keys: &BTreeSet<u32>) -> Result<(), NetnsError> {
        let missing: Vec<u32> = keys
            .iter()
            .copied()
            .filter(|k| !self.shards.contains_key(k))
            .collect();
        let Some(&first) = missing.first() else {
            return Ok(());
        };
        let mut rest = &missing[..];
        let kind = match &self.shard_kind {
            Some(kind) => kind.clone(),
            None => {
                let kind = self.probe_kind(first)?;
                self.shard_kind = Some(kind.clone());
                rest = &missing[1..];
                kind
            }
        };
        let msgs = rest
            .iter()
            .map(|k| msg::new_link(&shard_name(*k), kind.clone()))
            .collect();
        let failures = self.ns_nl.batch(msgs, CREATE_EXCL).map_err(|source| {
            nl_err(
                "create address links",
                format!("{} links", rest.len()),
                source,
            )
        })?;
        if let Some((i, source)) = failures
            .into_iter()
            .find(|(_, e)| e.raw_os_error() != Some(libc::EEXIST))
        {
            return Err(nl_err("create link", shard_name(rest[i]), source));
        }
        let indexes = self
            .ns_nl
            .link_indexes()
            .map_err(|source| nl_err("list links", "in namespace".to_owned(), source))?;
        for key in missing {
            let name = shard_name(key);
            let index = indexes.get(&name).copied().ok_or_else(|| {
                nl_err(
                    "find link",
                    name.clone(),
                    io::Error::from_raw_os_error(libc::ENODEV),
                )
            })?;
            self.shards.insert(key, index);
        }
        Ok(())
    }

    /// Creates the first address-holder link: `dummy`, or `ifb` if the kernel lacks dummy.
    fn probe_kind(&mut self, key: u32) -> Result<InfoKind, NetnsError> {
        let name = shard_name(key);
        for kind in [InfoKind::Dummy, InfoKind::Ifb] {
            match self
                .ns_nl
                .request(msg::new_link(&name, kind.clone()), CREATE_EXCL)
            {
                Ok(()) => return Ok(kind),
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                    tracing::debug!("link kind {kind} not available: {e}");
                }
                Err(source) => return Err(nl_err("create link", name, source)),
            }
        }
        Err(nl_err(
            "create link",
            format!("{name} (neither dummy nor ifb is available in this kernel)"),
            io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        ))
    }
}

fn setup_blocking(cfg: NetnsConfig) -> Result<Inner, NetnsError> {
    cleanup_leftovers(&cfg)?;
    let forwarding = firewall::plan_host(&cfg.iptables, &cfg.host_veth)?;
    let mut state = HostState {
        namespace: cfg.name.clone(),
        host_veth: cfg.host_veth.clone(),
        ..HostState::default()
    };
    match &forwarding {
        Forwarding::Iptables(program) => {
            state.iptables = Some(program.clone());
            state.rules = host::forward_rules(&cfg.name, &cfg.host_veth);
        }
        Forwarding::NfTables(chains) => state.nft_chains = chains.clone(),
        Forwarding::Unfiltered => {}
    }
    for (key, want) in GLOBAL_SYSCTLS {
        let current = host::sysctl_read(key)?;
        if current != want {
            state.sysctls.push((key.to_owned(), current));
        }
    }
    // Written before anything changes, so a crash in the middle is undone next time.
    state.save()?;
    match build(&cfg, state.clone(), forwarding) {
        Ok(inner) => Ok(inner),
        Err(e) => {
            let failures = undo(&state);
            if !failures.is_empty() {
                tracing::warn!(
                    namespace = %cfg.name,
                    "undoing a failed setup left work undone: {}",
                    failures.join("; ")
                );
            }
            Err(e)
        }
    }
}

fn build(cfg: &NetnsConfig, state: HostState, forwarding: Forwarding) -> Result<Inner, NetnsError> {
    let ns = NetNs::new(&cfg.name).map_err(|e| ns_err(&cfg.name, format!("create: {e}")))?;
    let veths = format!("{} / {}", cfg.host_veth, cfg.ns_veth);
    let mut host_nl =
        Netlink::open().map_err(|source| nl_err("open socket", "host".to_owned(), source))?;
    host_nl
        .request(
            msg::new_veth(&cfg.host_veth, &cfg.ns_veth, ns.file().as_raw_fd()),
            CREATE_EXCL,
        )
        .map_err(|source| nl_err("create veth pair", veths.clone(), source))?;
    drop(ns);

    let host_veth_index = find_link(&mut host_nl, &cfg.host_veth)?;
    let host_net = format!("{}/{} on {}", cfg.host_addr, cfg.prefix_len, cfg.host_veth);
    host_nl
        .request(
            msg::new_address(host_veth_index, cfg.host_addr, cfg.prefix_len),
            CREATE_EXCL,
        )
        .map_err(|source| nl_err("add address", host_net, source))?;
    host_nl
        .request(msg::link_up(host_veth_index), 0)
        .map_err(|source| nl_err("set up", cfg.host_veth.clone(), source))?;
    host::sysctl_write(&format!("net/ipv4/conf/{}/rp_filter", cfg.host_veth), "0")?;

    let mut ns_nl = open_netlink_in(&cfg.name)
        .map_err(|source| nl_err("open socket", format!("in {}", cfg.name), source))?;
    let ns_veth_index = find_link(&mut ns_nl, &cfg.ns_veth)?;
    let lo_index = find_link(&mut ns_nl, "lo")?;
    let ns_net = format!("{}/{} on {}", cfg.ns_addr, cfg.prefix_len, cfg.ns_veth);
    ns_nl
        .request(
            msg::new_address(ns_veth_index, cfg.ns_addr, cfg.prefix_len),
            CREATE_EXCL,
        )
        .map_err(|source| nl_err("add address", ns_net, source))?;
    for (index, name) in [(ns_veth_index, cfg.ns_veth.as_str()), (lo_index, "lo")] {
        ns_nl
            .request(msg::link_up(index), 0)
            .map_err(|source| nl_err("set up", name.to_owned(), source))?;
    }
    ns_nl
        .request(
            msg::new_route(Ipv4Addr::UNSPECIFIED, 0, cfg.host_addr, Some(ns_veth_index)),
            CREATE_REPLACE,
        )
        .map_err(|source| {
            nl_err(
                "add default route",
                format!("via {} in {}", cfg.host_addr, cfg.name),
                source,
            )
        })?;

    for (key, value) in GLOBAL_SYSCTLS {
        host::sysctl_write(key, value)?;
    }
    if let Some(program) = &state.iptables {
        for rule in &state.rules {
            host::iptables_insert(program, rule)?;
        }
    }
    if !state.nft_chains.is_empty() {
        firewall::insert_nft_rules(
            &state.nft_chains,
            &cfg.host_veth,
            &host::rule_comment(&cfg.name),
        )?;
    }
    let exec =
        NsExecutor::in_namespace(&cfg.name, EXECUTOR_THREADS).map_err(NetnsError::Executor)?;
    Ok(Inner {
        cfg: cfg.clone(),
        forwarding,
        exec,
        live: Mutex::new(Some(Live {
            host_nl,
            ns_nl,
            host_veth_index,
            shards: HashMap::new(),
            shard_kind: None,
            state,
        })),
    })
}

/// Removes what an earlier run left: first what its state file lists, then any namespace,
/// veth or FORWARD rule (iptables or nf_tables) of this config that is still around.
fn cleanup_leftovers(cfg: &NetnsConfig) -> Result<(), NetnsError> {
    if let Some(state) = HostState::load(&cfg.name)? {
        tracing::info!(namespace = %cfg.name, "undoing the changes of an earlier run");
        let failures = undo(&state);
        if !failures.is_empty() {
            return Err(NetnsError::Teardown {
                name: cfg.name.clone(),
                failures,
            });
        }
    }
    remove_namespace(&cfg.name)?;
    let mut nl =
        Netlink::open().map_err(|source| nl_err("open socket", "host".to_owned(), source))?;
    delete_veth(&mut nl, &cfg.host_veth)?;
    if let Some(program) = firewall::find_iptables(&cfg.iptables) {
        for rule in host::forward_rules(&cfg.name, &cfg.host_veth) {
            host::iptables_delete(&program, &rule)?;
        }
    }
    firewall::delete_nft_rules(None, &host::rule_comment(&cfg.name))
}

/// Undoes a recorded state; returns one message per failed step (the state file is kept
/// unless every step worked).
fn undo(state: &HostState) -> Vec<String> {
    let mut failures = Vec::new();
    match Netlink::open() {
        Ok(mut nl) => {
            for (dst, len, gw) in &state.routes {
                if let Err(e) = nl.request(msg::del_route(*dst, *len, *gw), 0) {
                    // Gone already (e.g. with the veth): ESRCH.
                    if e.raw_os_error() != Some(libc::ESRCH) {
                        failures.push(format!("delete route {dst}/{len} via {gw}: {e}"));
                    }
                }
            }
            if !state.host_veth.is_empty()
                && let Err(e) = delete_veth(&mut nl, &state.host_veth)
            {
                failures.push(crate::error::chain(&e));
            }
        }
        Err(e) => failures.push(format!("open netlink socket: {e}")),
    }
    if !state.rules.is_empty() {
        let program = state
            .iptables
            .clone()
            .and_then(|p| firewall::find_iptables(&crate::IptablesLookup::Program(p)))
            .or_else(|| firewall::find_iptables(&crate::IptablesLookup::Path));
        match program {
            Some(program) => {
                for rule in &state.rules {
                    if let Err(e) = host::iptables_delete(&program, rule) {
                        failures.push(crate::error::chain(&e));
                    }
                }
            }
            None => failures.push(format!(
                "delete {} iptables rules: no iptables program (recorded: {})",
                state.rules.len(),
                state
                    .iptables
                    .as_deref()
                    .map_or_else(|| "none".into(), |p| p.display().to_string())
            )),
        }
    }
    if !state.nft_chains.is_empty()
        && let Err(e) = firewall::delete_nft_rules(
            Some(&state.nft_chains),
            &host::rule_comment(&state.namespace),
        )
    {
        failures.push(crate::error::chain(&e));
    }
    if !state.namespace.is_empty()
        && let Err(e) = remove_namespace(&state.namespace)
    {
        failures.push(crate::error::chain(&e));
    }
    for (key, value) in state.sysctls.iter().rev() {
        if let Err(e) = host::sysctl_write(key, value) {
            failures.push(crate::error::chain(&e));
        }
    }
    if failures.is_empty()
        && let Err(e) = HostState::remove_file(&state.namespace)
    {
        failures.push(crate::error::chain(&e));
    }
    failures
}

/// Deletes a host link if it exists and is a veth (never someone's real interface).
fn delete_veth(nl: &mut Netlink, name: &str) -> Result<(), NetnsError> {
    let found = nl
        .link_by_name(name)
        .map_err(|source| nl_err("look up link", name.to_owned(), source))?;
    match found {
        None => Ok(()),
        Some((_, Some(kind))) if kind == "veth" => match nl.request(msg::del_link(name), 0) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            Err(source) => Err(nl_err("delete link", name.to_owned(), source)),
        },
        Some((_, kind)) => Err(NetnsError::InvalidConfig {
            field: "host_veth",
            reason: format!(
                "{name} exists and is not a veth (kind {}); refusing to delete it",
                kind.as_deref().unwrap_or("unknown")
            ),
        }),
    }
}

/// Unmounts and removes `/run/netns/<name>` if present.
fn remove_namespace(name: &str) -> Result<(), NetnsError> {
    match NetNs::get(name) {
        Ok(ns) => {
            let path = ns.path().to_path_buf();
            match ns.remove() {
                Ok(()) => Ok(()),
                // A file that was never mounted (a run that died while creating it).
                Err(e) => {
                    std::fs::remove_file(&path).map_err(|_| ns_err(name, format!("remove: {e}")))
                }
            }
        }
        Err(netns_rs::Error::OpenNsError(_, e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ns_err(name, format!("open: {e}"))),
    }
}

fn find_link(nl: &mut Netlink, name: &str) -> Result<u32, NetnsError> {
    nl.link_by_name(name)
        .map_err(|source| nl_err("look up link", name.to_owned(), source))?
        .map(|(index, _)| index)
        .ok_or_else(|| {
            nl_err(
                "look up link",
                name.to_owned(),
                io::Error::from_raw_os_error(libc::ENODEV),
            )
        })
}

/// Opens a netlink socket inside the namespace from a short-lived thread.
fn open_netlink_in(name: &str) -> io::Result<Netlink> {
    let name = name.to_owned();
    thread::spawn(move || {
        NetNs::get(&name)
            .and_then(|ns| ns.enter())
            .map_err(|e| io::Error::other(format!("entering {name}: {e}")))?;
        Netlink::open()
    })
    .join()
    .map_err(|_| io::Error::other("namespace thread panicked"))?
}

fn check_device_addrs(addrs: &[Ipv4Addr]) -> Result<(), NetnsError> {
    if let Some(bad) = addrs
        .iter()
        .find(|a| a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast())
    {
        return Err(NetnsError::InvalidArgument {
            field: "addrs",
            reason: format!("{bad} is not a unicast device address"),
        });
    }
    Ok(())
}

/// Turns batch failures into an error, ignoring the errno that means "already done".
fn report(
    failures: Vec<(usize, io::Error)>,
    benign: i32,
    op: &'static str,
    addrs: &[Ipv4Addr],
) -> Result<(), NetnsError> {
    let mut real = failures
        .into_iter()
        .filter(|(_, e)| e.raw_os_error() != Some(benign));
    let Some((i, source)) = real.next() else {
        return Ok(());
    };
    let more = real.count();
    let addr = addrs
        .get(i)
        .map_or_else(|| "?".to_owned(), |a| a.to_string());
    let target = if more == 0 {
        addr
    } else {
        format!("{addr} (and {more} more)")
    };
    Err(nl_err(op, target, source))
}

fn shard_key(addr: Ipv4Addr) -> u32 {
    u32::from(addr) >> 8
}

fn shard_name(key: u32) -> String {
    format!("nl6d{key:06x}")
}

fn nl_err(op: &'static str, target: String, source: io::Error) -> NetnsError {
    NetnsError::Netlink { op, target, source }
}

fn ns_err(name: &str, reason: String) -> NetnsError {
    NetnsError::Namespace {
        name: name.to_owned(),
        reason,
    }
}

async fn blocking<T, F>(f: F) -> Result<T, NetnsError>
where
    F: FnOnce() -> Result<T, NetnsError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NetnsError::Executor(io::Error::other(format!("blocking task: {e}"))))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_group_by_24_and_fit_ifnamsiz() {
        let a = Ipv4Addr::new(10, 42, 7, 1);
        let b = Ipv4Addr::new(10, 42, 7, 254);
        let c = Ipv4Addr::new(10, 42, 8, 1);
        assert_eq!(shard_key(a), shard_key(b));
        assert_ne!(shard_key(a), shard_key(c));
        assert_eq!(shard_name(shard_key(a)), "nl6d0a2a07");
        assert!(shard_name(u32::MAX >> 8).len() <= 15);
    }

    #[test]
    fn device_addresses_are_checked() {
        let err = check_device_addrs(&[Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::LOCALHOST])
            .unwrap_err()
            .to_string();
        assert!(err.contains("addrs") && err.contains("127.0.0.1"), "{err}");
    }

    #[test]
    fn report_ignores_benign_errors_and_counts_the_rest() {
        let addrs = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];
        let eexist = || io::Error::from_raw_os_error(libc::EEXIST);
        assert!(report(vec![(0, eexist())], libc::EEXIST, "add address", &addrs).is_ok());
        let failures = vec![
            (0, io::Error::from_raw_os_error(libc::EINVAL)),
            (1, io::Error::from_raw_os_error(libc::EINVAL)),
        ];
        let err = report(failures, libc::EEXIST, "add address", &addrs)
            .unwrap_err()
            .to_string();
        assert!(err.contains("10.0.0.1 (and 1 more)"), "{err}");
    }

    #[tokio::test]
    async fn invalid_config_is_rejected_before_touching_the_host() {
        let cfg = NetnsConfig {
            name: "bad/name".into(),
            ..NetnsConfig::default()
        };
        let err = SimNetwork::setup(cfg).await.unwrap_err();
        assert!(matches!(
            err,
            NetnsError::InvalidConfig { field: "name", .. }
        ));
    }
}
