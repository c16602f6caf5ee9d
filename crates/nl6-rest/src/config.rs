//! nl6d's configuration: defaults ← TOML file ← environment (`NL6_…`) ← flags, merged
//! with figment. Every key has the same name in each layer: `gnmi_port` in the file,
//! `NL6_GNMI_PORT` in the environment, `--gnmi-port` on the command line.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use nl6_dialin::DialinConfig;
use nl6_dialout::{CaSource, DialoutConfig, FlavorRegistry, TlsSettings};
use nl6_fleet::{BatchSpec, FleetConfig, NetworkMode};
use nl6_ifstate::{ErrorScenario, FlapScenario, InitialState};
use nl6_netns::NetnsConfig;
use nl6_tls::Identity;

use crate::{BearerToken, ServeOptions};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables read.
pub const ENV_PREFIX: &str = "NL6_";

/// A byte count such as `268435456`, `256MiB`, `64KiB` or `1GiB`.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?}; use bytes or KiB, MiB, GiB (e.g. 256MiB)"
            ));
        }
    };
    let n: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 256MiB"))?;
    let bytes = n
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes < 1 << 20 {
        return Err(format!("{text:?} is below the 1MiB minimum"));
    }
    Ok(bytes)
}

/// The first line of a secret file, without surrounding whitespace.
fn read_secret(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err("the file is empty".to_string());
    }
    Ok(secret.to_string())
}

