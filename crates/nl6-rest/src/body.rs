//! The REST request bodies, their conversion to fleet types, and the echo of a device's
//! settings in listings.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use nl6_dialout::{
    CaSource, ConfigError, ConfigKey, DEFAULT_FLAVOR, DEFAULT_PATH, DialoutConfig, Encoding, Mode,
    Phase, Publish, TlsSettings, parse_keepalive, parse_optional_duration, parse_sample_interval,
};
use nl6_fleet::{BatchSpec, DeviceInfo};
use nl6_ifstate::{
    ErrorScenario, FlapScenario, InitialState, InterfaceNaming, MAX_INTERFACES, MAX_SPEED_BPS,
};
use nl6_mdt::MdtConfig;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Default `device_count`.
pub const DEFAULT_DEVICE_COUNT: u32 = 1;
/// Default `netmask` (prefix length), as nl6's `-auto-netmask`.
pub const DEFAULT_NETMASK: u8 = 24;
/// Default `interfaces` per device.
pub const DEFAULT_INTERFACES: u32 = 10;
/// Default `if_speed_bps` (1 Gbit/s).
pub const DEFAULT_SPEED_BPS: u64 = 1_000_000_000;

/// `POST /api/v1/devices`: a batch of devices. Only `start_ip` is required.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDevices {
    /// First device address (IPv4). Loopback mode serves 127.0.0.0/8 only.
    #[schema(example = "127.42.0.1")]
    pub start_ip: String,
    /// Number of devices, 1..=100000.
    #[schema(default = 1, minimum = 1, maximum = 100000, example = 10)]
    pub device_count: Option<u32>,
    /// Prefix length of the batch network: 8, 16 or 24 (a string such as `"24"` is accepted
    /// too; dotted masks are not). With /24 every `.0` and `.255` is skipped.
    #[schema(value_type = Option<u8>, default = 24, example = 16)]
    pub netmask: Option<NetmaskValue>,
    /// Interfaces per device (Ethernet1..EthernetN), 1..=1024.
    #[schema(default = 10, minimum = 1, maximum = 1024)]
    pub interfaces: Option<u32>,
    /// Link speed of every interface in bit/s (at most 400 Gbit/s).
    #[schema(default = 1000000000, minimum = 1, maximum = 400000000000_f64)]
    pub if_speed_bps: Option<u64>,
    /// Error/discard counter scenario: `clean`, `typical`, `degraded` or `failing`.
    #[schema(default = "clean", example = "typical")]
    pub if_error_scenario: Option<String>,
    /// Link-flap scenario: `clean`, `rare`, `typical` or `aggressive`.
    #[schema(default = "clean", example = "rare")]
    pub if_flap_scenario: Option<String>,
    /// BGP flap scenario of the sessions themselves (a profile with BGP): `clean`,
    /// `rare`, `typical` or `aggressive`, the same rates per session as
    /// `if_flap_scenario` per interface.
    #[schema(default = "clean", example = "rare")]
    pub bgp_flap_scenario: Option<String>,
    /// Interface state at creation: `all-up`, `all-admin-down`, `oper-down` or `<N>%` (that
    /// share of interfaces oper-down).
    #[schema(default = "all-up", example = "10%")]
    pub if_initial_state: Option<String>,
    /// How interfaces are named: `arista` (`Ethernet1`), `xr` (`HundredGigE0/0/0/0`),
    /// `junos` (`et-0/0/0`), `sros` (`1/1/c1/1`) or `sonic` (`Ethernet0`, `Ethernet4`).
    /// Omitted = the device type's naming.
    #[schema(default = "arista", example = "xr")]
    pub interface_naming: Option<String>,
    /// The device profile: `generic` (interfaces only), `arista-eos`, `cisco-xr`,
    /// `juniper-mx`, `nokia-sros`, `sonic`, or one loaded with nl6d's `--profile-dir`.
    /// A profile with an inventory adds `/components` and `/system`; its interface
    /// naming applies unless `interface_naming` is given.
    #[schema(default = "generic", example = "juniper-mx")]
    pub device_type: Option<String>,
    /// Host names of the devices (Nokia's `system-name`): a pattern where `{n}` is the
    /// device's 1-based index in the batch and `{ip}` its address in dashes, or a prefix
    /// the index is appended to (`leaf` → `leaf1`, `leaf2`, ...); omitted = derived from
    /// the address (`nl6-127-42-0-1`).
    #[schema(example = "leaf-{n}")]
    pub hostname: Option<String>,
    /// gNMI dial-out; omitted = the devices serve dial-in only.
    pub gnmi_dialout: Option<DialoutBody>,
    /// Cisco IOS XR model-driven telemetry, shaped like XR's `telemetry model-driven`:
    /// `sensor_groups` (name → sensor paths), `destination_groups` (name → collectors
    /// with `address`, `port`, `protocol` grpc|tcp|udp, `encoding`
    /// self-describing-gpb|gpb|json, optional `tls` and, for UDP, `max_datagram`) and
    /// `subscriptions` (name → `sensor_groups`, `sample_interval` in ms (0 =
    /// event-driven), `destination_groups`; none = gRPC dial-in only). See docs/mdt.md.
    #[schema(value_type = Option<Object>)]
    pub mdt: Option<MdtConfig>,
}

