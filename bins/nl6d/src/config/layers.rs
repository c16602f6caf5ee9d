//! The layers, later winning: defaults ← TOML file ← environment (`NL6_…`) ← flags, merged
//! with figment. Every key has the same name in each layer: `gnmi_port` in the file,
//! `NL6_GNMI_PORT` in the environment, `--gnmi-port` on the command line.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use nl6_dialout::FlavorRegistry;
use serde::Serialize;

use super::errors::{SettingsError, nearest_key};
use super::settings::{KEYS, Settings};

/// Prefix of the environment variables read.
pub const ENV_PREFIX: &str = "NL6_";

/// How the built-in defaults name themselves in error messages.
pub(super) const DEFAULT_SOURCE: &str = "default";

/// How the flag layer names itself in error messages.
pub(super) const FLAG_SOURCE: &str = "command-line flag";

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

/// An `NL6_*` environment variable that names no key (ignored; worth a warning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredEnv {
    /// The variable's name.
    pub name: String,
    /// The variable of the nearest key, if one is close.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for IgnoredEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ignoring environment variable {}: it names no nl6d setting",
            self.name
        )?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, "; did you mean {suggestion}?")?;
        }
        Ok(())
    }
}

/// The merged layers, kept to report where a value came from.
pub struct LoadedSettings {
    /// The settings.
    pub settings: Settings,
    pub(super) figment: Figment,
    /// `NL6_*` environment variables that name no key.
    pub ignored_env: Vec<IgnoredEnv>,
    /// The dial-out flavors the daemon offers (the built-ins unless replaced with
    /// [`LoadedSettings::with_flavors`]); the plan validates against them and hands them
    /// to the fleet.
    pub flavors: FlavorRegistry,
}

impl LoadedSettings {
    /// Uses `flavors` instead of the built-ins.
    pub fn with_flavors(mut self, flavors: FlavorRegistry) -> LoadedSettings {
        self.flavors = flavors;
        self
    }
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
                    source_name: FLAG_SOURCE.into(),
                    reason: format!("{} does not exist", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let ignored_env = std::env::vars()
            .filter_map(|(name, _)| {
                let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                (!KEYS.contains(&key.as_str())).then(|| IgnoredEnv {
                    suggestion: nearest_key(&key)
                        .map(|k| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase())),
                    name,
                })
            })
            .collect();
        figment = figment
            .merge(Env::prefixed(ENV_PREFIX).filter(|k| KEYS.iter().any(|known| k == *known)))
            .merge(NamedLayer {
                source: FLAG_SOURCE,
                value: flags,
            });
        let settings: Settings = figment.extract()?;
        Ok(LoadedSettings {
            settings,
            figment,
            ignored_env,
            flavors: FlavorRegistry::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        gnmi_port: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gnmi_mode: Option<String>,
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
            assert!(!err.contains("default."), "no profile prefix: {err}");

            jail.create_file("unknown.toml", "gnmi_portt = 1\n")?;
            let err = Settings::load(Some(Path::new("unknown.toml")), Flags::default())
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("gnmi_portt"), "{err}");

            jail.create_file("typo.toml", "auto_cont = 3\n")?;
            let err = Settings::load(Some(Path::new("typo.toml")), Flags::default())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.starts_with("unknown key `auto_cont`")
                    && err.contains("typo.toml")
                    && err.ends_with("did you mean `auto_count`?"),
                "{err}"
            );
            assert!(!err.contains("default."), "no profile prefix: {err}");
            jail.create_file("far.toml", "zzz = 3\n")?;
            let err = Settings::load(Some(Path::new("far.toml")), Flags::default())
                .err()
                .unwrap()
                .to_string();
            assert!(!err.contains("did you mean"), "{err}");
            assert!(!err.contains("default."), "{err}");

            jail.set_env("NL6_NOT_A_KEY", "1");
            let loaded = Settings::load(None, Flags::default()).unwrap();
            assert!(loaded.ignored_env.iter().any(|e| e.name == "NL6_NOT_A_KEY"));

            jail.set_env("NL6_AUTO_CONT", "1");
            let loaded = Settings::load(None, Flags::default()).unwrap();
            let ignored = loaded
                .ignored_env
                .iter()
                .find(|e| e.name == "NL6_AUTO_CONT");
            assert_eq!(
                ignored.unwrap().to_string(),
                "ignoring environment variable NL6_AUTO_CONT: it names no nl6d setting; \
                 did you mean NL6_AUTO_COUNT?"
            );

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
