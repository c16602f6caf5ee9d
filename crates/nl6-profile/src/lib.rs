//! Device profiles: what a vendor's device looks like, from a declarative TOML file.
//!
//! A profile names its interface naming style and, optionally, a hardware inventory;
//! devices of a profile with an inventory serve the `openconfig-platform` components and
//! `openconfig-system` subtrees of [`nl6_platform`] besides their interfaces, and
//! advertise those models in Capabilities. A profile also names its notification shape
//! (`[telemetry] notification_shape`: `flat`, `prefixed` or `junos`). The built-in profiles
//! are embedded
//! ([`ProfileRegistry::builtin`]); more are loaded from a directory of `*.toml` files
//! ([`ProfileRegistry::load_dir`]), each checked with errors that name the file, line
//! and field. A profile with `[lldp] enabled = true` also serves `openconfig-lldp`
//! neighbours (the fleet adds that subtree, since neighbours come from its topology), and
//! one with `[bgp] neighbors = N` serves N BGP neighbours of [`nl6_bgp`].
//!
//! ```
//! use nl6_profile::ProfileRegistry;
//!
//! let registry = ProfileRegistry::builtin();
//! let mx = registry.get("juniper-mx").unwrap();
//! assert_eq!(mx.naming().as_str(), "junos");
//! let subtrees = mx.subtrees_for(16).unwrap();
//! assert!(subtrees.models().iter().any(|m| m.name == "openconfig-platform"));
//! assert!(subtrees.models().iter().any(|m| m.name == "openconfig-network-instance"));
//! assert_eq!(mx.bgp_neighbors(), 16);
//! assert!(registry.get("generic").unwrap().subtrees_for(16).is_none());
//! assert_eq!(mx.notification_shape().as_str(), "junos");
//!
//! let err = ProfileRegistry::parse("bad.toml", "name = \"x\"\n[inventory]\nfans = \"many\"\n")
//!     .unwrap_err();
//! assert_eq!((err.line, err.field.as_str()), (Some(3), "inventory.fans"));
//! ```

mod file;

pub use file::ProfileError;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use nl6_ifstate::{InterfaceNames, InterfaceNaming, Subinterfaces};
use nl6_model::{NotificationShape, Subtrees};
use nl6_platform::Inventory;
use parking_lot::Mutex;

/// The profile a batch gets when it names none.
pub const DEFAULT_PROFILE: &str = "generic";

/// Most profiles one registry holds (built-ins and loaded ones together).
pub const MAX_PROFILES: usize = 256;

/// The built-in profile files, embedded in the binary.
const BUILTIN: [(&str, &str); 6] = [
    ("generic.toml", include_str!("../profiles/generic.toml")),
    (
        "arista-eos.toml",
        include_str!("../profiles/arista-eos.toml"),
    ),
    ("cisco-xr.toml", include_str!("../profiles/cisco-xr.toml")),
    (
        "juniper-mx.toml",
        include_str!("../profiles/juniper-mx.toml"),
    ),
    (
        "nokia-sros.toml",
        include_str!("../profiles/nokia-sros.toml"),
    ),
    ("sonic.toml", include_str!("../profiles/sonic.toml")),
];

/// One device profile.
#[derive(Debug)]
pub struct Profile {
    name: String,
    description: String,
    naming: InterfaceNaming,
    inventory: Option<Inventory>,
    /// How its devices group values into notifications.
    shape: NotificationShape,
    /// Whether its devices serve `openconfig-lldp` neighbours.
    lldp: bool,
    /// BGP neighbours per device (0 = no BGP).
    bgp_neighbors: u32,
    /// Subinterfaces per interface (0 = none).
    subinterfaces: u32,
    /// The BGP flaps of its devices' sessions, by device seed.
    bgp_sessions: Arc<nl6_bgp::SessionTable>,
    /// Subtrees per interface count and naming (one transceiver per interface), built on first use
    /// and shared by every device of that shape.
    built: Mutex<HashMap<(u32, InterfaceNaming), Arc<Subtrees>>>,
}

impl Profile {
    /// The profile's name (what a batch's `device_type` says).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line about it.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How its interfaces are named.
    pub fn naming(&self) -> InterfaceNaming {
        self.naming
    }

    /// Its hardware, if it serves platform and system subtrees.
    pub fn inventory(&self) -> Option<&Inventory> {
        self.inventory.as_ref()
    }

    /// How its devices group values into notifications (`[telemetry]
    /// notification_shape`).
    pub fn notification_shape(&self) -> NotificationShape {
        self.shape
    }

    /// Whether its devices serve `openconfig-lldp` neighbours (`[lldp] enabled = true`):
    /// what they hear from the devices linked to them in the fleet's topology.
    pub fn serves_lldp(&self) -> bool {
        self.lldp
    }

    /// BGP neighbours per device (`[bgp] neighbors`; 0 = no BGP).
    pub fn bgp_neighbors(&self) -> u32 {
        self.bgp_neighbors
    }

    /// The flaps of its devices' BGP sessions (keyed by device seed): what a BGP flap
    /// changes, and what its devices' neighbour subtrees read.
    pub fn bgp_sessions(&self) -> &Arc<nl6_bgp::SessionTable> {
        &self.bgp_sessions
    }

    /// Subinterfaces per interface (`[interfaces] subinterfaces`; 0 = none).
    pub fn subinterfaces(&self) -> u32 {
        self.subinterfaces
    }

