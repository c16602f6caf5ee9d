//! ONCE: the current values, a `sync_response`, then the RPC closes.

use nl6_ifstate::DeviceModel;
use nl6_resolver::Selection;

use super::emit::Emitter;

/// Queues the whole ONCE exchange (nothing to wait for, so no task).
pub(crate) fn run(
    device: &DeviceModel,
    selection: &Selection,
    updates_only: bool,
    emit: &mut Emitter,
) {
    if !updates_only {
        emit.send_current(device, selection);
    }
    emit.sync();
    emit.finish(None);
}