/// The `gnmi_dialout` block: push telemetry to a collector (one connection per device).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialoutBody {
    /// Collector `host:port` (IPv4 address or host name); required unless `collectors`
    /// is given.
    #[schema(example = "10.0.0.5:6030")]
    #[serde(default)]
    pub collector: String,
    /// Wire flavor (the fleet's registry; the OpenAPI document served by a running nl6
    /// lists its flavors and what each accepts).
    #[schema(default = "gnmireverse")]
    pub flavor: Option<String>,
    /// Value encoding: `json_ietf` (also `json-ietf`), `json` or `proto`; each flavor
    /// sends some of them.
    #[schema(default = "json_ietf")]
    pub encoding: Option<String>,
    /// Push trigger: `sample` or `on-change` (also `on_change`, `onchange`).
    #[schema(default = "sample")]
    pub mode: Option<String>,
    /// gNMI paths to push. On-change paths must cover at least one state leaf that can
    /// change (`oper-status`, `admin-status`, `last-change`).
    #[schema(default = json!(["/interfaces/interface[name=*]/state"]))]
    pub paths: Option<Vec<String>>,
    /// SAMPLE cadence, a duration such as `"10s"` (1 s floor, 24 h maximum).
    #[schema(default = "10s", example = "30s")]
    pub sample_interval: Option<String>,
    /// When SAMPLE ticks fall: `spread` (each device at its own offset in the interval,
    /// derived from its address: an even load) or `aligned` (every device samples when
    /// its stream opens and then every interval: bursts).
    #[schema(default = "spread")]
    pub phase: Option<String>,
    /// HTTP/2 keepalive ping interval, e.g. `"5m"`; `"0"` or omitted = no pings (10 s
    /// floor). grpc-go collectors answer pings more often than every 5 minutes with
    /// GOAWAY `too_many_pings`; nl6 then doubles the interval for that device.
    #[schema(default = "0", example = "5m")]
    pub keepalive: Option<String>,
    /// TLS towards the collector; omitted = TLS verified against the system roots.
    pub tls: Option<TlsBody>,
    /// Flavor option (`sonic`): a destination group, tried in order; a device moves to
    /// the next collector when its current one fails. Replaces `collector`.
    #[schema(example = json!(["10.0.0.5:8081", "10.0.0.6:8081"]))]
    pub collectors: Option<Vec<String>>,
    /// Flavor option (`sonic`, default `30s`): the wait once every collector of the
    /// group failed, e.g. `"30s"`.
    #[schema(example = "30s")]
    pub retry_interval: Option<String>,
    /// Flavor option (`sonic`): a device on a backup collector closes its stream after
    /// this long and tries the group again from the first collector; omitted or `"0"` =
    /// it stays on the backup until that fails (as SONiC does).
    #[schema(example = "5m")]
    pub failback: Option<String>,
    /// Flavor option (`nokia`, default `nl6`): the `subscription-name` metadata.
    #[schema(example = "nl6")]
    pub subscription: Option<String>,
    /// Flavor option (`gnmireverse`, default `subscribe`): `subscribe` publishes
    /// SubscribeResponses on `Publish`; `get` issues the paths as a Get every
    /// `sample_interval` and publishes the GetResponses on `PublishGet`.
    #[schema(example = "get")]
    pub publish: Option<String>,
}