    /// The subtrees a device of this profile with `interfaces` interfaces named the
    /// profile's way serves besides them: [`Profile::subtrees_named`].
    pub fn subtrees_for(&self, interfaces: u32) -> Option<Arc<Subtrees>> {
        self.subtrees_named(interfaces, self.naming)
    }

    /// The subtrees a device of this profile with `interfaces` interfaces named by
    /// `naming` serves besides them: its subinterfaces, the platform and system subtrees
    /// of its inventory (one transceiver per interface), then its BGP neighbours, with
    /// the profile's notification shape; `None` for an interfaces-only profile of the
    /// flat shape (a bare device).
    pub fn subtrees_named(
        &self,
        interfaces: u32,
        naming: InterfaceNaming,
    ) -> Option<Arc<Subtrees>> {
        if self.inventory.is_none()
            && self.bgp_neighbors == 0
            && self.subinterfaces == 0
            && self.shape == NotificationShape::Flat
        {
            return None;
        }
        let mut built = self.built.lock();
        let subtrees = built.entry((interfaces, naming)).or_insert_with(|| {
            let mut items: Vec<Arc<dyn nl6_model::Subtree>> = Vec::new();
            if self.subinterfaces > 0 {
                let names = InterfaceNames::for_style(naming, interfaces);
                let names: Vec<String> = (0..names.len())
                    .map(|i| names.name(i).to_string())
                    .collect();
                items.push(Arc::new(Subinterfaces::new(&names, self.subinterfaces)));
            }
            let mut models = Vec::new();
            if let Some(inventory) = &self.inventory {
                let platform = nl6_platform::subtrees(&Inventory {
                    transceivers: interfaces,
                    ..inventory.clone()
                });
                items.extend(platform.items().iter().cloned());
                models.extend(platform.models().iter().copied());
            }
            if self.bgp_neighbors > 0 {
                let sessions = &self.bgp_sessions;
                items.push(Arc::new(
                    nl6_bgp::BgpNeighbors::new(self.bgp_neighbors).with_sessions(sessions.clone()),
                ));
                items.push(Arc::new(
                    nl6_bgp::BgpAfiSafis::new(self.bgp_neighbors).with_sessions(sessions.clone()),
                ));
                models.push(nl6_bgp::NETWORK_INSTANCE_MODEL);
            }
            Arc::new(Subtrees::new(items, models).with_shape(self.shape))
        });
        Some(Arc::clone(subtrees))
    }
}

/// The profiles a fleet knows, by name.
#[derive(Debug)]
pub struct ProfileRegistry {
    profiles: Vec<Arc<Profile>>,
}

impl Default for ProfileRegistry {
    fn default() -> Self {
        ProfileRegistry::builtin()
    }
}

impl ProfileRegistry {
    /// The built-in profiles: `generic`, `arista-eos`, `cisco-xr`, `juniper-mx`,
    /// `nokia-sros`, `sonic`.
    pub fn builtin() -> ProfileRegistry {
        let profiles = BUILTIN
            .iter()
            .map(|(file, text)| {
                Arc::new(
                    ProfileRegistry::parse(file, text)
                        .unwrap_or_else(|e| panic!("built-in profile {file}: {e}")),
                )
            })
            .collect();
        ProfileRegistry { profiles }
    }

    /// Parses one profile file's `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
        let parsed = file::parse(file, text)?;
        Ok(Profile {
            name: parsed.name,
            description: parsed.description,
            naming: parsed.naming,
            inventory: parsed.inventory,
            shape: parsed.shape,
            lldp: parsed.lldp,
            bgp_neighbors: parsed.bgp_neighbors,
            subinterfaces: parsed.subinterfaces,
            bgp_sessions: Arc::default(),
            built: Mutex::default(),
        })
    }

    /// The built-ins plus every `*.toml` file of `dir` (in name order). A loaded profile
    /// with a built-in's name replaces it; two files with one name are refused.
    pub fn load_dir(dir: &Path) -> Result<ProfileRegistry, ProfileError> {
        let mut registry = ProfileRegistry::builtin();
        let shown = dir.display().to_string();
        let read_err = |reason: String| ProfileError::file(&shown, reason);
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| read_err(format!("cannot read the directory: {e}")))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        let mut loaded: Vec<String> = Vec::new();
        for path in files {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ProfileError::file(&file, format!("cannot read it: {e}")))?;
            let profile = ProfileRegistry::parse(&file, &text)?;
            if loaded.contains(&profile.name) {
                return Err(ProfileError::at(
                    &file,
                    file::line_of(&text, None, "name"),
                    "name",
                    format!("profile {:?} is defined by another file too", profile.name),
                ));
            }
            loaded.push(profile.name.clone());
            registry.profiles.retain(|p| p.name != profile.name);
            if registry.profiles.len() >= MAX_PROFILES {
                return Err(ProfileError::file(
                    &file,
                    format!("more than {MAX_PROFILES} profiles"),
                ));
            }
            registry.profiles.push(Arc::new(profile));
        }
        Ok(registry)
    }

    /// The profile called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Profile>> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Every profile's name, in registry order.
    pub fn names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.name.as_str()).collect()
    }

    /// Every profile.
    pub fn profiles(&self) -> &[Arc<Profile>] {
        &self.profiles
    }
}
