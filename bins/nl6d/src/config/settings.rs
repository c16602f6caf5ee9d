//! Every setting of nl6d, defined once: `settings!` turns one line per setting (doc
//! comment, name, type, default) into the file/environment struct `Settings`, the
//! command-line struct [`Flags`] and the key list [`KEYS`]. The doc comment is the
//! `--help` text; the default and the range are appended from the same table the
//! validation uses, so the help and the errors cannot disagree.

use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches};
use figment::Provider;
use figment::providers::Serialized;
use figment::value::Value;
use nl6_dialout::FlavorRegistry;
use serde::{Deserialize, Serialize};

/// Devices in the start-up batch (0 = none).
pub const AUTO_COUNT_RANGE: RangeInclusive<u32> = 0..=nl6_fleet::MAX_DEVICE_COUNT;
/// Interfaces per device.
pub const INTERFACES_RANGE: RangeInclusive<u32> = 1..=nl6_ifstate::MAX_INTERFACES;
/// Length of the network namespace name, in characters.
pub const NETNS_NAME_LEN: RangeInclusive<usize> = 1..=64;

/// The smallest dial-in queue budget, in bytes.
pub const MIN_QUEUE_BUDGET: usize = 1 << 20;

/// A whole duration as the validation messages spell it: `24h`, `10s`.
fn fmt(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The range `--help` shows for a key, from the constants the validation uses.
pub fn range_of(key: &str) -> Option<String> {
    let (lo, hi) = match key {
        "auto_count" => (*AUTO_COUNT_RANGE.start(), *AUTO_COUNT_RANGE.end()),
        "interfaces" => (*INTERFACES_RANGE.start(), *INTERFACES_RANGE.end()),
        "netns_name" => {
            return Some(format!(
                "{}..={} characters, no '/'",
                NETNS_NAME_LEN.start(),
                NETNS_NAME_LEN.end()
            ));
        }
        "gnmi_queue_budget" => return Some(format!("at least {}MiB", MIN_QUEUE_BUDGET >> 20)),
        "gnmi_dialout_interval" => {
            return Some(format!("at most {}", fmt(nl6_dialout::MAX_SAMPLE_INTERVAL)));
        }
        "gnmi_dialout_keepalive" => {
            return Some(format!(
                "0, or {}..={} (shorter is raised to {0})",
                fmt(nl6_dialout::MIN_KEEPALIVE),
                fmt(nl6_dialout::MAX_KEEPALIVE)
            ));
        }
        "gnmi_dialout_retry_interval" | "gnmi_dialout_failback" => {
            return Some(format!("at most {}", fmt(nl6_dialout::MAX_RETRY)));
        }
        _ => return None,
    };
    Some(format!("{lo}..={hi}"))
}

/// Generates `Settings` (every key, its default), [`Flags`] (every key but the
/// `env_only` ones as an optional `--key-with-dashes`) and [`KEYS`] from one list.
///
/// Entry forms (each with its doc comment):
/// - `name: Type = default;` a value (bools take an optional value: `--gnmi-tls=false`;
///   `Vec`s are comma-separated);
/// - `name: Option<Type>;` no default;
/// - `name: Option<Type>, env_only;` no default and no flag (secrets kept out of `ps`).
macro_rules! settings {
    // Done: emit the structs.
    (@munch [$($sf:tt)*] [$($ff:tt)*] [$($df:tt)*] [$($key:expr,)*] ;) => {
        /// Every setting of nl6d. Field names are the keys of the TOML file.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Settings { $($sf)* }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $($df)* }
            }
        }

        /// nl6d: a fleet of simulated network devices that serve gNMI and dial out telemetry.
        ///
        /// Settings merge, later winning: defaults, the TOML file (--config), environment
        /// variables NL6_<KEY>, flags. Bool flags take an optional value: --gnmi-tls=false.
        #[derive(Debug, Default, clap::Parser, Serialize)]
        #[command(name = "nl6d", version)]
        pub struct Flags {
            /// TOML configuration file (keys as in nl6.example.toml).
            #[arg(long)]
            #[serde(skip)]
            pub config: Option<PathBuf>,
            $($ff)*
        }

        /// Every configuration key, in definition order.
        pub const KEYS: &[&str] = &[$($key),*];
    };
    // `name: Option<T>, env_only;`
    (@munch [$($sf:tt)*] [$($ff:tt)*] [$($df:tt)*] [$($key:tt)*] ;
        $(#[doc = $doc:literal])* $name:ident : Option<$ty:ty>, env_only; $($rest:tt)*) => {
        settings!(@munch
            [$($sf)* $(#[doc = $doc])* pub $name: Option<$ty>,]
            [$($ff)*]
            [$($df)* $name: None,]
            [$($key)* stringify!($name),] ; $($rest)*);
    };
    // `name: Option<T>;`
    (@munch [$($sf:tt)*] [$($ff:tt)*] [$($df:tt)*] [$($key:tt)*] ;
        $(#[doc = $doc:literal])* $name:ident : Option<$ty:ty>; $($rest:tt)*) => {
        settings!(@munch
            [$($sf)* $(#[doc = $doc])* pub $name: Option<$ty>,]
            [$($ff)* $(#[doc = $doc])* #[arg(long)]
                #[serde(skip_serializing_if = "Option::is_none")] pub $name: Option<$ty>,]
            [$($df)* $name: None,]
            [$($key)* stringify!($name),] ; $($rest)*);
    };
    // `name: Vec<T> = default;`
    (@munch [$($sf:tt)*] [$($ff:tt)*] [$($df:tt)*] [$($key:tt)*] ;
        $(#[doc = $doc:literal])* $name:ident : Vec<$ty:ty> = $default:expr; $($rest:tt)*) => {
        settings!(@munch
            [$($sf)* $(#[doc = $doc])* pub $name: Vec<$ty>,]
            [$($ff)* $(#[doc = $doc])* #[arg(long, value_delimiter = ',')]
                #[serde(skip_serializing_if = "Option::is_none")] pub $name: Option<Vec<$ty>>,]
            [$($df)* $name: $default,]
            [$($key)* stringify!($name),] ; $($rest)*);
    };
    // `name: bool = default;`
    (@munch [$($sf:tt)*] [$($ff:tt)*] [$($df:tt)*] [$($key:tt)*] ;
        $(#[doc = $doc:literal])* $name:ident : bool = $default:expr; $($rest:tt)*) => {
        settings!(@munch
            [$($sf)* $(#[doc = $doc])* pub $name: bool,]
            [$($ff)* $(#[doc = $doc])* #[arg(long, num_args = 0..=1, default_missing_value = "true")]
                #[serde(skip_serializing_if = "Option::is_none")] pub $name: Option<bool>,]
            [$($df)* $name: $default,]
            [$($key)* stringify!($name),] ; $($rest)*);
    };
    // `name: T = default;`
    (@munch [$($sf:tt)*] [$($ff:tt)*] [$($df:tt)*] [$($key:tt)*] ;
        $(#[doc = $doc:literal])* $name:ident : $ty:ty = $default:expr; $($rest:tt)*) => {
        settings!(@munch
            [$($sf)* $(#[doc = $doc])* pub $name: $ty,]
            [$($ff)* $(#[doc = $doc])* #[arg(long)]
                #[serde(skip_serializing_if = "Option::is_none")] pub $name: Option<$ty>,]
            [$($df)* $name: $default,]
            [$($key)* stringify!($name),] ; $($rest)*);
    };
    // Entry point (last, so the `@munch` calls never match it).
    ($($body:tt)*) => {
        settings!(@munch [] [] [] [] ; $($body)*);
    };
}

settings! {
    /// REST API listen address.
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8080));
    /// File with the REST bearer token (its first line, 16+ characters); required to
    /// listen on a non-loopback address. Or set NL6_REST_TOKEN.
    rest_token_file: Option<PathBuf>;
    /// The REST bearer token itself (environment NL6_REST_TOKEN or the file; no flag,
    /// so it never shows in `ps`).
    rest_token: Option<String>, env_only;
    /// Most REST connections open at once; more are closed at accept.
    rest_max_connections: usize = nl6_rest::DEFAULT_MAX_CONNECTIONS;
    /// First device address of the start-up batch [default: 127.42.0.1; 10.42.0.1 with --netns].
    auto_start_ip: Option<Ipv4Addr>;
    /// Devices in the start-up batch, 0 = start with none.
    auto_count: u32 = 10;
    /// Netmask of the start-up batch: 8, 16 or 24.
    auto_netmask: u8 = 16;
    /// Interfaces per device.
    interfaces: u32 = 10;
    /// Error counter scenario: clean, typical, degraded, failing.
    if_error_scenario: String = "clean".into();
    /// Link-flap scenario: clean, rare, typical, aggressive.
    if_flap_scenario: String = "clean".into();
    /// Interface state at start: all-up, all-admin-down, oper-down or N%.
    if_initial_state: String = "all-up".into();
    /// Interface names of the start-up batch: arista (Ethernet1), xr (HundredGigE0/0/0/0),
    /// junos (et-0/0/0), sros (1/1/c1/1) or sonic (Ethernet0, Ethernet4); empty = the
    /// device type's naming (arista for generic).
    interface_naming: String = String::new();
    /// Device profile of the start-up batch: generic (interfaces only), arista-eos,
    /// cisco-xr, juniper-mx, nokia-sros, sonic, or one from --profile-dir.
    device_type: String = "generic".into();
    /// Directory of extra device-profile files (*.toml, see docs/profiles.md), loaded at
    /// start; a malformed file stops nl6d with its file, line and field.
    profile_dir: Option<PathBuf>;
    /// Host names of the start-up batch: a pattern with {ip} (the address in dashes) and
    /// the 1-based index placeholder of docs/dialout-flavors.md, or a prefix the index is
    /// appended to (leaf -> leaf1, leaf2); empty = derived from the address, nl6-127-42-0-1.
    hostname: String = String::new();
    /// Fleet-wide cap on link-flap events per second (and on BGP flaps started per
    /// second), 0 = unlimited.
    if_flap_max_events_per_sec: u32 = 0;
    /// gNMI dial-in port on every device address.
    gnmi_port: u16 = 9339;
    /// Serve dial-in with TLS (self-signed unless --gnmi-tls-cert/key).
    gnmi_tls: bool = true;
    /// PEM certificate for dial-in TLS (and dial-out mTLS).
    gnmi_tls_cert: Option<PathBuf>;
    /// PEM private key of --gnmi-tls-cert.
    gnmi_tls_key: Option<PathBuf>;
    /// Require this username in gNMI metadata (with --gnmi-password).
    gnmi_username: Option<String>;
    /// Require this password in gNMI metadata (with --gnmi-username). Visible to every
    /// local user in `ps`: prefer --gnmi-password-file or NL6_GNMI_PASSWORD.
    gnmi_password: Option<String>;
    /// File with the gNMI password (its first line), instead of --gnmi-password.
    gnmi_password_file: Option<PathBuf>;
    /// Shortest SAMPLE interval dial-in clients may ask for.
    gnmi_min_sample_interval: String = "1s".into();
    /// Bytes of dial-in Subscribe responses queued fleet-wide before the slowest streams
    /// drop theirs, e.g. 256MiB.
    gnmi_queue_budget: String = "256MiB".into();
    /// dial-in (serve gNMI) or dial-out (also push) for the start-up batch.
    gnmi_mode: String = "dial-in".into();
    /// Collector host:port (required with --gnmi-mode dial-out).
    gnmi_dialout_collector: Option<String>;
    /// Dial-out wire flavor (the list is filled in from the flavor registry at start).
    gnmi_dialout_flavor: String = "gnmireverse".into();
    /// Dial-out encoding: json_ietf, json or proto (sonic: json_ietf or proto).
    gnmi_dialout_encoding: String = "json_ietf".into();
    /// Dial-out trigger: sample or on-change.
    gnmi_dialout_sub_mode: String = "sample".into();
    /// Dial-out SAMPLE cadence, 1s floor.
    gnmi_dialout_interval: String = "10s".into();
    /// Dial out with TLS (false = plaintext).
    gnmi_dialout_tls: bool = true;
    /// Skip verification of the collector certificate (development only).
    gnmi_dialout_tls_insecure: bool = false;
    /// PEM CA bundle verifying the collector (absent = system roots).
    gnmi_dialout_tls_ca: Option<PathBuf>;
    /// Present the simulator certificate to the collector (mutual TLS).
    gnmi_dialout_mtls: bool = false;
    /// gNMI paths pushed by dial-out devices, comma-separated.
    gnmi_dialout_paths: Vec<String> = vec![nl6_dialout::DEFAULT_PATH.to_string()];
    /// Dial-out SAMPLE phase: spread (each device at its own offset in the interval, an
    /// even load) or aligned (every device at once, bursts).
    gnmi_dialout_phase: String = "spread".into();
    /// Dial-out HTTP/2 keepalive ping interval, e.g. 5m; 0 = no pings. grpc-go
    /// collectors GOAWAY clients that ping more often than every 5 minutes.
    gnmi_dialout_keepalive: String = "0".into();
    /// sonic: a destination group, comma-separated host:port list tried in order (the
    /// next one when the current fails); replaces --gnmi-dialout-collector.
    gnmi_dialout_collectors: Vec<String> = Vec::new();
    /// sonic: the wait once every collector of the group failed, e.g. 30s; 0 = the
    /// flavor's default (sonic: 30s).
    gnmi_dialout_retry_interval: String = "0".into();
    /// sonic: time on a backup collector before trying the first again, e.g. 5m; 0 = stay
    /// on the backup until it fails.
    gnmi_dialout_failback: String = "0".into();
    /// nokia: the subscription-name metadata; empty = nl6.
    gnmi_dialout_subscription: String = String::new();
    /// gnmireverse: subscribe (SubscribeResponses on Publish) or get (the paths as a Get
    /// every interval, GetResponses on PublishGet).
    gnmi_dialout_publish: String = "subscribe".into();
    /// Cisco MDT: a subscription on every start-up device (its subscription_id_str, and
    /// what a dial-in collector's CreateSubs names); empty = no model-driven telemetry.
    mdt_subscription: String = String::new();
    /// Cisco MDT: the subscription's sensor paths, comma-separated; none = the XR
    /// generic-counters path (nl6d mdt-proto lists them with their fields).
    mdt_sensor_paths: Vec<String> = Vec::new();
    /// Cisco MDT: sample interval in ms (at least 1000); 0 = event-driven.
    mdt_sample_interval: u64 = 10_000;
    /// Cisco MDT: dial-out collector host:port; empty = the subscription is for gRPC
    /// dial-in only.
    mdt_destination: String = String::new();
    /// Cisco MDT: dial-out protocol, grpc, tcp or udp.
    mdt_protocol: String = "grpc".into();
    /// Cisco MDT: encoding, self-describing-gpb, gpb (compact) or json.
    mdt_encoding: String = "self-describing-gpb".into();
    /// Put the fleet in its own network namespace with real addresses (needs root).
    netns: bool = false;
    /// Name of the simulator network namespace.
    netns_name: String = "nl6sim".into();
    /// Seed mixed into every device's counters.
    seed: u64 = 0;
}

/// The defaults as `--help` shows them: `key -> text`, keys without a default absent.
fn default_texts() -> Vec<(String, String)> {
    let profiles = Serialized::defaults(Settings::default())
        .data()
        .unwrap_or_default();
    profiles
        .into_values()
        .flatten()
        .filter(|(_, value)| !matches!(value, Value::Empty(..)))
        .map(|(key, value)| (key, value_text(&value)))
        .collect()
}

/// A default value in words: strings bare (`""` when empty), lists comma-separated.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(_, s) if s.is_empty() => "\"\"".to_string(),
        Value::String(_, s) => s.clone(),
        Value::Array(_, items) if items.is_empty() => "none".to_string(),
        Value::Array(_, items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        Value::Num(_, n) => n
            .to_u128()
            .map(|n| n.to_string())
            .or_else(|| n.to_i128().map(|n| n.to_string()))
            .unwrap_or_else(|| format!("{:?}", n.to_f64())),
        Value::Bool(_, b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

impl Flags {
    /// Parses the command line; `--help` lists the flavors of `flavors`.
    pub fn parse_with(flavors: &FlavorRegistry) -> Flags {
        let matches = Flags::command_with(flavors).get_matches();
        if let Some(("mdt-proto", sub)) = matches.subcommand() {
            let path = sub
                .get_one::<String>("path")
                .map(String::as_str)
                .unwrap_or("");
            std::process::exit(print_mdt_proto(path));
        }
        Flags::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The command: help texts from the doc comments, each followed by its range and
    /// default from the same constants the validation uses; the flavor flag's help is
    /// generated from `flavors`.
    pub fn command_with(flavors: &FlavorRegistry) -> clap::Command {
        let names = flavors.names().join(", ");
        let described = flavors
            .describe()
            .lines()
            .map(|line| format!("  {line}"))
            .collect::<Vec<_>>()
            .join("\n");
        let defaults = default_texts();
        let paths: Vec<&str> = nl6_mdt::SensorPath::ALL
            .iter()
            .map(|p| p.as_str())
            .collect();
        let mut command = Flags::command().subcommand(
            clap::Command::new("mdt-proto")
                .about(
                    "Prints the .proto that decodes compact-GPB (gpb) rows of a Cisco MDT sensor \
                     path, like IOS XR's `telemetry generate gpb-encoding path PATH syntax proto3`",
                )
                .arg(
                    clap::Arg::new("path")
                        .required(true)
                        .help(format!("The sensor path: {}", paths.join(", "))),
                ),
        );
        for key in KEYS {
            if command.get_arguments().all(|a| a.get_id() != *key) {
                continue; // env_only
            }
            let default = defaults.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            let range = range_of(key);
            command = command.mut_arg(*key, |arg| {
                let mut help = if *key == "gnmi_dialout_flavor" {
                    format!("Dial-out wire flavor: {names}")
                } else {
                    arg.get_help().map(|h| h.to_string()).unwrap_or_default()
                };
                if let Some(range) = &range {
                    help.push_str(&format!(" [range: {range}]"));
                }
                if let Some(default) = default {
                    help.push_str(&format!(" [default: {default}]"));
                }
                let arg = if *key == "gnmi_dialout_flavor" {
                    arg.long_help(format!("{help}\n{described}"))
                } else {
                    arg
                };
                arg.help(help)
            });
        }
        command
    }
}

/// `nl6d mdt-proto PATH`: the `.proto` on stdout (exit 0), or why not on stderr (exit 2).
fn print_mdt_proto(path: &str) -> i32 {
    match nl6_mdt::generate_proto(path) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("nl6d mdt-proto: {e}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Figment;
    use figment::providers::{Format, Toml};

    #[test]
    fn help_lists_the_registered_flavors() {
        let mut command = Flags::command_with(&FlavorRegistry::default());
        let help = command.render_help().to_string();
        assert!(help.contains("gnmireverse, nokia, sonic"), "{help}");
        let long = command.render_long_help().to_string();
        assert!(long.contains("/gnmi.sonic.gNMIDialOut/Publish"), "{long}");
    }

    #[test]
    fn help_shows_ranges_and_defaults_from_the_constants() {
        let command = Flags::command_with(&FlavorRegistry::default());
        let help = |id: &str| {
            command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        let max = nl6_fleet::MAX_DEVICE_COUNT;
        assert!(
            help("auto_count").contains(&format!("[range: 0..={max}] [default: 10]")),
            "{}",
            help("auto_count")
        );
        let max = nl6_ifstate::MAX_INTERFACES;
        assert!(help("interfaces").contains(&format!("[range: 1..={max}]")));
        assert!(help("gnmi_port").ends_with("[default: 9339]"));
        assert!(help("gnmi_dialout_flavor").ends_with("[default: gnmireverse]"));
        assert!(help("hostname").ends_with("[default: \"\"]"));
    }

    /// The keys of `text`: lines that are TOML `key = value`, set or commented out.
    fn example_keys(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|line| {
                let line = line.trim_start_matches('#').trim();
                let dict = Toml::string(line).data().ok()?;
                let keys: Vec<String> = dict.into_values().flat_map(|d| d.into_keys()).collect();
                (keys.len() == 1).then(|| keys[0].clone())
            })
            .collect()
    }

    #[test]
    fn flags_keys_and_the_example_file_agree() {
        let text = include_str!("../../../../nl6.example.toml");
        let from_file: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .extract()
            .unwrap();
        assert_eq!(
            from_file,
            Settings::default(),
            "the example shows the defaults"
        );

        let mut in_example = example_keys(text);
        in_example.sort();
        in_example.dedup();
        let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        keys.sort();
        assert_eq!(
            in_example, keys,
            "nl6.example.toml documents every key once"
        );

        // Every key is a flag `--key-with-dashes`, and every flag a key; the exceptions
        // are `--config` (names the file) and `rest_token` (no flag, so not in `ps`).
        let command = Flags::command_with(&FlavorRegistry::default());
        let mut flags: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|long| !matches!(*long, "help" | "version" | "config"))
            .map(String::from)
            .collect();
        flags.sort();
        let mut expected: Vec<String> = keys
            .iter()
            .filter(|k| k.as_str() != "rest_token")
            .map(|k| k.replace('_', "-"))
            .collect();
        expected.sort();
        assert_eq!(flags, expected);
        for arg in command.get_arguments() {
            assert_eq!(
                arg.get_long().map(|l| l.replace('-', "_")),
                Some(arg.get_id().to_string()),
                "flag and key spelled alike"
            );
        }
    }
}