/// TLS towards the collector.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsBody {
    /// Use TLS; `false` = plaintext gRPC and no other TLS option may be set.
    #[schema(default = true)]
    pub enabled: Option<bool>,
    /// Accept any collector certificate (development only); excludes `ca_pem`.
    #[schema(default = false)]
    pub insecure_skip_verify: Option<bool>,
    /// PEM CA bundle (≤ 64 KiB) that verifies the collector; omitted = system roots.
    pub ca_pem: Option<String>,
    /// Not accepted over REST (it would name a file on the server): send the PEM inline as
    /// `ca_pem`, or start nl6d with `--gnmi-dialout-tls-ca`. An empty string is ignored.
    #[schema(deprecated)]
    pub ca_file: Option<String>,
    /// Present the simulator's certificate as a client certificate (mutual TLS).
    #[schema(default = false)]
    pub mtls: Option<bool>,
}

/// `POST /api/v1/devices/{ip}/interfaces/{ifindex}/oper-status` (or `admin-status`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterfaceStateBody {
    /// `UP`, `DOWN` or `TESTING` (case-insensitive).
    #[schema(example = "DOWN")]
    pub status: String,
    /// Revert to the previous value after this long (≤ 24 h), e.g. `"30s"`; omitted = stay.
    #[schema(example = "30s")]
    pub duration: Option<String>,
}

/// A `netmask` as sent: a number or a string holding one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetmaskValue {
    /// A JSON number.
    Number(i128),
    /// A JSON string.
    Text(String),
}

impl<'de> Deserialize<'de> for NetmaskValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NetmaskVisitor;

        impl Visitor<'_> for NetmaskVisitor {
            type Value = NetmaskValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prefix length 8, 16 or 24 (number or string)")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NetmaskValue, E> {
                Ok(NetmaskValue::Number(v.into()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NetmaskValue, E> {
                Ok(NetmaskValue::Number(v.into()))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<NetmaskValue, E> {
                Ok(NetmaskValue::Text(v.to_string()))
            }
        }

        d.deserialize_any(NetmaskVisitor)
    }
}

impl NetmaskValue {
    fn prefix_len(&self) -> Result<u8, ApiError> {
        let bad = |reason: String| ApiError::invalid("netmask", reason);
        let n = match self {
            NetmaskValue::Number(n) => *n,
            NetmaskValue::Text(t) => {
                let trimmed = t.trim();
                if trimmed.contains('.') {
                    return Err(bad(format!(
                        "{t:?} is a dotted mask; give the prefix length instead: 8, 16 or 24"
                    )));
                }
                let digits = trimmed.strip_prefix('/').unwrap_or(trimmed);
                digits
                    .parse::<i128>()
                    .map_err(|_| bad(format!("{t:?} is not a prefix length; use 8, 16 or 24")))?
            }
        };
        match n {
            8 | 16 | 24 => Ok(n as u8),
            _ => Err(bad(format!("{n} is not one of 8, 16, 24"))),
        }
    }
}

fn default_device_type() -> String {
    nl6_profile::DEFAULT_PROFILE.to_string()
}

fn default_naming() -> String {
    InterfaceNaming::Arista.to_string()
}

fn default_clean() -> String {
    FlapScenario::Clean.to_string()
}

fn parse_enum<T: FromStr>(field: &str, text: Option<&str>, default: T) -> Result<T, ApiError>
where
    T::Err: fmt::Display,
{
    match text.map(str::trim) {
        None | Some("") => Ok(default),
        Some(t) => t
            .parse()
            .map_err(|e: T::Err| ApiError::invalid(field, e.to_string())),
    }
}

fn dialout_field(e: ConfigError) -> ApiError {
    ApiError::invalid(format!("gnmi_dialout.{}", e.field), e.reason)
}

