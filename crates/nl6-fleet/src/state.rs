//! Interface-state changes requested by an operator (the REST endpoints), with
//! optional revert-after-duration timers.

use std::str::FromStr;
use std::time::Duration;

use nl6_ifstate::{AdminStatus, IfState, LinkStatus, unix_now_ns};

/// Longest duration a temporary state change may last.
pub const MAX_STATE_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Which leaf an operator sets.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StateLeaf {
    /// The link (what `oper-status` follows while admin is UP).
    Oper,
    /// `admin-status`.
    Admin,
}

/// The state of an interface after a change, as the REST reply reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateReply {
    /// The stored link status.
    pub link: &'static str,
    /// The derived oper-status.
    pub oper_status: &'static str,
    /// The admin-status.
    pub admin_status: &'static str,
    /// Whether the change was masked (a link change while admin is DOWN or TESTING).
    pub masked: bool,
}

impl StateReply {
    pub(crate) fn of(state: IfState, masked: bool) -> StateReply {
        StateReply {
            link: state.link.as_str(),
            oper_status: state.oper().as_str(),
            admin_status: state.admin.as_str(),
            masked,
        }
    }
}

/// The value a leaf is set to: parsed from `UP`, `DOWN` or `TESTING`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum StateValue {
    Link(LinkStatus),
    Admin(AdminStatus),
}

impl StateValue {
    pub(crate) fn parse(leaf: StateLeaf, text: &str) -> Result<StateValue, String> {
        match leaf {
            StateLeaf::Oper => LinkStatus::from_str(text)
                .map(StateValue::Link)
                .map_err(|e| e.to_string()),
            StateLeaf::Admin => AdminStatus::from_str(text)
                .map(StateValue::Admin)
                .map_err(|e| e.to_string()),
        }
    }

    /// The current value of `leaf` in `state`.
    pub(crate) fn current(leaf: StateLeaf, state: IfState) -> StateValue {
        match leaf {
            StateLeaf::Oper => StateValue::Link(state.link),
            StateLeaf::Admin => StateValue::Admin(state.admin),
        }
    }

    /// Applies the value to interface `idx` of `model`; returns whether it was masked.
    pub(crate) fn apply(self, model: &nl6_ifstate::DeviceModel, idx: usize) -> bool {
        let change = match self {
            StateValue::Link(link) => model.set_link(idx, link, unix_now_ns()),
            StateValue::Admin(admin) => model.set_admin(idx, admin, unix_now_ns()),
        };
        change.masked
    }
}
