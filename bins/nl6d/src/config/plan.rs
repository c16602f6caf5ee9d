//! From merged `Settings` to the start-up [`Plan`]: every value validated, every error
//! naming the key and where its value came from.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use nl6_dialin::DialinConfig;
use nl6_dialout::{CaSource, DialoutConfig, TlsSettings};
use nl6_fleet::{BatchSpec, FleetConfig, NetworkMode};
use nl6_ifstate::{ErrorScenario, FlapScenario, InitialState};
use nl6_netns::NetnsConfig;
use nl6_tls::Identity;

use nl6_rest::{BearerToken, ServeOptions};

use super::errors::SettingsError;
use super::layers::LoadedSettings;
use super::settings::{AUTO_COUNT_RANGE, INTERFACES_RANGE, MIN_QUEUE_BUDGET, NETNS_NAME_LEN};

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
    if bytes < MIN_QUEUE_BUDGET {
        return Err(format!(
            "{text:?} is below the {}MiB minimum",
            MIN_QUEUE_BUDGET >> 20
        ));
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

/// Everything nl6d needs to start, derived from `Settings`.
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
    /// `value` within `range`, or an error that says the range as `--help` does.
    fn in_range(
        &self,
        key: &str,
        value: u32,
        range: &std::ops::RangeInclusive<u32>,
    ) -> Result<(), SettingsError> {
        if range.contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            key,
            format!(
                "{value} is out of range {}..={}",
                range.start(),
                range.end()
            ),
        ))
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
            if !NETNS_NAME_LEN.contains(&s.netns_name.len()) || s.netns_name.contains('/') {
                return Err(self.invalid(
                    "netns_name",
                    format!(
                        "{:?} is not {}",
                        s.netns_name,
                        super::settings::range_of("netns_name").unwrap_or_default()
                    ),
                ));
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
        let profiles = std::sync::Arc::new(match &s.profile_dir {
            Some(dir) => nl6_profile::ProfileRegistry::load_dir(dir)
                .map_err(|e| self.invalid("profile_dir", e))?,
            None => nl6_profile::ProfileRegistry::builtin(),
        });
        let seed_batch = self.seed_batch(&profiles)?;
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
                profiles,
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

    fn seed_batch(
        &self,
        profiles: &nl6_profile::ProfileRegistry,
    ) -> Result<Option<BatchSpec>, SettingsError> {
        let s = &self.settings;
        self.in_range("auto_count", s.auto_count, &AUTO_COUNT_RANGE)?;
        self.in_range("interfaces", s.interfaces, &INTERFACES_RANGE)?;
        let profile = profiles.get(s.device_type.trim()).ok_or_else(|| {
            self.invalid(
                "device_type",
                format!(
                    "unknown device type {:?}; known: {}",
                    s.device_type,
                    profiles.names().join(", ")
                ),
            )
        })?;
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
            bgp_flap_scenario: FlapScenario::Clean,
            initial_state: self.parsed::<InitialState>("if_initial_state", &s.if_initial_state)?,
            interface_naming: match s.interface_naming.trim() {
                "" => profile.naming(),
                text => self.parsed("interface_naming", text)?,
            },
            device_type: profile.name().to_string(),
            hostname: Some(s.hostname.trim().to_string()).filter(|h| !h.is_empty()),
            dialout,
            mdt: self.mdt()?,
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

    /// The start-up batch's MDT block: one sensor group, one subscription and, with a
    /// destination, one destination group, all named after the subscription.
    fn mdt(&self) -> Result<Option<nl6_mdt::MdtConfig>, SettingsError> {
        let s = &self.settings;
        let name = s.mdt_subscription.trim();
        if name.is_empty() {
            return Ok(None);
        }
        // Each flag's value is checked against its own type first, so an error names the
        // flag; what remains for the block's validation is the subscription name.
        let paths = if s.mdt_sensor_paths.is_empty() {
            vec![nl6_mdt::SensorPath::GenericCounters.as_str().to_string()]
        } else {
            s.mdt_sensor_paths.clone()
        };
        let mut any_state = false;
        for path in &paths {
            let path = path
                .parse::<nl6_mdt::SensorPath>()
                .map_err(|e| self.invalid("mdt_sensor_paths", e.to_string()))?;
            any_state |= path.has_state();
        }
        s.mdt_protocol
            .parse::<nl6_mdt::MdtTransport>()
            .map_err(|e| self.invalid("mdt_protocol", e.reason))?;
        s.mdt_encoding
            .parse::<nl6_mdt::MdtEncoding>()
            .map_err(|e| self.invalid("mdt_encoding", e.to_string()))?;
        let mut mdt = nl6_mdt::MdtConfig::default();
        mdt.sensor_groups.insert(name.to_string(), paths);
        let mut destination_groups = Vec::new();
        let destination = s.mdt_destination.trim();
        if !destination.is_empty() {
            let (address, port) = destination
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                .ok_or_else(|| {
                    self.invalid(
                        "mdt_destination",
                        format!("{destination:?} is not host:port"),
                    )
                })?;
            mdt.destination_groups.insert(
                name.to_string(),
                vec![nl6_mdt::MdtDestination {
                    address: address.to_string(),
                    port,
                    protocol: s.mdt_protocol.clone(),
                    encoding: s.mdt_encoding.clone(),
                    tls: TlsSettings {
                        enabled: false,
                        ..TlsSettings::default()
                    },
                    max_datagram: None,
                }],
            );
            destination_groups.push(name.to_string());
        }
        mdt.subscriptions.insert(
            name.to_string(),
            nl6_mdt::MdtSubscription {
                sensor_groups: vec![name.to_string()],
                sample_interval: s.mdt_sample_interval,
                destination_groups,
            },
        );
        let interval = s.mdt_sample_interval;
        if interval != 0
            && !(nl6_mdt::MIN_SAMPLE_INTERVAL_MS..=nl6_mdt::MAX_SAMPLE_INTERVAL_MS)
                .contains(&interval)
        {
            return Err(self.invalid(
                "mdt_sample_interval",
                format!(
                    "{interval} ms is out of range: use 0 (event-driven) or {} to {} ms",
                    nl6_mdt::MIN_SAMPLE_INTERVAL_MS,
                    nl6_mdt::MAX_SAMPLE_INTERVAL_MS
                ),
            ));
        }
        if interval == 0 && !any_state {
            return Err(self.invalid(
                "mdt_sample_interval",
                "0 (event-driven) needs a sensor path with interface state in \
                 --mdt-sensor-paths; generic-counters never changes state",
            ));
        }
        // What is left: the name and the destination's address.
        mdt.validate()
            .map_err(|e| self.invalid("mdt_subscription", format!("{}: {}", e.field, e.reason)))?;
        Ok(Some(mdt))
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
                nl6_dialout::ConfigKey::RetryInterval,
                &s.gnmi_dialout_retry_interval,
            )
            .map_err(|e| self.invalid("gnmi_dialout_retry_interval", e.reason))?,
            failback: nl6_dialout::parse_optional_duration(
                nl6_dialout::ConfigKey::Failback,
                &s.gnmi_dialout_failback,
            )
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

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_bytes("256MiB"), Ok(256 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("2097152"), Ok(2 << 20));
        assert!(parse_bytes("64KiB").unwrap_err().contains("1MiB minimum"));
        assert!(parse_bytes("10MB").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("lots").is_err());
    }
}
