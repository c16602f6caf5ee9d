//! The per-device dial-out configuration (`gnmi_dialout` block) and its validation.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use nl6_resolver::ValueEncoding;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The default path: the whole interface state subtree.
pub const DEFAULT_PATH: &str = "/interfaces/interface[name=*]/state";
/// The default SAMPLE cadence.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(10);
/// The longest accepted `sample_interval`.
pub const MAX_SAMPLE_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The shortest HTTP/2 keepalive ping interval; shorter settings are raised to it.
pub const MIN_KEEPALIVE: Duration = Duration::from_secs(10);
/// The longest accepted `keepalive`.
pub const MAX_KEEPALIVE: Duration = Duration::from_secs(24 * 3600);
/// The most collectors a destination group may hold.
pub const MAX_COLLECTORS: usize = 8;
/// The longest accepted `retry_interval` and `failback`.
pub const MAX_RETRY: Duration = Duration::from_secs(24 * 3600);

/// A configuration field that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The top-level field at fault.
    key: ConfigKey,
    /// The field, e.g. `collector`, `paths[1]` or `tls.ca_pem`.
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
}

impl ConfigError {
    /// An error for the top-level field `key` itself.
    pub fn new(key: ConfigKey, reason: impl Into<String>) -> ConfigError {
        ConfigError::at(key, key.as_str(), reason)
    }

    /// An error for `field` (e.g. `paths[1]`, `tls.ca_pem`), a part of `key`.
    pub fn at(key: ConfigKey, field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The top-level [`DialoutConfig`] field at fault (`paths` for `paths[1]`, `tls` for
    /// `tls.ca_pem`), for callers that map fields to their own names.
    pub fn key(&self) -> ConfigKey {
        self.key
    }
}

/// A top-level field of [`DialoutConfig`], as named in [`ConfigError::field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKey {
    /// `collector`.
    Collector,
    /// `flavor`.
    Flavor,
    /// `encoding`.
    Encoding,
    /// `mode`.
    Mode,
    /// `paths`.
    Paths,
    /// `sample_interval`.
    SampleInterval,
    /// `phase`.
    Phase,
    /// `keepalive`.
    Keepalive,
    /// `tls` and its sub-fields.
    Tls,
    /// `collectors`.
    Collectors,
    /// `retry_interval`.
    RetryInterval,
    /// `failback`.
    Failback,
    /// `subscription`.
    Subscription,
    /// `publish`.
    Publish,
}

impl ConfigKey {
    /// Every key.
    pub const ALL: [ConfigKey; 14] = [
        ConfigKey::Collector,
        ConfigKey::Flavor,
        ConfigKey::Encoding,
        ConfigKey::Mode,
        ConfigKey::Paths,
        ConfigKey::SampleInterval,
        ConfigKey::Phase,
        ConfigKey::Keepalive,
        ConfigKey::Tls,
        ConfigKey::Collectors,
        ConfigKey::RetryInterval,
        ConfigKey::Failback,
        ConfigKey::Subscription,
        ConfigKey::Publish,
    ];

    /// The field name, as in [`ConfigError::field`] and the REST body.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKey::Collector => "collector",
            ConfigKey::Flavor => "flavor",
            ConfigKey::Encoding => "encoding",
            ConfigKey::Mode => "mode",
            ConfigKey::Paths => "paths",
            ConfigKey::SampleInterval => "sample_interval",
            ConfigKey::Phase => "phase",
            ConfigKey::Keepalive => "keepalive",
            ConfigKey::Tls => "tls",
            ConfigKey::Collectors => "collectors",
            ConfigKey::RetryInterval => "retry_interval",
            ConfigKey::Failback => "failback",
            ConfigKey::Subscription => "subscription",
            ConfigKey::Publish => "publish",
        }
    }
}

/// Value encoding of the pushed notifications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `json_ietf` (RFC 7951 values in `json_ietf_val`).
    #[default]
    JsonIetf,
    /// `json` (RFC 7159 values in `json_val`).
    Json,
    /// `proto` (scalar `TypedValue`s).
    Proto,
}