impl CreateDevices {
    /// Checks every field that needs no fleet state and builds the batch.
    pub fn into_spec(self) -> Result<BatchSpec, ApiError> {
        let start_ip = self.start_ip.trim().parse::<Ipv4Addr>().map_err(|_| {
            ApiError::invalid(
                "start_ip",
                format!(
                    "{:?} is not an IPv4 address such as 127.42.0.1",
                    self.start_ip
                ),
            )
        })?;
        let netmask = match &self.netmask {
            Some(value) => value.prefix_len()?,
            None => DEFAULT_NETMASK,
        };
        let interfaces = self.interfaces.unwrap_or(DEFAULT_INTERFACES);
        if !(1..=MAX_INTERFACES).contains(&interfaces) {
            return Err(ApiError::invalid(
                "interfaces",
                format!("{interfaces} is out of range 1..={MAX_INTERFACES}"),
            ));
        }
        let speed_bps = self.if_speed_bps.unwrap_or(DEFAULT_SPEED_BPS);
        if speed_bps == 0 {
            return Err(ApiError::invalid("if_speed_bps", "must be greater than 0"));
        }
        if speed_bps > MAX_SPEED_BPS {
            return Err(ApiError::invalid(
                "if_speed_bps",
                format!(
                    "{speed_bps} is above the {MAX_SPEED_BPS} (400 Gbit/s) maximum, beyond which \
                     counters would saturate within about 14 years"
                ),
            ));
        }
        let dialout = self
            .gnmi_dialout
            .map(DialoutBody::into_config)
            .transpose()?;
        let hostname = self
            .hostname
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        if let Some(mdt) = &self.mdt {
            mdt.validate()
                .map_err(|e| ApiError::invalid(format!("mdt.{}", e.field), e.reason))?;
        }
        Ok(BatchSpec {
            start_ip,
            device_count: self.device_count.unwrap_or(DEFAULT_DEVICE_COUNT),
            netmask,
            interfaces,
            speed_bps,
            error_scenario: parse_enum(
                "if_error_scenario",
                self.if_error_scenario.as_deref(),
                ErrorScenario::Clean,
            )?,
            flap_scenario: parse_enum(
                "if_flap_scenario",
                self.if_flap_scenario.as_deref(),
                FlapScenario::Clean,
            )?,
            bgp_flap_scenario: parse_enum(
                "bgp_flap_scenario",
                self.bgp_flap_scenario.as_deref(),
                FlapScenario::Clean,
            )?,
            initial_state: parse_enum(
                "if_initial_state",
                self.if_initial_state.as_deref(),
                InitialState::AllUp,
            )?,
            interface_naming: parse_enum(
                "interface_naming",
                self.interface_naming.as_deref(),
                InterfaceNaming::Arista,
            )?,
            hostname,
            device_type: self
                .device_type
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| nl6_profile::DEFAULT_PROFILE.to_string()),
            dialout,
            mdt: self.mdt,
        })
    }
}

impl DialoutBody {
    /// Builds the dial-out configuration and makes the checks no flavor is needed for;
    /// errors name `gnmi_dialout.<field>`. The fleet checks the flavor and its options
    /// against its registry.
    pub fn into_config(self) -> Result<DialoutConfig, ApiError> {
        let flavor = match self.flavor.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_FLAVOR.to_string(),
            Some(f) => f.to_string(),
        };
        let encoding = parse_enum_cfg::<Encoding>(self.encoding.as_deref())?;
        let mode = parse_enum_cfg::<Mode>(self.mode.as_deref())?;
        let paths = match self.paths {
            Some(p) if !p.is_empty() => p,
            _ => vec![DEFAULT_PATH.to_string()],
        };
        let sample_interval = parse_sample_interval(self.sample_interval.as_deref().unwrap_or(""))
            .map_err(dialout_field)?;
        let phase = parse_enum_cfg::<Phase>(self.phase.as_deref())?;
        let keepalive =
            parse_keepalive(self.keepalive.as_deref().unwrap_or("")).map_err(dialout_field)?;
        let tls = match self.tls {
            Some(tls) => tls.into_settings()?,
            None => TlsSettings::default(),
        };
        let retry_interval = parse_optional_duration(
            ConfigKey::RetryInterval,
            self.retry_interval.as_deref().unwrap_or(""),
        )
        .map_err(dialout_field)?;
        let failback =
            parse_optional_duration(ConfigKey::Failback, self.failback.as_deref().unwrap_or(""))
                .map_err(dialout_field)?;
        let publish = parse_enum_cfg::<Publish>(self.publish.as_deref())?;
        let collectors: Vec<String> = self
            .collectors
            .unwrap_or_default()
            .iter()
            .map(|c| c.trim().to_string())
            .collect();
        let config = DialoutConfig {
            phase,
            keepalive,
            collector: self.collector.trim().to_string(),
            flavor,
            encoding,
            mode,
            paths,
            sample_interval,
            tls,
            collectors,
            retry_interval,
            failback,
            subscription: self.subscription.unwrap_or_default(),
            publish,
        };
        config.validate_common().map_err(dialout_field)?;
        Ok(config)
    }
}

fn parse_enum_cfg<T: FromStr<Err = ConfigError> + Default>(
    text: Option<&str>,
) -> Result<T, ApiError> {
    match text {
        None => Ok(T::default()),
        Some(t) => t.trim().parse().map_err(dialout_field),
    }
}

