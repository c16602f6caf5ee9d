//! The flavor seam: what a dial-out wire flavor plugs into.
//!
//! A [`Flavor`] dials through the device's [`DeviceNet`] handle (TCP, TLS, HTTP/2 or
//! UDP, all bound to the device address) and returns a [`Session`]:
//!
//! * [`Session::Push`]: a [`PushStream`] plus the flavor's [`SampleEncoder`]. The
//!   exporter produces samples (SAMPLE ticks, on-change events), has the encoder turn
//!   each into zero, one or many [`WireMessage`]s, queues, sends and counts them — the
//!   ledger is the same for every flavor.
//! * [`Session::Serve`]: the flavor runs the session itself ([`ServeSession`]), e.g. a
//!   tunnel that serves dial-in over a connection the device dialed.
//!
//! [`Flavor::encodings`], [`Flavor::options`] and [`Flavor::check`] validate the block
//! for that flavor; a [`FlavorRegistry`] holds the flavors by name.

mod gnmireverse;
mod nokia;
mod sonic;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::config::{ConfigError, ConfigKey, DialoutConfig, Encoding, FlavorOption, or_list};
use crate::error::FlavorError;
use crate::net::DeviceNet;
use crate::session::{Session, SessionContext};

pub use gnmireverse::{
    GNMIREVERSE_PUBLISH, GNMIREVERSE_PUBLISH_GET, GetResponseEncoder, GnmiReverse,
    SubscribeResponseEncoder,
};
pub use nokia::{DEFAULT_SUBSCRIPTION, NOKIA_PUBLISH, Nokia};
pub use sonic::{DEFAULT_RETRY_INTERVAL, SONIC_PUBLISH, Sonic};

/// A dial-out wire flavor. Implement it and register it in a [`FlavorRegistry`] (the
/// fleet's, see `nl6_fleet::FleetConfig::flavors`) to add one; the exporter only ever
/// talks to this trait.
pub trait Flavor: Send + Sync + 'static {
    /// The flavor's name in configuration (e.g. `gnmireverse`).
    fn name(&self) -> &str;

    /// One line on what it speaks (listed in the OpenAPI document and `nl6d --help`).
    fn summary(&self) -> &str;

    /// The encodings it can send (default: `json_ietf`, `json` and `proto`).
    fn encodings(&self) -> &[Encoding] {
        &[Encoding::JsonIetf, Encoding::Json, Encoding::Proto]
    }

    /// The flavor-specific block fields it takes (default: none).
    fn options(&self) -> &[FlavorOption] {
        &[]
    }

    /// Anything else about `cfg` this flavor rejects (called after the common checks).
    fn check(&self, cfg: &DialoutConfig) -> Result<(), ConfigError> {
        let _ = cfg;
        Ok(())
    }

    /// The fixed wait before the next attempt once every collector failed (SONiC's
    /// `retry_interval`); `None` (the default) = nl6's jittered exponential backoff.
    /// A configured `retry_interval` wins.
    fn retry_interval(&self) -> Option<Duration> {
        None
    }

    /// Opens one session of one device to the collector `net` dials.
    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>>;
}

/// The flavors an exporter knows, by name.
#[derive(Clone)]
pub struct FlavorRegistry {
    flavors: BTreeMap<String, Arc<dyn Flavor>>,
}

impl Default for FlavorRegistry {
    /// The built-in flavors: `gnmireverse`, `nokia` and `sonic`.
    fn default() -> Self {
        let mut registry = FlavorRegistry::empty();
        registry
            .register(Arc::new(GnmiReverse))
            .register(Arc::new(Nokia))
            .register(Arc::new(Sonic));
        registry
    }
}

impl fmt::Debug for FlavorRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.flavors.keys()).finish()
    }
}

impl FlavorRegistry {
    /// A registry without any flavor.
    pub fn empty() -> FlavorRegistry {
        FlavorRegistry {
            flavors: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a flavor under its [`Flavor::name`].
    pub fn register(&mut self, flavor: Arc<dyn Flavor>) -> &mut Self {
        self.flavors.insert(flavor.name().to_string(), flavor);
        self
    }

    /// The flavor called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Flavor>> {
        self.flavors.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.flavors.keys().map(String::as_str).collect()
    }

    /// Every flavor, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Flavor>> {
        self.flavors.values()
    }

    /// The flavors that take `option`, by name.
    pub fn taking(&self, option: FlavorOption) -> Vec<&str> {
        self.flavors
            .values()
            .filter(|f| f.options().contains(&option))
            .map(|f| f.name())
            .collect()
    }

    /// One line per flavor: `name: summary (encodings; options)`, for documentation.
    pub fn describe(&self) -> String {
        self.flavors
            .values()
            .map(|f| {
                let encodings: Vec<&str> = f.encodings().iter().map(|e| e.as_str()).collect();
                let options: Vec<&str> = f.options().iter().map(|o| o.field()).collect();
                format!(
                    "{}: {} (encodings {}; options {})",
                    f.name(),
                    f.summary(),
                    encodings.join(", "),
                    if options.is_empty() {
                        "none".to_string()
                    } else {
                        options.join(", ")
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Validation against a registry lives with the flavors, so the configuration module
/// needs none of them.
impl DialoutConfig {
    /// Validates against the built-in flavors (`gnmireverse`, `nokia`, `sonic`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_for(&FlavorRegistry::default())
    }

    /// Validates against the flavors of `flavors`: the common checks, then the flavor's
    /// encodings, options and own [`crate::Flavor::check`].
    pub fn validate_for(&self, flavors: &FlavorRegistry) -> Result<(), ConfigError> {
        self.validate_common()?;
        let name = self.flavor_name();
        let Some(flavor) = flavors.get(name) else {
            return Err(ConfigError::new(
                ConfigKey::Flavor,
                format!(
                    "{name:?} is not supported; use {}",
                    or_list(&flavors.names())
                ),
            ));
        };
        if !flavor.encodings().contains(&self.encoding) {
            let allowed: Vec<&str> = flavor.encodings().iter().map(|e| e.as_str()).collect();
            return Err(ConfigError::new(
                ConfigKey::Encoding,
                format!(
                    "flavor {name} cannot send {}; use {}",
                    self.encoding,
                    or_list(&allowed)
                ),
            ));
        }
        for option in self.options_set() {
            if !flavor.options().contains(&option) {
                let takes: Vec<&str> = flavor.options().iter().map(|o| o.field()).collect();
                let takes = if takes.is_empty() {
                    "no flavor options".to_string()
                } else {
                    format!("only {}", takes.join(", "))
                };
                return Err(ConfigError::new(
                    option.key(),
                    format!(
                        "is not an option of flavor {name} (it takes {takes}); flavors that take {}: {}",
                        option.field(),
                        or_list(&flavors.taking(option))
                    ),
                ));
            }
        }
        flavor.check(self)
    }
}
