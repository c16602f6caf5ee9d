//! The event a visible interface-state change emits: made by the device, carried by
//! its listeners.

use crate::status::{IfState, OperStatus};

/// A visible state change of one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateEvent {
    /// 1-based ifindex of the interface; 0 when no interface changed but the device's
    /// other subtrees did (see [`StateEvent::is_subtrees`]).
    pub ifindex: u32,
    /// State before the change.
    pub before: IfState,
    /// State after the change (its `last_change_ns` is the time of this change).
    pub after: IfState,
}

impl StateEvent {
    /// True when the event is about the device's other subtrees (an LLDP neighbour came
    /// or went), not an interface: readers re-read those subtrees at
    /// `after.last_change_ns`.
    pub fn is_subtrees(&self) -> bool {
        self.ifindex == 0
    }

    /// True when `oper-status` changed.
    pub fn oper_changed(&self) -> bool {
        self.before.oper() != self.after.oper()
    }

    /// True when `admin-status` changed.
    pub fn admin_changed(&self) -> bool {
        self.before.admin != self.after.admin
    }

    /// The oper status after the change.
    pub fn oper(&self) -> OperStatus {
        self.after.oper()
    }
}
