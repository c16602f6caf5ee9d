//! Configuration errors: which key, where its value came from, and why; an unknown key
//! suggests the nearest known one and never shows figment's internal profile prefix.

use figment::Metadata;

use super::layers::{DEFAULT_SOURCE, ENV_PREFIX, FLAG_SOURCE, LoadedSettings};
use super::settings::KEYS;

/// A setting that could not be used: which key, where it came from, and why.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A key that names no setting (in the TOML file).
    #[error("unknown key `{key}` ({source_name}){}", suggestion_text(.suggestion))]
    Unknown {
        /// The key as written.
        key: String,
        /// Where it was written.
        source_name: String,
        /// The nearest known key, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A value that does not parse, or is not valid.
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

fn suggestion_text(suggestion: &Option<&'static str>) -> String {
    suggestion
        .map(|key| format!(": did you mean `{key}`?"))
        .unwrap_or_default()
}

/// The known key nearest to `unknown`, if it is close enough to be a typo.
pub fn nearest_key(unknown: &str) -> Option<&'static str> {
    let unknown = unknown.to_ascii_lowercase();
    KEYS.iter()
        .map(|key| (strsim::damerau_levenshtein(&unknown, key), *key))
        .filter(|(distance, key)| *distance <= (key.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, key)| key)
}

/// Where a value came from, in words, for `key` read from the layer `metadata`.
pub(super) fn source_name(metadata: &Metadata, key: &str) -> String {
    if metadata.name.contains("environment") {
        format!(
            "from environment variable {ENV_PREFIX}{}",
            key.to_uppercase()
        )
    } else if metadata.name == DEFAULT_SOURCE {
        DEFAULT_SOURCE.to_string()
    } else if metadata.name == FLAG_SOURCE {
        format!("from {FLAG_SOURCE} --{}", key.replace('_', "-"))
    } else {
        match &metadata.source {
            Some(source) => format!("from {} {source}", metadata.name),
            None => format!("from {}", metadata.name),
        }
    }
}

impl From<figment::Error> for SettingsError {
    /// The first error figment found, with the key as the file spells it (no profile).
    fn from(error: figment::Error) -> Self {
        let key = error.path.join(".");
        let source_name = error
            .metadata
            .as_ref()
            .map(|m| source_name(m, &key))
            .unwrap_or_else(|| "configuration".to_string());
        match &error.kind {
            figment::error::Kind::UnknownField(field, _) => {
                let key = if key.is_empty() {
                    field.clone()
                } else {
                    key.clone()
                };
                SettingsError::Unknown {
                    suggestion: nearest_key(&key),
                    key,
                    source_name,
                }
            }
            kind => SettingsError::Invalid {
                key: if key.is_empty() {
                    "configuration".into()
                } else {
                    key
                },
                source_name,
                reason: kind.to_string(),
            },
        }
    }
}

impl LoadedSettings {
    pub(super) fn invalid(&self, key: &str, reason: impl std::fmt::Display) -> SettingsError {
        let source_name = self
            .figment
            .find_metadata(key)
            .filter(|_| {
                // An Option key left unset has no value, only the defaults' metadata.
                self.figment
                    .find_value(key)
                    .is_ok_and(|v| !matches!(v, figment::value::Value::Empty(..)))
            })
            .map(|m| source_name(m, key))
            .unwrap_or_else(|| "not set".to_string());
        SettingsError::Invalid {
            key: key.to_string(),
            source_name,
            reason: reason.to_string(),
        }
    }
}
