//! Shared helpers for nl6's network-namespace integration tests (dev-only, not published).
//!
//! The namespace suites of `nl6-netns`, `nl6-fleet` and `nl6d` need the same plumbing, kept
//! here once:
//!
//! - [`root_or_skip`]: [`skip`] with a reason unless root, else hold this test binary's
//!   lock (sysctls and the FORWARD chain are global, so tests of one binary run one at a time);
//!   [`root_test`] and [`root_test_with_sysctls`] wrap a whole test body in that, a fresh
//!   network, a runtime and cleanup;
//! - [`TestNet`]: namespace and veth names (pid + counter) and subnets unique to one test, from
//!   an [`AddressBlock`] per suite;
//! - guards that undo everything on drop, also when an assertion panics: [`NetCleanup`],
//!   [`CollectorNs`], [`ForwardDropGuard`];
//! - [`HostSnapshot`]: the host state a set-up touches, with a readable [`HostSnapshot::diff`];
//! - [`CollectorSpec`]: a second namespace playing a collector host behind the host's
//!   forwarding;
//! - readers: [`run`], [`sysctl`], [`forward_rules`], [`count_forward_rules`],
//!   [`nft_forward_chains`], [`count_ns_addresses`], [`state_file`];
//! - [`skip`]: a `SKIPPED` line (collected by `cargo xtask test`), a failure when `CI=true`
//!   and root;
//! - waiting: [`eventually`] polls a condition until a deadline; [`runtime`] builds the
//!   runtime the tests use.
//!
//! With the `gnmi` feature also `get_ifindex` (a gNMI Get probe from the host) and
//! `CollectorNs::start_collector` (a gNMIReverse collector inside the namespace).
//!
//! # Example
//!
//! A namespace test: skipped unless root; everything it creates is removed on drop.
//!
//! ```no_run
//! use nl6_testkit::{AddressBlock, HostSnapshot, root_test};
//!
//! const BLOCK: AddressBlock = AddressBlock::new('e', 250, 200);
//!
//! fn a_collector_namespace_leaves_nothing_behind() {
//!     root_test("a_collector_namespace_leaves_nothing_behind", BLOCK, async |net| {
//!         let before = HostSnapshot::take();
//!         let collector = net.collector();
//!         let _listener = collector.listener(collector.addrs[0], 6030).await;
//!         // ... set up `net.cfg`, dial from `net.device(0)` to `collector.addrs[0]:6030` ...
//!         drop(collector);
//!         before.assert_unchanged("after the collector namespace went away");
//!     });
//! }
//! ```
//!
//! Names and waiting need no root:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use nl6_testkit::{AddressBlock, TestNet, eventually, runtime};
//!
//! let block = AddressBlock::new('e', 250, 200);
//! let net = TestNet::new(block);
//! assert!(net.cfg.name.starts_with("nl6t"));
//! assert_eq!(net.device(0).octets()[3], 1);
//!
//! let start = Instant::now();
//! let late = runtime().block_on(eventually(Duration::from_secs(5), || {
//!     start.elapsed() > Duration::from_millis(50)
//! }));
//! assert!(late);
//! ```

mod collector;
#[cfg(feature = "gnmi")]
mod gnmi;
mod guards;
mod harness;
mod host;
mod limits;
mod net;
mod snapshot;
mod wait;

pub use collector::{CollectorNs, CollectorSpec};
#[cfg(feature = "gnmi")]
pub use gnmi::get_ifindex;
pub use guards::{ForwardDropGuard, NetCleanup};
pub use harness::{root_test, root_test_with_sysctls};
pub use host::{
    SKIP_LOG_ENV, count_forward_rules, count_ns_addresses, expects_forward_rules, forward_rules,
    has_iptables, is_root, nft_forward_chains, root_or_skip, run, skip, state_file, sysctl,
};
pub use limits::raise_open_files;
pub use net::{AddressBlock, TestNet};
pub use snapshot::HostSnapshot;
pub use wait::{eventually, runtime};

/// Compiles the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