/// An error and its sources, `: `-separated.
fn error_with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Every setting of nl6d. Field names are the keys of the TOML file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// REST API listen address.
    pub listen: SocketAddr,
    /// File holding the REST bearer token (required to listen on a non-loopback address).
    pub rest_token_file: Option<PathBuf>,
    /// The REST bearer token itself (environment `NL6_REST_TOKEN` or the file; no flag,
    /// so it never shows in `ps`).
    pub rest_token: Option<String>,
    /// Most REST connections open at once.
    pub rest_max_connections: usize,
    /// First address of the seed batch (127.42.0.1 in loopback mode, 10.42.0.1 with netns).
    pub auto_start_ip: Option<Ipv4Addr>,
    /// Devices in the seed batch (0 = start with none).
    pub auto_count: u32,
    /// Netmask of the seed batch: 8, 16 or 24.
    pub auto_netmask: u8,
    /// Interfaces per device.
    pub interfaces: u32,
    /// Error counter scenario: clean, typical, degraded, failing.
    pub if_error_scenario: String,
    /// Link-flap scenario: clean, rare, typical, aggressive.
    pub if_flap_scenario: String,
    /// Interface state at start: all-up, all-admin-down, oper-down or N%.
    pub if_initial_state: String,
    /// Host names of the seed batch: a pattern with {n} and {ip}, or a prefix (empty =
    /// derived from the address, nl6-127-42-0-1).
    pub hostname: String,
    /// Fleet-wide cap on link-flap events per second (0 = unlimited).
    pub if_flap_max_events_per_sec: u32,
    /// gNMI dial-in port on every device address.
    pub gnmi_port: u16,
    /// Serve gNMI dial-in with TLS.
    pub gnmi_tls: bool,
    /// PEM certificate for dial-in TLS (a self-signed one is generated when absent).
    pub gnmi_tls_cert: Option<PathBuf>,
    /// PEM private key for `gnmi_tls_cert`.
    pub gnmi_tls_key: Option<PathBuf>,
    /// Require this username in gNMI metadata (with `gnmi_password`).
    pub gnmi_username: Option<String>,
    /// Require this password in gNMI metadata (with `gnmi_username`).
    pub gnmi_password: Option<String>,
    /// File holding the gNMI password (instead of `gnmi_password`).
    pub gnmi_password_file: Option<PathBuf>,
    /// Shortest SAMPLE interval accepted from dial-in clients (duration, e.g. "1s").
    pub gnmi_min_sample_interval: String,
    /// Bytes of dial-in Subscribe responses queued fleet-wide before the slowest streams
    /// drop theirs (e.g. "256MiB").
    pub gnmi_queue_budget: String,
    /// `dial-in` (serve gNMI) or `dial-out` (also push) for the seed batch.
    pub gnmi_mode: String,
    /// Collector `host:port` (required with dial-out).
    pub gnmi_dialout_collector: Option<String>,
    /// Dial-out wire flavor.
    pub gnmi_dialout_flavor: String,
    /// Dial-out value encoding: json_ietf or proto.
    pub gnmi_dialout_encoding: String,
    /// Dial-out trigger: sample or on-change.
    pub gnmi_dialout_sub_mode: String,
    /// Dial-out SAMPLE cadence (1 s floor).
    pub gnmi_dialout_interval: String,
    /// Dial out with TLS.
    pub gnmi_dialout_tls: bool,
    /// Skip verification of the collector's certificate (development only).
    pub gnmi_dialout_tls_insecure: bool,
    /// PEM CA bundle verifying the collector (empty = system roots).
    pub gnmi_dialout_tls_ca: Option<PathBuf>,
    /// Present the simulator's certificate to the collector (mutual TLS).
    pub gnmi_dialout_mtls: bool,
    /// gNMI paths pushed by dial-out devices.
    pub gnmi_dialout_paths: Vec<String>,
    /// Dial-out SAMPLE phase: spread (even load) or aligned (bursts).
    pub gnmi_dialout_phase: String,
    /// Dial-out HTTP/2 keepalive ping interval; "0" = no pings.
    pub gnmi_dialout_keepalive: String,
    /// Dial-out destination group (sonic): collectors tried in order; replaces
    /// gnmi_dialout_collector.
    pub gnmi_dialout_collectors: Vec<String>,
    /// Dial-out fixed retry interval once every collector failed (sonic; "0" = the
    /// flavor's default, 30s).
    pub gnmi_dialout_retry_interval: String,
    /// Time on a backup collector before trying the first again (sonic; "0" = stay).
    pub gnmi_dialout_failback: String,
    /// Dial-out subscription-name metadata (nokia; empty = nl6).
    pub gnmi_dialout_subscription: String,
    /// What gnmireverse publishes: subscribe or get.
    pub gnmi_dialout_publish: String,
    /// Put the fleet in a network namespace (needs root).
    pub netns: bool,
    /// Name of the simulator network namespace.
    pub netns_name: String,
    /// Seed mixed into every device's counters.
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            rest_token_file: None,
            rest_token: None,
            rest_max_connections: crate::DEFAULT_MAX_CONNECTIONS,
            auto_start_ip: None,
            auto_count: 10,
            auto_netmask: 16,
            interfaces: 10,
            if_error_scenario: "clean".into(),
            if_flap_scenario: "clean".into(),
            if_initial_state: "all-up".into(),
            hostname: String::new(),
            if_flap_max_events_per_sec: 0,
            gnmi_port: 9339,
            gnmi_tls: true,
            gnmi_tls_cert: None,
            gnmi_tls_key: None,
            gnmi_username: None,
            gnmi_password: None,
            gnmi_password_file: None,
            gnmi_min_sample_interval: "1s".into(),
            gnmi_queue_budget: "256MiB".into(),
            gnmi_mode: "dial-in".into(),
            gnmi_dialout_collector: None,
            gnmi_dialout_flavor: "gnmireverse".into(),
            gnmi_dialout_encoding: "json_ietf".into(),
            gnmi_dialout_sub_mode: "sample".into(),
            gnmi_dialout_interval: "10s".into(),
            gnmi_dialout_tls: true,
            gnmi_dialout_tls_insecure: false,
            gnmi_dialout_tls_ca: None,
            gnmi_dialout_mtls: false,
            gnmi_dialout_paths: vec![nl6_dialout::DEFAULT_PATH.to_string()],
            gnmi_dialout_phase: "spread".into(),
            gnmi_dialout_keepalive: "0".into(),
            gnmi_dialout_collectors: Vec::new(),
            gnmi_dialout_retry_interval: "0".into(),
            gnmi_dialout_failback: "0".into(),
            gnmi_dialout_subscription: String::new(),
            gnmi_dialout_publish: "subscribe".into(),
            netns: false,
            netns_name: "nl6sim".into(),
            seed: 0,
        }
    }
}

