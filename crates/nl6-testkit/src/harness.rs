//! The frame of one namespace test: root check, lock, fresh network, runtime, cleanup.

use crate::guards::{NON_DEFAULT_SYSCTLS, SysctlGuard};
use crate::host::root_or_skip;
use crate::net::{AddressBlock, TestNet};
use crate::wait::runtime;

/// Runs `body` on [`runtime`] with a fresh [`TestNet`] of `block` while holding this binary's
/// lock, then undoes the network's set-up (also after a panic); as non-root prints why `test`
/// skips and returns.
pub fn root_test(test: &str, block: AddressBlock, body: impl AsyncFnOnce(&TestNet)) {
    frame(test, block, &[], body);
}

/// Like [`root_test`], but first sets the sysctls a set-up changes to values it never writes
/// (`ip_forward` 0, `all/rp_filter` 2), restored last: a test can see teardown restore them.
pub fn root_test_with_sysctls(test: &str, block: AddressBlock, body: impl AsyncFnOnce(&TestNet)) {
    frame(test, block, &NON_DEFAULT_SYSCTLS, body);
}

fn frame(
    test: &str,
    block: AddressBlock,
    sysctls: &[(&str, &str)],
    body: impl AsyncFnOnce(&TestNet),
) {
    let Some(_serial) = root_or_skip(test) else {
        return;
    };
    // Declared before the cleanup, so dropped after it: the cleanup may restore the values a
    // set-up recorded (the ones set here), and the originals must win.
    let _sysctls = SysctlGuard::set(sysctls);
    let net = TestNet::new(block);
    let _cleanup = net.cleanup();
    runtime().block_on(body(&net));
}