impl Encoding {
    /// The canonical name (`json_ietf` or `proto`).
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::JsonIetf => "json_ietf",
            Encoding::Json => "json",
            Encoding::Proto => "proto",
        }
    }

    /// Every encoding.
    pub const ALL: [Encoding; 3] = [Encoding::JsonIetf, Encoding::Json, Encoding::Proto];

    /// The resolver's value encoding.
    pub fn value_encoding(self) -> ValueEncoding {
        match self {
            Encoding::JsonIetf => ValueEncoding::JsonIetf,
            Encoding::Json => ValueEncoding::Json,
            Encoding::Proto => ValueEncoding::Proto,
        }
    }
}

impl FromStr for Encoding {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "json_ietf" | "json-ietf" => Ok(Encoding::JsonIetf),
            "json" => Ok(Encoding::Json),
            "proto" => Ok(Encoding::Proto),
            _ => Err(ConfigError::new(
                ConfigKey::Encoding,
                format!("{s:?} is not supported; use json_ietf, json or proto"),
            )),
        }
    }
}

/// What triggers a push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Every `sample_interval`, all paths at one instant.
    #[default]
    Sample,
    /// On interface-state events, only the changed leaves.
    OnChange,
}

impl Mode {
    /// The canonical name (`sample` or `on-change`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sample => "sample",
            Mode::OnChange => "on-change",
        }
    }
}

impl FromStr for Mode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "sample" => Ok(Mode::Sample),
            "on-change" | "on_change" | "onchange" => Ok(Mode::OnChange),
            _ => Err(ConfigError::new(
                ConfigKey::Mode,
                format!("{s:?} is not supported; use sample or on-change"),
            )),
        }
    }
}

/// When in each interval a SAMPLE device takes its samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Each device samples at its own offset in `[0, interval)`, derived from its
    /// address and anchored to the wall clock, so a fleet's load is even.
    #[default]
    Spread,
    /// Every device samples when its stream opens and then every interval: devices that
    /// connect together push together (burst tests).
    Aligned,
}

impl Phase {
    /// The canonical name (`spread` or `aligned`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Spread => "spread",
            Phase::Aligned => "aligned",
        }
    }
}

impl FromStr for Phase {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "spread" => Ok(Phase::Spread),
            "aligned" => Ok(Phase::Aligned),
            _ => Err(ConfigError::new(
                ConfigKey::Phase,
                format!("{s:?} is not supported; use spread or aligned"),
            )),
        }
    }
}

/// What a gnmireverse device publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Publish {
    /// `SubscribeResponse`s on `Publish` (the default).
    #[default]
    Subscribe,
    /// Every `sample_interval`, the paths as a Get: `GetResponse`s on `PublishGet`.
    Get,
}

impl Publish {
    /// The canonical name (`subscribe` or `get`).
    pub fn as_str(self) -> &'static str {
        match self {
            Publish::Subscribe => "subscribe",
            Publish::Get => "get",
        }
    }
}

impl FromStr for Publish {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "" | "subscribe" => Ok(Publish::Subscribe),
            "get" => Ok(Publish::Get),
            _ => Err(ConfigError::new(
                ConfigKey::Publish,
                format!("{s:?} is not supported; use subscribe or get"),
            )),
        }
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Encoding);
string_serde!(Mode);
string_serde!(Phase);
string_serde!(Publish);

/// Where the CA bundle that verifies the collector comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaSource {
    /// A PEM file (`ca_file`).
    File(PathBuf),
    /// PEM text given inline (`ca_pem`, at most 64 KiB).
    InlinePem(String),
}

/// TLS towards the collector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawTls", into = "RawTls")]
pub struct TlsSettings {
    /// Use TLS (`false` = plaintext gRPC).
    pub enabled: bool,
    /// Accept any collector certificate (development only).
    pub insecure_skip_verify: bool,
    /// CA bundle verifying the collector; `None` = the system roots.
    pub ca: Option<CaSource>,
    /// Present the simulator's certificate as a client certificate (mutual TLS).
    pub mtls: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            enabled: true,
            insecure_skip_verify: false,
            ca: None,
            mtls: false,
        }
    }
}