impl TlsBody {
    fn into_settings(self) -> Result<TlsSettings, ApiError> {
        if self
            .ca_file
            .as_deref()
            .is_some_and(|f| !f.trim().is_empty())
        {
            return Err(ApiError::invalid(
                "gnmi_dialout.tls.ca_file",
                "is not accepted over REST (it would name a file on the server); send the PEM \
                 text inline as tls.ca_pem, or start nl6d with --gnmi-dialout-tls-ca",
            ));
        }
        let ca = self
            .ca_pem
            .filter(|pem| !pem.trim().is_empty())
            .map(CaSource::InlinePem);
        Ok(TlsSettings {
            enabled: self.enabled.unwrap_or(true),
            insecure_skip_verify: self.insecure_skip_verify.unwrap_or(false),
            ca,
            mtls: self.mtls.unwrap_or(false),
        })
    }
}

/// A parsed interface-state request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateRequest {
    pub(crate) status: String,
    pub(crate) duration: Option<Duration>,
}

impl InterfaceStateBody {
    /// Parses `duration` (the fleet checks the status spelling and the 24 h cap).
    pub(crate) fn parse(self) -> Result<StateRequest, String> {
        let duration = match self.duration.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(humantime::parse_duration(text).map_err(|e| {
                format!(
                    "invalid duration {text:?}: {e}; use a duration such as \"30s\" (at most 24h)"
                )
            })?),
        };
        Ok(StateRequest {
            status: self.status,
            duration,
        })
    }
}

/// The settings a device was created with: the create body with every default applied
/// (it can be posted again, with `start_ip`/`device_count` adjusted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchConfig {
    /// First address of the batch.
    pub start_ip: String,
    /// Devices in the batch.
    pub device_count: u32,
    /// Prefix length of the batch network.
    pub netmask: u8,
    /// Interfaces per device.
    pub interfaces: u32,
    /// Link speed, bit/s.
    pub if_speed_bps: u64,
    /// Error/discard scenario.
    pub if_error_scenario: String,
    /// Link-flap scenario.
    pub if_flap_scenario: String,
    /// BGP flap scenario.
    #[serde(default = "default_clean")]
    pub bgp_flap_scenario: String,
    /// Initial interface state.
    pub if_initial_state: String,
    /// Interface naming style.
    #[serde(default = "default_naming")]
    pub interface_naming: String,
    /// Device profile.
    #[serde(default = "default_device_type")]
    pub device_type: String,
    /// Host name pattern, if one was given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hostname: Option<String>,
    /// Dial-out settings; absent for dial-in-only devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout: Option<DialoutEcho>,
    /// Model-driven telemetry, as posted; absent when none was configured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub mdt: Option<MdtConfig>,
}

/// The `gnmi_dialout` block as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DialoutEcho {
    /// Collector `host:port`.
    pub collector: String,
    /// Wire flavor.
    pub flavor: String,
    /// `json_ietf` or `proto`.
    pub encoding: String,
    /// `sample` or `on-change`.
    pub mode: String,
    /// gNMI paths pushed.
    pub paths: Vec<String>,
    /// SAMPLE cadence.
    pub sample_interval: String,
    /// `spread` or `aligned`.
    pub phase: String,
    /// Keepalive ping interval as configured (`0` = no pings).
    pub keepalive: String,
    /// TLS towards the collector.
    pub tls: TlsEcho,
    /// The destination group, when one was given.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub collectors: Vec<String>,
    /// The retry interval, when set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_interval: Option<String>,
    /// The failback time, when set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failback: Option<String>,
    /// The subscription name, when set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subscription: Option<String>,
    /// `get`, when set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub publish: Option<String>,
}

/// TLS settings as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TlsEcho {
    /// TLS on.
    pub enabled: bool,
    /// Collector certificate not verified.
    pub insecure_skip_verify: bool,
    /// Inline CA bundle, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// CA bundle file (only for batches created from nl6d flags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Mutual TLS.
    pub mtls: bool,
}

impl From<&BatchSpec> for BatchConfig {
    fn from(spec: &BatchSpec) -> Self {
        BatchConfig {
            start_ip: spec.start_ip.to_string(),
            device_count: spec.device_count,
            netmask: spec.netmask,
            interfaces: spec.interfaces,
            if_speed_bps: spec.speed_bps,
            if_error_scenario: spec.error_scenario.to_string(),
            if_flap_scenario: spec.flap_scenario.to_string(),
            bgp_flap_scenario: spec.bgp_flap_scenario.to_string(),
            if_initial_state: spec.initial_state.to_string(),
            interface_naming: spec.interface_naming.to_string(),
            device_type: spec.device_type.clone(),
            hostname: spec.hostname.clone(),
            gnmi_dialout: spec.dialout.as_ref().map(DialoutEcho::from),
            mdt: spec.mdt.clone(),
        }
    }
}

