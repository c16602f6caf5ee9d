//! What an interface-state event changes, for ON_CHANGE emitters (dial-in and dial-out).

use nl6_ifstate::{StateEvent, unix_now_ns};

use crate::leaf::{Leaf, LeafSet};

/// The on-change leaves `event` changed: `oper-status` and `admin-status` when they
/// differ, `last-change` when it moved.
pub fn changed_leaves(event: &StateEvent) -> LeafSet {
    let mut changed = LeafSet::EMPTY;
    if event.oper_changed() {
        changed.insert(Leaf::OperStatus);
    }
    if event.admin_changed() {
        changed.insert(Leaf::AdminStatus);
    }
    if event.before.last_change_ns != event.after.last_change_ns {
        changed.insert(Leaf::LastChange);
    }
    changed
}

/// The timestamp of an event's notification: its `last-change`, or now when unset.
pub fn event_time_ns(event: &StateEvent) -> u64 {
    match event.after.last_change_ns {
        0 => unix_now_ns(),
        t => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl6_ifstate::{AdminStatus, DeviceModel, DeviceSpec, LinkStatus};

    #[test]
    fn a_link_flap_changes_oper_and_last_change_only() {
        let device = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let event = device.set_link(0, LinkStatus::Down, 42).event.unwrap();
        assert_eq!(
            changed_leaves(&event),
            [Leaf::OperStatus, Leaf::LastChange].into_iter().collect()
        );
        assert_eq!(event_time_ns(&event), 42);
        let event = device.set_admin(1, AdminStatus::Down, 43).event.unwrap();
        assert_eq!(
            changed_leaves(&event),
            [Leaf::OperStatus, Leaf::AdminStatus, Leaf::LastChange]
                .into_iter()
                .collect()
        );
    }
}