impl TlsSettings {
    /// Plaintext gRPC (`enabled: false`).
    pub fn plaintext() -> TlsSettings {
        TlsSettings {
            enabled: false,
            ..TlsSettings::default()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            let mut set = Vec::new();
            if self.insecure_skip_verify {
                set.push("insecure_skip_verify");
            }
            if let Some(ca) = &self.ca {
                set.push(match ca {
                    CaSource::File(_) => "ca_file",
                    CaSource::InlinePem(_) => "ca_pem",
                });
            }
            if self.mtls {
                set.push("mtls");
            }
            if !set.is_empty() {
                return Err(ConfigError::at(
                    ConfigKey::Tls,
                    "tls.enabled",
                    format!(
                        "TLS is disabled but {} {} set; remove {} or enable TLS",
                        set.join(" and "),
                        if set.len() == 1 { "is" } else { "are" },
                        if set.len() == 1 { "it" } else { "them" },
                    ),
                ));
            }
            return Ok(());
        }
        if self.insecure_skip_verify && self.ca.is_some() {
            return Err(ConfigError::at(
                ConfigKey::Tls,
                "tls.insecure_skip_verify",
                "cannot be combined with a CA bundle (ca_file/ca_pem): choose one",
            ));
        }
        match &self.ca {
            Some(CaSource::File(path)) if path.as_os_str().is_empty() => Err(ConfigError::at(
                ConfigKey::Tls,
                "tls.ca_file",
                "must not be empty",
            )),
            Some(CaSource::InlinePem(pem)) if pem.len() > nl6_tls::MAX_INLINE_CA_PEM => {
                Err(ConfigError::at(
                    ConfigKey::Tls,
                    "tls.ca_pem",
                    format!(
                        "is {} bytes, larger than the {}-byte (64 KiB) limit",
                        pem.len(),
                        nl6_tls::MAX_INLINE_CA_PEM
                    ),
                ))
            }
            Some(CaSource::InlinePem(pem)) if pem.trim().is_empty() => Err(ConfigError::at(
                ConfigKey::Tls,
                "tls.ca_pem",
                "must not be empty",
            )),
            _ => Ok(()),
        }
    }
}

/// The JSON shape of [`TlsSettings`] (`ca_file` and `ca_pem` are separate fields).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    enabled: bool,
    insecure_skip_verify: bool,
    ca_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ca_pem: String,
    mtls: bool,
}

impl Default for RawTls {
    fn default() -> Self {
        TlsSettings::default().into()
    }
}

impl TryFrom<RawTls> for TlsSettings {
    type Error = ConfigError;

    fn try_from(raw: RawTls) -> Result<Self, Self::Error> {
        let ca = match (raw.ca_file.is_empty(), raw.ca_pem.is_empty()) {
            (true, true) => None,
            (false, true) => Some(CaSource::File(PathBuf::from(raw.ca_file))),
            (true, false) => Some(CaSource::InlinePem(raw.ca_pem)),
            (false, false) => {
                return Err(ConfigError::at(
                    ConfigKey::Tls,
                    "tls.ca_file",
                    "cannot be combined with tls.ca_pem: give the CA one way",
                ));
            }
        };
        Ok(TlsSettings {
            enabled: raw.enabled,
            insecure_skip_verify: raw.insecure_skip_verify,
            ca,
            mtls: raw.mtls,
        })
    }
}

impl From<TlsSettings> for RawTls {
    fn from(t: TlsSettings) -> Self {
        let (ca_file, ca_pem) = match t.ca {
            None => (String::new(), String::new()),
            Some(CaSource::File(p)) => (p.display().to_string(), String::new()),
            Some(CaSource::InlinePem(pem)) => (String::new(), pem),
        };
        RawTls {
            enabled: t.enabled,
            insecure_skip_verify: t.insecure_skip_verify,
            ca_file,
            ca_pem,
            mtls: t.mtls,
        }
    }
}