impl From<&DialoutConfig> for DialoutEcho {
    fn from(cfg: &DialoutConfig) -> Self {
        let (ca_pem, ca_file) = match &cfg.tls.ca {
            None => (None, None),
            Some(CaSource::InlinePem(pem)) => (Some(pem.clone()), None),
            Some(CaSource::File(path)) => (None, Some(path.display().to_string())),
        };
        DialoutEcho {
            collector: cfg.collectors.first().unwrap_or(&cfg.collector).clone(),
            flavor: cfg.flavor_name().to_string(),
            encoding: cfg.encoding.to_string(),
            mode: cfg.mode.to_string(),
            paths: cfg
                .effective_paths()
                .into_iter()
                .map(String::from)
                .collect(),
            sample_interval: humantime::format_duration(cfg.sample_interval).to_string(),
            phase: cfg.phase.to_string(),
            keepalive: if cfg.keepalive.is_zero() {
                "0".to_string()
            } else {
                humantime::format_duration(cfg.keepalive).to_string()
            },
            tls: TlsEcho {
                enabled: cfg.tls.enabled,
                insecure_skip_verify: cfg.tls.insecure_skip_verify,
                ca_pem,
                ca_file,
                mtls: cfg.tls.mtls,
            },
            collectors: cfg.collectors.clone(),
            retry_interval: duration_echo(cfg.retry_interval),
            failback: duration_echo(cfg.failback),
            subscription: Some(cfg.subscription.clone()).filter(|s| !s.is_empty()),
            publish: (cfg.publish != Publish::Subscribe).then(|| cfg.publish.to_string()),
        }
    }
}

/// A set duration as humantime text; `None` when unset (zero).
fn duration_echo(d: Duration) -> Option<String> {
    (!d.is_zero()).then(|| humantime::format_duration(d).to_string())
}

/// One device as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    /// Device address: dial-in on `<ip>:<dial-in port>`, dial-out from this source.
    #[schema(example = "127.42.0.1")]
    pub ip: String,
    /// Host name (Nokia's `system-name`).
    #[schema(example = "nl6-127-42-0-1")]
    pub hostname: String,
    /// Number of interfaces (ifindex 1..=N).
    pub interfaces: usize,
    /// Whether the device pushes dial-out telemetry.
    pub dialout: bool,
    /// Why the device's last dial-out connection attempt or stream failed, if one did
    /// (e.g. "no IPv4 address among 1 records for collector.example").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dialout_error: Option<String>,
    /// The collector it streams to, or tries next (with a destination group: the one it
    /// uses now).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dialout_collector: Option<String>,
    /// When its batch was created (RFC 3339, UTC).
    pub created: String,
    /// When the device booted (RFC 3339, UTC): seeded 1–400 days before nl6 started, or
    /// the time of its last reboot. Its counters count from it.
    #[schema(example = "2026-03-02T17:41:09Z")]
    pub boot_time: String,
    /// The settings of its batch.
    pub config: BatchConfig,
}

impl From<&DeviceInfo> for DeviceView {
    fn from(info: &DeviceInfo) -> Self {
        DeviceView {
            ip: info.ip.to_string(),
            hostname: info.hostname.clone(),
            interfaces: info.interfaces,
            dialout: info.dialout,
            dialout_error: info.dialout_error.clone(),
            dialout_collector: info.dialout_collector.clone(),
            created: humantime::format_rfc3339_seconds(info.created).to_string(),
            boot_time: humantime::format_rfc3339_seconds(info.boot_time).to_string(),
            config: BatchConfig::from(&*info.batch),
        }
    }
}

/// One page of `GET /api/v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DevicePage {
    /// Devices in the fleet (on every page).
    pub total: usize,
    /// The devices of this page, by address.
    pub devices: Vec<DeviceView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_cursor: Option<String>,
}

/// A [`DevicePage`] as served: the same JSON, borrowing the devices and echoing each batch's
/// settings once per page (every device of a batch shares its [`BatchSpec`]; nothing of it is
/// copied per device).
#[derive(Serialize)]
pub(crate) struct DevicePageOut<'a> {
    total: usize,
    devices: Vec<DeviceItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// A [`DeviceView`] borrowing its device and its batch's echo.