/// A setting that could not be used: which key, where it came from, and why.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The layers could not be merged or parsed (figment names the key and source).
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// A value parsed but is not valid.
    #[error("invalid {key} ({source_name}): {reason}")]
    Invalid {
        /// The key, as in the TOML file.
        key: String,
        /// Where the value came from (default, TOML file, environment, flag).
        source_name: String,
        /// What is wrong.
        reason: String,
    },
}

/// How the built-in defaults name themselves in error messages.
const DEFAULT_SOURCE: &str = "default";

/// How the flag layer names itself in error messages.
const FLAG_SOURCE: &str = "command-line flag";

/// A serialized layer (the defaults, or the flags given) that names its source.
struct NamedLayer<T> {
    source: &'static str,
    value: T,
}

impl<T: Serialize> Provider for NamedLayer<T> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.source)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.value).data()
    }
}

/// The merged layers, kept to report where a value came from.
pub struct LoadedSettings {
    /// The settings.
    pub settings: Settings,
    figment: Figment,
    /// `NL6_*` environment variables that name no key (ignored; worth a warning).
    pub ignored_env: Vec<String>,
    /// The dial-out flavors the daemon offers (the built-ins unless replaced with
    /// [`LoadedSettings::with_flavors`]); the plan validates against them and hands them
    /// to the fleet.
    pub flavors: FlavorRegistry,
}