/// One device's dial-out settings (the REST `gnmi_dialout` block).
///
/// The fields after `tls` are flavor options: each is accepted only by the flavors
/// whose [`crate::Flavor::options`] list it, and left unset otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialoutConfig {
    /// Collector `host:port` (host name or IPv4 address); with `collectors`, empty or
    /// the group's first entry.
    pub collector: String,
    /// Wire flavor; empty means `gnmireverse`.
    pub flavor: String,
    /// Value encoding.
    pub encoding: Encoding,
    /// Push trigger.
    pub mode: Mode,
    /// gNMI paths to push; empty means [`DEFAULT_PATH`].
    pub paths: Vec<String>,
    /// SAMPLE cadence (a duration string such as `"10s"`; clamped to a 1 s floor).
    #[serde(with = "duration_text")]
    pub sample_interval: Duration,
    /// When in each interval SAMPLE ticks fall.
    pub phase: Phase,
    /// HTTP/2 keepalive ping interval; zero (the default) sends no pings. Non-zero values
    /// below [`MIN_KEEPALIVE`] are raised to it.
    #[serde(with = "keepalive_text")]
    pub keepalive: Duration,
    /// TLS towards the collector.
    pub tls: TlsSettings,
    /// A destination group (SONiC): collectors tried in order, the next one when the
    /// current one fails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collectors: Vec<String>,
    /// The fixed wait once every collector failed (zero = the flavor's default).
    #[serde(
        with = "retry_interval_text",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub retry_interval: Duration,
    /// How long a device stays on a backup collector of its group before it tries the
    /// first one again (zero = until the backup fails).
    #[serde(with = "failback_text", skip_serializing_if = "Duration::is_zero")]
    pub failback: Duration,
    /// The subscription name sent as metadata (Nokia `subscription-name`; empty =
    /// `nl6`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subscription: String,
    /// What a gnmireverse device publishes: subscriptions or Get results.
    #[serde(skip_serializing_if = "is_subscribe")]
    pub publish: Publish,
}

fn is_subscribe(p: &Publish) -> bool {
    *p == Publish::Subscribe
}

impl Default for DialoutConfig {
    fn default() -> Self {
        DialoutConfig {
            collector: String::new(),
            flavor: DEFAULT_FLAVOR.to_string(),
            encoding: Encoding::JsonIetf,
            mode: Mode::Sample,
            paths: vec![DEFAULT_PATH.to_string()],
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            phase: Phase::Spread,
            keepalive: Duration::ZERO,
            tls: TlsSettings::default(),
            collectors: Vec::new(),
            retry_interval: Duration::ZERO,
            failback: Duration::ZERO,
            subscription: String::new(),
            publish: Publish::Subscribe,
        }
    }
}

impl DialoutConfig {
    /// The defaults with `collector` set.
    pub fn new(collector: impl Into<String>) -> DialoutConfig {
        DialoutConfig {
            collector: collector.into(),
            ..DialoutConfig::default()
        }
    }

    /// The checks that need no flavor: collectors, durations, paths, TLS.
    pub fn validate_common(&self) -> Result<(), ConfigError> {
        self.destinations()?;
        if self.sample_interval > MAX_SAMPLE_INTERVAL {
            return Err(ConfigError::new(
                ConfigKey::SampleInterval,
                format!(
                    "{} is longer than the 24h maximum",
                    humantime::format_duration(self.sample_interval)
                ),
            ));
        }
        for (key, value, max) in [
            (ConfigKey::Keepalive, self.keepalive, MAX_KEEPALIVE),
            (ConfigKey::RetryInterval, self.retry_interval, MAX_RETRY),
            (ConfigKey::Failback, self.failback, MAX_RETRY),
        ] {
            if value > max {
                return Err(ConfigError::new(
                    key,
                    format!(
                        "{} is longer than the 24h maximum",
                        humantime::format_duration(value)
                    ),
                ));
            }
        }
        if !self.failback.is_zero() && self.collectors.len() < 2 {
            return Err(ConfigError::new(
                ConfigKey::Failback,
                "returns a device to the first of its collectors, so it needs at least two",
            ));
        }
        for (i, text) in self.paths.iter().enumerate() {
            nl6_gnmi::parse_path(text).map_err(|e| {
                ConfigError::at(ConfigKey::Paths, format!("paths[{i}]"), e.to_string())
            })?;
        }
        self.tls.validate()
    }