#[derive(Serialize)]
struct DeviceItem<'a> {
    ip: Ipv4Addr,
    hostname: &'a str,
    interfaces: usize,
    dialout: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialout_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialout_collector: Option<&'a str>,
    created: &'a str,
    #[serde(serialize_with = "rfc3339_seconds")]
    boot_time: std::time::SystemTime,
    config: &'a BatchConfig,
}

/// Serializes an instant as RFC 3339 (UTC, whole seconds) without an intermediate `String`.
fn rfc3339_seconds<S: serde::Serializer>(
    t: &std::time::SystemTime,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*t))
}

/// The echo of each batch of a page, built once per batch.
pub(crate) struct BatchEchoes {
    /// By the address of the batch's shared spec (kept alive by the page's devices).
    index: std::collections::HashMap<usize, usize>,
    echoes: Vec<(String, BatchConfig)>,
    /// Which echo each device of the page uses.
    of_device: Vec<usize>,
}

impl BatchEchoes {
    /// The echoes of the batches of `devices`.
    pub(crate) fn of(devices: &[DeviceInfo]) -> BatchEchoes {
        let mut echoes = BatchEchoes {
            index: Default::default(),
            echoes: Vec::new(),
            of_device: Vec::with_capacity(devices.len()),
        };
        for info in devices {
            let next = echoes.echoes.len();
            let at = *echoes
                .index
                .entry(std::sync::Arc::as_ptr(&info.batch) as usize)
                .or_insert(next);
            if at == next {
                echoes.echoes.push((
                    humantime::format_rfc3339_seconds(info.created).to_string(),
                    BatchConfig::from(&*info.batch),
                ));
            }
            echoes.of_device.push(at);
        }
        echoes
    }

    /// Distinct batches among the devices.
    #[cfg(test)]
    fn batches(&self) -> usize {
        self.echoes.len()
    }

