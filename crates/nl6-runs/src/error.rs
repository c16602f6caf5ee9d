//! Run errors.

use nl6_fleet::FleetError;

/// Why a run could not be armed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A field of the request is invalid; nothing was armed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, as in the request body (`window`, `devices.batch`, ...).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A run is armed or running; one runs at a time.
    #[error(
        "run {id} is {state}; one run at a time: wait until GET /api/v1/runs/{id} says finished"
    )]
    Busy {
        /// The run in progress.
        id: String,
        /// Its state.
        state: &'static str,
    },
    /// The fleet refused the selection (an unknown batch address, say).
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// Called outside a tokio runtime.
    #[error("runs must be armed inside a tokio runtime")]
    NoRuntime,
}

impl RunError {
    /// An invalid-field error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RunError {
        RunError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