    /// The flavor options this block sets.
    pub fn options_set(&self) -> Vec<FlavorOption> {
        FlavorOption::ALL
            .into_iter()
            .filter(|option| match option {
                FlavorOption::Collectors => !self.collectors.is_empty(),
                FlavorOption::RetryInterval => !self.retry_interval.is_zero(),
                FlavorOption::Failback => !self.failback.is_zero(),
                FlavorOption::Subscription => !self.subscription.is_empty(),
                FlavorOption::Publish => self.publish != Publish::Subscribe,
            })
            .collect()
    }

    /// The collectors in the order they are tried: `collectors`, or the one `collector`.
    pub fn destinations(&self) -> Result<Vec<&str>, ConfigError> {
        if self.collectors.is_empty() {
            parse_collector(&self.collector)?;
            return Ok(vec![self.collector.as_str()]);
        }
        if self.collectors.len() > MAX_COLLECTORS {
            return Err(ConfigError::new(
                ConfigKey::Collectors,
                format!(
                    "holds {} collectors; a group takes at most {MAX_COLLECTORS}",
                    self.collectors.len()
                ),
            ));
        }
        for (i, text) in self.collectors.iter().enumerate() {
            parse_collector(text).map_err(|e| {
                ConfigError::at(ConfigKey::Collectors, format!("collectors[{i}]"), e.reason)
            })?;
            if self.collectors[..i].contains(text) {
                return Err(ConfigError::at(
                    ConfigKey::Collectors,
                    format!("collectors[{i}]"),
                    format!("{text:?} is listed twice"),
                ));
            }
        }
        if !self.collector.is_empty() && self.collector != self.collectors[0] {
            return Err(ConfigError::new(
                ConfigKey::Collector,
                format!(
                    "{:?} differs from collectors[0] {:?}: give the group as collectors alone",
                    self.collector, self.collectors[0]
                ),
            ));
        }
        Ok(self.collectors.iter().map(String::as_str).collect())
    }

    /// The flavor name with the default applied.
    pub fn flavor_name(&self) -> &str {
        if self.flavor.is_empty() {
            DEFAULT_FLAVOR
        } else {
            &self.flavor
        }
    }

    /// The keepalive ping interval in effect: `None` when off, else at least `floor`.
    pub fn keepalive_interval(&self, floor: Duration) -> Option<Duration> {
        (!self.keepalive.is_zero()).then(|| self.keepalive.max(floor))
    }

    /// The paths with the default applied.
    pub fn effective_paths(&self) -> Vec<&str> {
        if self.paths.is_empty() {
            vec![DEFAULT_PATH]
        } else {
            self.paths.iter().map(String::as_str).collect()
        }
    }
}

/// Splits and checks `host:port` (port 1–65535, host a DNS name or IPv4 address).
pub(crate) fn parse_collector(text: &str) -> Result<(String, u16), ConfigError> {
    let err = |reason: String| ConfigError::new(ConfigKey::Collector, reason);
    if text.is_empty() {
        return Err(err("is required (host:port)".to_string()));
    }
    if text.starts_with('[') || text.matches(':').count() > 1 {
        return Err(err(format!(
            "{text:?}: IPv6 collectors are not supported (device addresses are IPv4); use an IPv4 address or a host name"
        )));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(err(format!("{text:?} has no port; use host:port")));
    };
    let port: u16 = match port.parse::<u32>() {
        Ok(p @ 1..=65535) => p as u16,
        _ => {
            return Err(err(format!(
                "port {port:?} in {text:?} must be a number from 1 to 65535"
            )));
        }
    };
    if host.is_empty() {
        return Err(err(format!("{text:?} has an empty host")));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let host_trimmed = host.strip_suffix('.').unwrap_or(host);
    if host.len() > 253 || !host_trimmed.split('.').all(label_ok) {
        return Err(err(format!(
            "host {host:?} is neither an IPv4 address nor a valid host name"
        )));
    }
    Ok((host.to_string(), port))
}

/// Serde for a duration as humantime text (`"10s"`, `"1m30s"`, `"500ms"`).
mod duration_text {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub(super) fn parse(text: &str) -> Result<Duration, ConfigError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(DEFAULT_SAMPLE_INTERVAL);
        }
        if trimmed.starts_with('-') {
            return Err(ConfigError::new(
                ConfigKey::SampleInterval,
                format!("{text:?} is negative; use a duration such as \"10s\""),
            ));
        }
        humantime::parse_duration(trimmed).map_err(|e| {
            ConfigError::new(
                ConfigKey::SampleInterval,
                format!("{text:?} is not a duration such as \"10s\": {e}"),
            )
        })
    }
}

