//! nl6d's configuration, owned by the binary: every setting defined once
//! ([`settings`]: the flag, the file key and the environment variable from one line),
//! merged in [`layers`], validated into the start-up [`plan`], with [`errors`] that name
//! the key and where its value came from.

pub mod errors;
pub mod layers;
pub mod plan;
pub mod settings;

pub use plan::Plan;
pub use settings::{Flags, Settings};
