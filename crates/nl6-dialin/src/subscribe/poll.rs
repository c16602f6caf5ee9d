//! POLL: the current values and a `sync_response` at the start and on every Poll.

use nl6_resolver::Selection;

use super::emit::Emitter;
use super::{Control, Session};

/// Runs a POLL RPC until the client closes its side or goes away.
pub(crate) async fn run(
    mut session: Session,
    selection: Selection,
    updates_only: bool,
    mut emit: Emitter,
) {
    let device = session.info.device.clone();
    if !updates_only {
        emit.send_current(&device, &selection);
    }
    emit.sync();
    loop {
        match session.next(&emit).await {
            Control::Poll => {
                emit.send_current(&device, &selection);
                emit.sync();
            }
            Control::ClientDone => {
                // No more polls can come: the exchange is complete.
                emit.finish(None);
                return;
            }
            Control::Stop => return,
        }
    }
}