/// Serde for `retry_interval` and `failback`: humantime text, `"0"` or empty = unset.
macro_rules! optional_duration_serde {
    ($module:ident, $field:expr) => {
        mod $module {
            use super::*;

            pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&humantime::format_duration(*d).to_string())
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                let text = String::deserialize(d)?;
                parse_optional_duration($field, &text).map_err(serde::de::Error::custom)
            }
        }
    };
}

optional_duration_serde!(retry_interval_text, ConfigKey::RetryInterval);
optional_duration_serde!(failback_text, ConfigKey::Failback);

/// Parses `retry_interval` or `failback` (the field `key` in errors): a duration such as
/// `"30s"`; `"0"` or empty = unset.
pub fn parse_optional_duration(key: ConfigKey, text: &str) -> Result<Duration, ConfigError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.starts_with('-') {
        return Err(ConfigError::new(
            key,
            format!("{text:?} is negative; use a duration such as \"30s\""),
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        ConfigError::new(
            key,
            format!("{text:?} is not a duration such as \"30s\": {e}"),
        )
    })
}

/// Serde for `keepalive`: humantime text, `"0"` or empty = off.
mod keepalive_text {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.is_zero() {
            s.serialize_str("0")
        } else {
            s.serialize_str(&humantime::format_duration(*d).to_string())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_keepalive(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses `keepalive` as the block accepts it: a duration such as `"5m"`; `"0"` or empty
/// = no pings.
pub fn parse_keepalive(text: &str) -> Result<Duration, ConfigError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.starts_with('-') {
        return Err(ConfigError::new(
            ConfigKey::Keepalive,
            format!("{text:?} is negative; use a duration such as \"5m\", or 0 for none"),
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        ConfigError::new(
            ConfigKey::Keepalive,
            format!("{text:?} is not a duration such as \"5m\" (0 = off): {e}"),
        )
    })
}

/// Parses a duration as `sample_interval` accepts it (`"10s"`, `"500ms"`; empty = 10 s).
pub fn parse_sample_interval(text: &str) -> Result<Duration, ConfigError> {
    duration_text::parse(text)
}

/// The flavor used when a configuration names none.
pub const DEFAULT_FLAVOR: &str = "gnmireverse";

/// Block fields that only some flavors take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlavorOption {
    /// `collectors`: a destination group tried in order.
    Collectors,
    /// `retry_interval`: the fixed wait once every collector failed.
    RetryInterval,
    /// `failback`: how long a device stays on a backup collector before it tries the
    /// first again.
    Failback,
    /// `subscription`: the subscription name sent as metadata.
    Subscription,
    /// `publish`: `subscribe` or `get`.
    Publish,
}

impl FlavorOption {
    /// Every option.
    pub const ALL: [FlavorOption; 5] = [
        FlavorOption::Collectors,
        FlavorOption::RetryInterval,
        FlavorOption::Failback,
        FlavorOption::Subscription,
        FlavorOption::Publish,
    ];

    /// The block field.
    pub fn field(self) -> &'static str {
        self.key().as_str()
    }

    /// The block field as a [`ConfigKey`].
    pub fn key(self) -> ConfigKey {
        match self {
            FlavorOption::Collectors => ConfigKey::Collectors,
            FlavorOption::RetryInterval => ConfigKey::RetryInterval,
            FlavorOption::Failback => ConfigKey::Failback,
            FlavorOption::Subscription => ConfigKey::Subscription,
            FlavorOption::Publish => ConfigKey::Publish,
        }
    }
}

/// `items` as `a`, `a or b`, `a, b or c`.
pub(crate) fn or_list(items: &[&str]) -> String {
    match items {
        [] => "nothing".to_string(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_their_top_level_key() {
        let cfg = |json: &str| serde_json::from_str::<DialoutConfig>(json).unwrap();
        for (block, field, key) in [
            (
                r#"{"collector": "nohost"}"#,
                "collector",
                ConfigKey::Collector,
            ),
            (
                r#"{"collector": "127.0.0.1:1", "paths": ["/a", "a[b"]}"#,
                "paths[1]",
                ConfigKey::Paths,
            ),
            (
                r#"{"collectors": ["127.0.0.1:1", "127.0.0.1:1"]}"#,
                "collectors[1]",
                ConfigKey::Collectors,
            ),
            (
                r#"{"collector": "127.0.0.1:1", "tls": {"enabled": false, "mtls": true}}"#,
                "tls.enabled",
                ConfigKey::Tls,
            ),
        ] {
            let err = cfg(block).validate().expect_err(block);
            assert_eq!((err.field.as_str(), err.key()), (field, key), "{block}");
        }
        for key in ConfigKey::ALL {
            let err = ConfigError::new(key, "x");
            assert_eq!((err.field.as_str(), err.key()), (key.as_str(), key));
        }
    }

    #[test]
    fn collector_syntax() {
        assert_eq!(
            parse_collector("10.0.0.5:6030").unwrap(),
            ("10.0.0.5".to_string(), 6030)
        );
        assert_eq!(
            parse_collector("collector.example.:1").unwrap().0,
            "collector.example."
        );
        for bad in [
            "",
            "host",
            "host:0",
            "host:65536",
            "host:x",
            ":6030",
            "[::1]:6030",
            "::1:6030",
            "a b:1",
            "-a:1",
            "a..b:1",
        ] {
            let err = parse_collector(bad).unwrap_err();
            assert_eq!(err.field, "collector", "{bad}");
        }
    }

    #[test]
    fn aliases_parse() {
        assert_eq!("json-ietf".parse::<Encoding>().unwrap(), Encoding::JsonIetf);
        assert_eq!("JSON".parse::<Encoding>().unwrap(), Encoding::Json);
        assert_eq!("GET".parse::<Publish>().unwrap(), Publish::Get);
        assert_eq!("PROTO".parse::<Encoding>().unwrap(), Encoding::Proto);
        for m in ["on-change", "on_change", "onchange", "ON_CHANGE"] {
            assert_eq!(m.parse::<Mode>().unwrap(), Mode::OnChange);
        }
        assert_eq!(
            "poll".parse::<Mode>().unwrap_err().to_string(),
            "mode: \"poll\" is not supported; use sample or on-change"
        );
    }

    #[test]
    fn keepalive_is_off_by_default_and_floored() {
        let cfg = DialoutConfig::new("h:1");
        assert_eq!(cfg.keepalive_interval(MIN_KEEPALIVE), None);
        assert_eq!(parse_keepalive("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_keepalive("").unwrap(), Duration::ZERO);
        let short = DialoutConfig {
            keepalive: parse_keepalive("2s").unwrap(),
            ..cfg.clone()
        };
        assert_eq!(short.keepalive_interval(MIN_KEEPALIVE), Some(MIN_KEEPALIVE));
        assert_eq!(parse_keepalive("-1s").unwrap_err().field, "keepalive");
        assert!(parse_keepalive("often").is_err());
        let long = DialoutConfig {
            keepalive: Duration::from_secs(25 * 3600),
            ..cfg
        };
        assert_eq!(long.validate().unwrap_err().field, "keepalive");
        let json: DialoutConfig =
            serde_json::from_str(r#"{"collector":"h:1","keepalive":"5m","phase":"aligned"}"#)
                .unwrap();
        assert_eq!(json.keepalive, Duration::from_secs(300));
        assert_eq!(json.phase, Phase::Aligned);
        assert_eq!(
            "burst".parse::<Phase>().unwrap_err().to_string(),
            "phase: \"burst\" is not supported; use spread or aligned"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_sample_interval("10s").unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(parse_sample_interval("").unwrap(), DEFAULT_SAMPLE_INTERVAL);
        assert_eq!(parse_sample_interval("0s").unwrap(), Duration::ZERO);
        assert!(
            parse_sample_interval("-1s")
                .unwrap_err()
                .reason
                .contains("negative")
        );
        assert!(parse_sample_interval("ten").is_err());
    }
}