impl Settings {
    /// Merges defaults ← `file` (TOML) ← `NL6_*` environment ← `flags` (a serializable
    /// struct whose absent flags are skipped).
    pub fn load(
        file: Option<&Path>,
        flags: impl Serialize,
    ) -> Result<LoadedSettings, SettingsError> {
        let mut figment = Figment::from(NamedLayer {
            source: DEFAULT_SOURCE,
            value: Settings::default(),
        });
        if let Some(path) = file {
            if !path.exists() {
                return Err(SettingsError::Invalid {
                    key: "config".into(),
                    source_name: "command-line flag".into(),
                    reason: format!("{} does not exist", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let keys = Settings::keys();
        let ignored_env = std::env::vars()
            .filter_map(|(name, _)| {
                let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                (!keys.contains(&key)).then_some(name)
            })
            .collect();
        figment = figment
            .merge(
                Env::prefixed(ENV_PREFIX)
                    .filter(move |k| keys.iter().any(|known| k == known.as_str())),
            )
            .merge(NamedLayer {
                source: FLAG_SOURCE,
                value: flags,
            });
        let settings: Settings = figment.extract().map_err(Box::new)?;
        Ok(LoadedSettings {
            settings,
            figment,
            ignored_env,
            flavors: FlavorRegistry::default(),
        })
    }

    /// Every configuration key.
    pub fn keys() -> Vec<String> {
        let mut keys: Vec<String> = Serialized::defaults(Settings::default())
            .data()
            .map(|profiles| profiles.values().flat_map(|d| d.keys().cloned()).collect())
            .unwrap_or_default();
        // Optional keys without a default are not serialized; list them by hand.
        keys.extend(
            [
                "auto_start_ip",
                "gnmi_tls_cert",
                "gnmi_tls_key",
                "gnmi_username",
                "gnmi_password",
                "gnmi_dialout_collector",
                "gnmi_dialout_tls_ca",
            ]
            .map(String::from),
        );
        keys
    }
}

/// Everything nl6d needs to start, derived from [`Settings`].
pub struct Plan {
    /// How to run the fleet.
    pub fleet: FleetConfig,
    /// The batch created at start, if any.
    pub seed_batch: Option<BatchSpec>,
    /// REST listen address.
    pub listen: SocketAddr,
    /// REST listener limits and token.
    pub rest: ServeOptions,
}

impl LoadedSettings {
    /// Uses `flavors` instead of the built-ins.
    pub fn with_flavors(mut self, flavors: FlavorRegistry) -> LoadedSettings {
        self.flavors = flavors;
        self
    }

    fn invalid(&self, key: &str, reason: impl std::fmt::Display) -> SettingsError {
        let source_name = self
            .figment
            .find_metadata(key)
            .filter(|_| {
                // An Option key left unset has no value, only the defaults' metadata.
                self.figment
                    .find_value(key)
                    .is_ok_and(|v| !matches!(v, figment::value::Value::Empty(..)))
            })
            .map(|m| {
                if m.name.contains("environment") {
                    format!(
                        "from environment variable {ENV_PREFIX}{}",
                        key.to_uppercase()
                    )
                } else if m.name == DEFAULT_SOURCE {
                    DEFAULT_SOURCE.to_string()
                } else if m.name == FLAG_SOURCE {
                    format!("from {FLAG_SOURCE} --{}", key.replace('_', "-"))
                } else {
                    match &m.source {
                        Some(source) => format!("from {} {source}", m.name),
                        None => format!("from {}", m.name),
                    }
                }
            })
            .unwrap_or_else(|| "not set".to_string());
        SettingsError::Invalid {
            key: key.to_string(),
            source_name,
            reason: reason.to_string(),
        }
    }

    fn duration(&self, key: &str, text: &str) -> Result<Duration, SettingsError> {
        humantime::parse_duration(text.trim())
            .map_err(|e| self.invalid(key, format!("{text:?}: {e}")))
    }

    fn parsed<T: FromStr>(&self, key: &str, text: &str) -> Result<T, SettingsError>
    where
        T::Err: std::fmt::Display,
    {
        text.parse().map_err(|e| self.invalid(key, e))
    }

    /// Validates every setting and builds the start-up plan.
    pub fn plan(&self) -> Result<Plan, SettingsError> {
        let s = &self.settings;
        let network = if s.netns {
            if s.netns_name.is_empty() || s.netns_name.len() > 64 || s.netns_name.contains('/') {
                return Err(self.invalid("netns_name", "must be 1..=64 characters without '/'"));
            }
            NetworkMode::Netns(NetnsConfig {
                name: s.netns_name.clone(),
                ..NetnsConfig::default()
            })
        } else {
            NetworkMode::Loopback
        };
        let identity = self.identity()?;
        let password = match (&s.gnmi_password, &s.gnmi_password_file) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(
                    "gnmi_password_file",
                    "cannot be combined with gnmi_password: give the password one way",
                ));
            }
            (Some(p), None) => Some(p.clone()),
            (None, Some(path)) => Some(read_secret(path).map_err(|e| {
                self.invalid("gnmi_password_file", format!("{}: {e}", path.display()))
            })?),
            (None, None) => None,
        };
        let credentials = match (&s.gnmi_username, &password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(self.invalid("gnmi_password", "required with gnmi_username"));
            }
            (None, Some(_)) => {
                return Err(self.invalid("gnmi_username", "required with gnmi_password"));
            }
        };
        let tls = if s.gnmi_tls {
            let identity = identity.as_ref().expect("identity exists when TLS is on");
            Some(
                nl6_tls::server_config(identity, None, true)
                    .map_err(|e| self.invalid("gnmi_tls_cert", e))?,
            )
        } else {
            None
        };
        let dialin = DialinConfig {
            port: s.gnmi_port,
            tls,
            min_sample_interval: self
                .duration("gnmi_min_sample_interval", &s.gnmi_min_sample_interval)?,
            credentials,
            queue_budget: parse_bytes(&s.gnmi_queue_budget)
                .map_err(|e| self.invalid("gnmi_queue_budget", e))?,
            ..DialinConfig::default()
        };
        dialin
            .validate()
            .map_err(|e| self.invalid("gnmi_min_sample_interval", e))?;
        let seed_batch = self.seed_batch()?;
        let rest = self.rest_options()?;
        Ok(Plan {
            fleet: FleetConfig {
                network,
                dialin: Some(dialin),
                identity,
                flap_max_events_per_sec: s.if_flap_max_events_per_sec,
                seed: s.seed,
                resolver: None,
                dialer: nl6_netns::DialerConfig::default(),
                flavors: self.flavors.clone(),
            },
            seed_batch,
            listen: s.listen,
            rest,
        })
    }

    /// The REST listener's limits and token; a non-loopback `listen` needs a token.
    fn rest_options(&self) -> Result<ServeOptions, SettingsError> {
        let s = &self.settings;
        let token = match (&s.rest_token, &s.rest_token_file) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(
                    "rest_token_file",
                    "cannot be combined with NL6_REST_TOKEN (rest_token): give the token one way",
                ));
            }
            (Some(text), None) => {
                Some(BearerToken::new(text).map_err(|e| self.invalid("rest_token", e))?)
            }
            (None, Some(path)) => Some(
                BearerToken::from_file(path)
                    .map_err(|e| self.invalid("rest_token_file", error_with_sources(&e)))?,
            ),
            (None, None) => None,
        };
        if token.is_none() && !s.listen.ip().is_loopback() {
            return Err(self.invalid(
                "listen",
                format!(
                    "{} is not a loopback address, and the REST API creates and deletes                      devices: set a bearer token with --rest-token-file FILE (or                      NL6_REST_TOKEN), or listen on 127.0.0.1",
                    s.listen
                ),
            ));
        }
        if s.rest_max_connections == 0 {
            return Err(self.invalid("rest_max_connections", "must be at least 1"));
        }
        Ok(ServeOptions {
            max_connections: s.rest_max_connections,
            token,
            ..ServeOptions::default()
        })
    }

    /// The simulator certificate: from files, or self-signed when TLS needs one.
    fn identity(&self) -> Result<Option<Identity>, SettingsError> {
        let s = &self.settings;
        match (&s.gnmi_tls_cert, &s.gnmi_tls_key) {
            (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)
                .map(Some)
                .map_err(|e| self.invalid("gnmi_tls_cert", e)),
            (Some(_), None) => Err(self.invalid("gnmi_tls_key", "required with gnmi_tls_cert")),
            (None, Some(_)) => Err(self.invalid("gnmi_tls_cert", "required with gnmi_tls_key")),
            (None, None) if s.gnmi_tls || s.gnmi_dialout_mtls => {
                let names = ["nl6.sim", "localhost", "127.0.0.1"].map(String::from);
                Identity::self_signed(&names)
                    .map(Some)
                    .map_err(|e| self.invalid("gnmi_tls_cert", e))
            }
            (None, None) => Ok(None),
        }
    }

    fn seed_batch(&self) -> Result<Option<BatchSpec>, SettingsError> {
        let s = &self.settings;
        if s.auto_count == 0 {
            return Ok(None);
        }
        let dialout = match s.gnmi_mode.as_str() {
            "dial-in" | "dial_in" | "dialin" => None,
            "dial-out" | "dial_out" | "dialout" => Some(self.dialout()?),
            other => {
                return Err(
                    self.invalid("gnmi_mode", format!("{other:?} is not dial-in or dial-out"))
                );
            }
        };
        let default_start = if s.netns {
            Ipv4Addr::new(10, 42, 0, 1)
        } else {
            Ipv4Addr::new(127, 42, 0, 1)
        };
        let spec = BatchSpec {
            start_ip: s.auto_start_ip.unwrap_or(default_start),
            device_count: s.auto_count,
            netmask: s.auto_netmask,
            interfaces: s.interfaces,
            speed_bps: 1_000_000_000,
            error_scenario: self
                .parsed::<ErrorScenario>("if_error_scenario", &s.if_error_scenario)?,
            flap_scenario: self.parsed::<FlapScenario>("if_flap_scenario", &s.if_flap_scenario)?,
            initial_state: self.parsed::<InitialState>("if_initial_state", &s.if_initial_state)?,
            hostname: Some(s.hostname.trim().to_string()).filter(|h| !h.is_empty()),
            dialout,
        };
        nl6_fleet::plan(spec.start_ip, spec.device_count, spec.netmask).map_err(|e| match e {
            nl6_fleet::FleetError::Invalid { field, reason } => {
                let key = match field.as_str() {
                    "device_count" => "auto_count",
                    "netmask" => "auto_netmask",
                    _ => "auto_start_ip",
                };
                self.invalid(key, reason)
            }
            other => self.invalid("auto_start_ip", other),
        })?;
        Ok(Some(spec))
    }

    fn dialout(&self) -> Result<DialoutConfig, SettingsError> {
        let s = &self.settings;
        let collector = s.gnmi_dialout_collector.clone().unwrap_or_default();
        if collector.is_empty() && s.gnmi_dialout_collectors.is_empty() {
            return Err(self.invalid(
                "gnmi_dialout_collector",
                "required with gnmi_mode = dial-out: set --gnmi-dialout-collector host:port \
                 (or NL6_GNMI_DIALOUT_COLLECTOR, or gnmi_dialout_collector in the file), or a \
                 group with --gnmi-dialout-collectors",
            ));
        }
        let cfg = DialoutConfig {
            collector,
            flavor: s.gnmi_dialout_flavor.clone(),
            encoding: self.parsed("gnmi_dialout_encoding", &s.gnmi_dialout_encoding)?,
            mode: self.parsed("gnmi_dialout_sub_mode", &s.gnmi_dialout_sub_mode)?,
            paths: s.gnmi_dialout_paths.clone(),
            sample_interval: self.duration("gnmi_dialout_interval", &s.gnmi_dialout_interval)?,
            phase: self.parsed("gnmi_dialout_phase", &s.gnmi_dialout_phase)?,
            keepalive: nl6_dialout::parse_keepalive(&s.gnmi_dialout_keepalive)
                .map_err(|e| self.invalid("gnmi_dialout_keepalive", e.reason))?,
            tls: TlsSettings {
                enabled: s.gnmi_dialout_tls,
                insecure_skip_verify: s.gnmi_dialout_tls_insecure,
                ca: s.gnmi_dialout_tls_ca.clone().map(CaSource::File),
                mtls: s.gnmi_dialout_mtls,
            },
            collectors: s.gnmi_dialout_collectors.clone(),
            retry_interval: nl6_dialout::parse_optional_duration(
                "retry_interval",
                &s.gnmi_dialout_retry_interval,
            )
            .map_err(|e| self.invalid("gnmi_dialout_retry_interval", e.reason))?,
            failback: nl6_dialout::parse_optional_duration("failback", &s.gnmi_dialout_failback)
                .map_err(|e| self.invalid("gnmi_dialout_failback", e.reason))?,
            subscription: s.gnmi_dialout_subscription.clone(),
            publish: self.parsed("gnmi_dialout_publish", &s.gnmi_dialout_publish)?,
        };
        cfg.validate_for(&self.flavors).map_err(|e| {
            use nl6_dialout::ConfigKey as K;
            let key = match e.key() {
                K::Collector => "gnmi_dialout_collector",
                K::Flavor => "gnmi_dialout_flavor",
                K::Encoding => "gnmi_dialout_encoding",
                K::Mode => "gnmi_dialout_sub_mode",
                K::SampleInterval => "gnmi_dialout_interval",
                K::Paths => "gnmi_dialout_paths",
                K::Phase => "gnmi_dialout_phase",
                K::Keepalive => "gnmi_dialout_keepalive",
                K::Collectors => "gnmi_dialout_collectors",
                K::RetryInterval => "gnmi_dialout_retry_interval",
                K::Failback => "gnmi_dialout_failback",
                K::Subscription => "gnmi_dialout_subscription",
                K::Publish => "gnmi_dialout_publish",
                K::Tls => "gnmi_dialout_tls",
            };
            self.invalid(key, e)
        })?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        gnmi_port: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gnmi_mode: Option<String>,
    }

    #[test]
    fn example_file_documents_the_defaults() {
        let text = include_str!("../../../nl6.example.toml");
        let from_file: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .extract()
            .unwrap();
        assert_eq!(from_file, Settings::default());
        // Every key of Settings appears in the example, set or commented out.
        for key in Settings::keys() {
            assert!(
                text.contains(&format!("{key} =")),
                "nl6.example.toml does not document {key}"
            );
        }
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("2097152"), Ok(2 << 20));
        assert!(parse_bytes("64KiB").unwrap_err().contains("1MiB minimum"));
        assert!(parse_bytes("10MB").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure returns figment::Error
    fn a_non_loopback_listener_needs_a_token_and_secrets_come_from_files() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("open.toml", "listen = \"0.0.0.0:8080\"\nauto_count = 0\n")?;
            let loaded = Settings::load(Some(Path::new("open.toml")), Flags::default()).unwrap();
            let err = loaded.plan().err().expect("refused").to_string();
            assert!(
                err.contains("listen")
                    && err.contains("--rest-token-file")
                    && err.contains("loopback"),
                "{err}"
            );

            jail.set_env("NL6_REST_TOKEN", "short");
            let loaded = Settings::load(Some(Path::new("open.toml")), Flags::default()).unwrap();
            let err = loaded.plan().err().expect("refused").to_string();
            assert!(err.contains("rest_token") && err.contains("16"), "{err}");

            jail.set_env("NL6_REST_TOKEN", "0123456789abcdef0123");
            let loaded = Settings::load(Some(Path::new("open.toml")), Flags::default()).unwrap();
            assert!(loaded.plan().unwrap().rest.token.is_some());

            jail.create_file("password", "p4ss\n")?;
            jail.create_file(
                "auth.toml",
                "auto_count = 0\ngnmi_username = \"ops\"\ngnmi_password_file = \"password\"\n",
            )?;
            let loaded = Settings::load(Some(Path::new("auth.toml")), Flags::default()).unwrap();
            let plan = loaded.plan().unwrap();
            let credentials = plan.fleet.dialin.unwrap().credentials;
            assert_eq!(credentials, Some(("ops".to_string(), "p4ss".to_string())));
            jail.set_env("NL6_GNMI_PASSWORD", "other");
            let loaded = Settings::load(Some(Path::new("auth.toml")), Flags::default()).unwrap();
            let err = loaded.plan().err().expect("refused").to_string();
            assert!(err.contains("gnmi_password_file"), "{err}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure returns figment's error type
    fn layers_merge_in_order_and_errors_name_key_and_source() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "nl6.toml",
                "gnmi_port = 1111\nauto_count = 3\ngnmi_tls = false\n",
            )?;
            jail.set_env("NL6_GNMI_PORT", "2222");
            let loaded = Settings::load(Some(Path::new("nl6.toml")), Flags::default()).unwrap();
            assert_eq!(loaded.settings.gnmi_port, 2222, "env beats file");
            assert_eq!(loaded.settings.auto_count, 3, "file beats default");
            let flags = Flags {
                gnmi_port: Some(3333),
                gnmi_mode: Some("dial-out".into()),
            };
            let loaded = Settings::load(Some(Path::new("nl6.toml")), flags).unwrap();
            assert_eq!(loaded.settings.gnmi_port, 3333, "flag beats env");
            let err = loaded.plan().err().unwrap().to_string();
            assert!(err.contains("gnmi_dialout_collector"), "{err}");

            jail.create_file("bad.toml", "auto_count = \"x\"\n")?;
            let err = Settings::load(Some(Path::new("bad.toml")), Flags::default())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("auto_count") && err.contains("bad.toml"),
                "{err}"
            );

            jail.create_file("unknown.toml", "gnmi_portt = 1\n")?;
            let err = Settings::load(Some(Path::new("unknown.toml")), Flags::default())
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("gnmi_portt"), "{err}");

            jail.set_env("NL6_NOT_A_KEY", "1");
            let loaded = Settings::load(None, Flags::default()).unwrap();
            assert!(loaded.ignored_env.contains(&"NL6_NOT_A_KEY".to_string()));

            jail.set_env("NL6_IF_FLAP_SCENARIO", "sometimes");
            let loaded = Settings::load(None, Flags::default()).unwrap();
            let err = loaded.plan().err().unwrap().to_string();
            assert!(
                err.contains("if_flap_scenario") && err.contains("NL6_IF_FLAP_SCENARIO"),
                "{err}"
            );
            Ok(())
        });
    }
}