    /// The page to serialize: `devices` must be the slice the echoes were built from.
    pub(crate) fn page<'a>(
        &'a self,
        total: usize,
        devices: &'a [DeviceInfo],
        next_cursor: Option<String>,
    ) -> DevicePageOut<'a> {
        let devices = devices
            .iter()
            .zip(&self.of_device)
            .map(|(info, &at)| {
                let (created, config) = &self.echoes[at];
                DeviceItem {
                    ip: info.ip,
                    hostname: &info.hostname,
                    interfaces: info.interfaces,
                    dialout: info.dialout,
                    dialout_error: info.dialout_error.as_deref(),
                    dialout_collector: info.dialout_collector.as_deref(),
                    created,
                    boot_time: info.boot_time,
                    config,
                }
            })
            .collect();
        DevicePageOut {
            total,
            devices,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> CreateDevices {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_page_serializes_as_device_views_with_one_echo_per_batch() {
        let spec = std::sync::Arc::new(BatchSpec {
            hostname: Some("leaf-{n}".into()),
            ..BatchSpec::default()
        });
        let other = std::sync::Arc::new(BatchSpec::default());
        let info = |n: u8, batch: &std::sync::Arc<BatchSpec>| DeviceInfo {
            ip: Ipv4Addr::new(127, 42, 0, n),
            hostname: format!("leaf-{n}"),
            interfaces: 10,
            dialout: n == 2,
            dialout_error: (n == 2).then(|| "refused".to_string()),
            dialout_collector: (n == 2).then(|| "127.0.0.1:1".to_string()),
            mdt_sessions: 0,
            batch: batch.clone(),
            created: std::time::SystemTime::UNIX_EPOCH,
            boot_time: std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_700_000_000 + u64::from(n)),
        };
        let devices = [info(1, &spec), info(2, &spec), info(3, &other)];
        let echoes = BatchEchoes::of(&devices);
        assert_eq!(echoes.batches(), 2);
        let served = serde_json::to_value(echoes.page(7, &devices, Some("127.42.0.3".into())));
        let views = DevicePage {
            total: 7,
            devices: devices.iter().map(DeviceView::from).collect(),
            next_cursor: Some("127.42.0.3".into()),
        };
        assert_eq!(served.unwrap(), serde_json::to_value(&views).unwrap());
        let last = serde_json::to_value(echoes.page(3, &devices, None)).unwrap();
        assert!(last.get("next_cursor").is_none(), "{last}");
        let back: DevicePage = serde_json::from_value(last).unwrap();
        assert_eq!(back.devices, views.devices);
    }

    #[test]
    fn defaults() {
        let spec = body(r#"{"start_ip":"127.1.0.1"}"#).into_spec().unwrap();
        assert_eq!(spec.device_count, 1);
        assert_eq!(spec.netmask, 24);
        assert_eq!(spec.interfaces, 10);
        assert_eq!(spec.speed_bps, 1_000_000_000);
        assert_eq!(spec.error_scenario, ErrorScenario::Clean);
        assert_eq!(spec.flap_scenario, FlapScenario::Clean);
        assert_eq!(spec.initial_state, InitialState::AllUp);
        assert!(spec.dialout.is_none());
    }

    #[test]
    fn netmask_spellings() {
        for (text, want) in [("16", 16), ("\"24\"", 24), ("\"/8\"", 8)] {
            let b = body(&format!(r#"{{"start_ip":"127.1.0.1","netmask":{text}}}"#));
            assert_eq!(b.into_spec().unwrap().netmask, want, "{text}");
        }
        for text in ["20", "\"255.255.0.0\"", "-1", "\"x\""] {
            let b = body(&format!(r#"{{"start_ip":"127.1.0.1","netmask":{text}}}"#));
            let e = b.into_spec().unwrap_err().to_string();
            assert!(e.starts_with("invalid netmask: "), "{text}: {e}");
        }
    }

    #[test]
    fn dialout_defaults_and_errors_name_the_field() {
        let b = body(r#"{"start_ip":"127.1.0.1","gnmi_dialout":{"collector":"127.0.0.1:6030"}}"#);
        let cfg = b.into_spec().unwrap().dialout.unwrap();
        assert_eq!(cfg, DialoutConfig::new("127.0.0.1:6030"));
        for (block, field) in [
            (r#"{"collector":"nope"}"#, "gnmi_dialout.collector"),
            (r#"{"collector":"h:1","mode":"poll"}"#, "gnmi_dialout.mode"),
            (
                r#"{"collector":"h:1","encoding":"xml"}"#,
                "gnmi_dialout.encoding",
            ),
            (
                r#"{"collector":"h:1","sample_interval":"-1s"}"#,
                "gnmi_dialout.sample_interval",
            ),
            (
                r#"{"collector":"h:1","keepalive":"often"}"#,
                "gnmi_dialout.keepalive",
            ),
            (
                r#"{"collector":"h:1","keepalive":"48h"}"#,
                "gnmi_dialout.keepalive",
            ),
            (
                r#"{"collector":"h:1","phase":"burst"}"#,
                "gnmi_dialout.phase",
            ),
            (
                r#"{"collector":"h:1","paths":["/a[b"]}"#,
                "gnmi_dialout.paths[0]",
            ),
            (
                r#"{"collector":"h:1","tls":{"enabled":false,"mtls":true}}"#,
                "gnmi_dialout.tls.enabled",
            ),
            (
                r#"{"collector":"h:1","tls":{"ca_file":"/etc/ca.pem"}}"#,
                "gnmi_dialout.tls.ca_file",
            ),
        ] {
            let b = body(&format!(
                r#"{{"start_ip":"127.1.0.1","gnmi_dialout":{block}}}"#
            ));
            let e = b.into_spec().unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid {field}: ")), "{block}: {e}");
        }
    }

    #[test]
    fn ca_file_message_points_to_ca_pem_and_the_flag() {
        let tls: TlsBody = serde_json::from_str(r#"{"ca_file":"/x"}"#).unwrap();
        let e = tls.into_settings().unwrap_err().to_string();
        assert!(
            e.contains("ca_pem") && e.contains("--gnmi-dialout-tls-ca"),
            "{e}"
        );
        let tls: TlsBody = serde_json::from_str(r#"{"ca_file":""}"#).unwrap();
        assert_eq!(tls.into_settings().unwrap(), TlsSettings::default());
    }

    #[test]
    fn echo_round_trips_into_the_same_spec() {
        let b = body(
            r#"{"start_ip":"127.1.0.1","device_count":3,"netmask":16,"if_initial_state":"25%",
                "gnmi_dialout":{"collector":"h:1","mode":"onchange","sample_interval":"1m",
                "tls":{"enabled":false}}}"#,
        );
        let spec = b.into_spec().unwrap();
        let echo = serde_json::to_string(&BatchConfig::from(&spec)).unwrap();
        let again: CreateDevices = serde_json::from_str(&echo).unwrap();
        let spec2 = again.into_spec().unwrap();
        assert_eq!(format!("{spec:?}"), format!("{spec2:?}"));
    }
}
