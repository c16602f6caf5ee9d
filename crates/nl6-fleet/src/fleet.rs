//! The fleet: creates, lists and deletes devices and wires each to dial-in and dial-out.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use nl6_dialin::{DialinConfig, DialinServer, GnmiStatus};
use nl6_dialout::{
    DeviceIdentity, DialoutError, DialoutStats, DialoutStatus, Exporter, ExporterEnv, Flavor,
    FlavorRegistry,
};
use nl6_ifstate::{
    DeviceModel, DeviceSpec, EventCounters, FlapScheduler, seeded_boot_s, unix_now_ns,
};
use nl6_mdt::{MdtConfig, MdtFlavor};
use nl6_model::Subtrees;
use nl6_netns::{Dialer, DialerConfig, HostResolver};
use nl6_profile::ProfileRegistry;
use nl6_tls::Identity;
use parking_lot::Mutex;

use crate::batch::{AddressPlan, plan};
use crate::composition::Composition;
use crate::device::{Batch, BatchSpec, Device, DeviceInfo, MdtSession, Page, unix_ns_time};
use crate::dial::FleetConnector;
use crate::directory::DeviceMap;
use crate::error::FleetError;
use crate::plane::{AddressPlane, NetworkMode};
use crate::state::{MAX_STATE_DURATION, StateLeaf, StateReply, StateValue};
use crate::topology::Topology;

/// How a [`Fleet`] runs.
pub struct FleetConfig {
    /// Loopback (default) or network-namespace addresses.
    pub network: NetworkMode,
    /// The gNMI dial-in server; `None` runs no dial-in.
    pub dialin: Option<DialinConfig>,
    /// The simulator's certificate: presented by dial-out devices with `tls.mtls`.
    pub identity: Option<Identity>,
    /// Fleet-wide cap on link-flap events per second (0 = unlimited); the same number
    /// caps the BGP flaps the batches' `bgp_flap_scenario`s start per second.
    pub flap_max_events_per_sec: u32,
    /// Mixed into every device's counter seed (the same seed and address give the same values,
    /// counted from the same boot time relative to the fleet's start).
    pub seed: u64,
    /// Resolves collector host names for dial-out (default: the system resolver).
    pub resolver: Option<Arc<dyn HostResolver>>,
    /// Dial-out dial limits: concurrent dials (64) and the time one dial may take (10 s).
    pub dialer: DialerConfig,
    /// The dial-out flavors devices may use (default: the built-ins `gnmireverse`,
    /// `nokia`, `sonic`); validation, the REST API and the exporter all use this one.
    pub flavors: FlavorRegistry,
    /// The device profiles batches may name in `device_type` (default: the built-ins).
    pub profiles: Arc<ProfileRegistry>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            network: NetworkMode::Loopback,
            dialin: Some(DialinConfig::default()),
            identity: None,
            flap_max_events_per_sec: 0,
            seed: 0,
            resolver: None,
            dialer: DialerConfig::default(),
            flavors: FlavorRegistry::default(),
            profiles: Arc::new(ProfileRegistry::builtin()),
        }
    }
}

/// Dial-out dials of the fleet right now and at peak (see [`Fleet::dial_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialStats {
    /// Dials holding a permit right now (resolving or connecting).
    pub in_flight: usize,
    /// The most dials in flight at once since the fleet started.
    pub peak_in_flight: usize,
    /// The limit (`FleetConfig::dialer.max_in_flight`).
    pub max_in_flight: usize,
}

/// What a created batch reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchReport {
    /// Devices created.
    pub created: usize,
    /// Devices asked for.
    pub requested: usize,
    /// First and last address.
    pub first: Ipv4Addr,
    /// Last address of the batch.
    pub last: Ipv4Addr,
    /// How long creation took.
    pub took: Duration,
}

/// A fleet of simulated devices (see the crate documentation).
pub struct Fleet {
    pub(crate) devices: Arc<DeviceMap>,
    plane: tokio::sync::Mutex<Option<AddressPlane>>,
    dialin: Option<DialinServer>,
    /// Created when the first dial-out device appears, so the status reports the
    /// subsystem active only once something dials out.
    exporter: OnceLock<Exporter>,
    /// The MDT dial-out exporter (its own status rows), created on first use.
    mdt_exporter: OnceLock<Exporter>,
    mdt_stats: Arc<DialoutStats>,
    /// Collections, messages and dropped rows of every MDT dial-out session.
    mdt_counters: Arc<nl6_mdt::MdtCounters>,
    /// The MDT `CreateSubs` service of the dial-in server (with its counters).
    mdt_dialin: Option<nl6_mdt::MdtDialin>,
    dialer: Dialer,
    dial_limit: usize,
    identity: Option<Identity>,
    flavors: FlavorRegistry,
    pub(crate) profiles: Arc<ProfileRegistry>,
    /// Links between devices' interfaces and the LLDP neighbours they make.
    pub(crate) topology: Topology,
    dialout_stats: Arc<DialoutStats>,
    flaps: FlapScheduler,
    /// The cap on BGP flaps the batches' scenarios start per second.
    bgp_flap_budget: Arc<crate::bgp_flap::FlapBudget>,
    events: Arc<EventCounters>,
    creating: AtomicBool,
    seed: u64,
    started: Instant,
    /// Whether devices live in a network namespace (else on loopback addresses).
    netns: bool,
    /// When the fleet started, Unix seconds: each device's seeded boot time is 1–400 days
    /// before it.
    started_unix_s: u32,
}

/// Clears the batch-in-progress flag when creation ends, however it ends.
struct CreatingGuard<'a>(&'a AtomicBool);

impl Drop for CreatingGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Fleet {
    /// Sets up the network mode, starts the dial-in server and the flap scheduler.
    /// Must run inside a tokio runtime.
    pub async fn start(config: FleetConfig) -> Result<Fleet, FleetError> {
        let netns = matches!(config.network, NetworkMode::Netns(_));
        let plane = AddressPlane::open(&config.network).await?;
        let dialer = match plane.dialer(config.dialer, config.resolver) {
            Ok(dialer) => dialer,
            Err(e) => {
                let _ = plane.close().await;
                return Err(e);
            }
        };
        let events = Arc::new(EventCounters::default());
        let devices = Arc::new(DeviceMap::default());
        let mut mdt_dialin = None;
        let dialin = match config.dialin {
            Some(dialin_config) => {
                let listener = match plane.dialin_listener(dialin_config.port).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = plane.close().await;
                        return Err(e);
                    }
                };
                let mdt = nl6_mdt::MdtDialin::new(devices.clone());
                mdt_dialin = Some(mdt.clone());
                match DialinServer::builder(
                    dialin_config,
                    listener,
                    devices.clone(),
                    events.clone(),
                )
                .service(Arc::new(mdt))
                .start()
                .await
                {
                    Ok(server) => Some(server),
                    Err(e) => {
                        let _ = plane.close().await;
                        return Err(FleetError::Dialin(crate::error::chain(&e)));
                    }
                }
            }
            None => None,
        };
        Ok(Fleet {
            devices,
            plane: tokio::sync::Mutex::new(Some(plane)),
            dialin,
            exporter: OnceLock::new(),
            dialer,
            dial_limit: config.dialer.max_in_flight,
            identity: config.identity,
            flavors: config.flavors,
            profiles: config.profiles,
            topology: Topology::default(),
            dialout_stats: DialoutStats::new(),
            mdt_exporter: OnceLock::new(),
            mdt_stats: DialoutStats::new(),
            mdt_counters: Arc::default(),
            mdt_dialin,
            flaps: FlapScheduler::spawn(config.flap_max_events_per_sec),
            bgp_flap_budget: Arc::new(crate::bgp_flap::FlapBudget::new(
                config.flap_max_events_per_sec,
            )),
            events,
            creating: AtomicBool::new(false),
            seed: config.seed,
            started: Instant::now(),
            netns,
            started_unix_s: u32::try_from(unix_now_ns() / 1_000_000_000).unwrap_or(u32::MAX),
        })
    }

    /// Checks a batch without creating anything: addresses, counts, interface model and
    /// dial-out settings. The error names the field.
    pub async fn validate(&self, spec: &BatchSpec) -> Result<AddressPlan, FleetError> {
        let plan = plan(spec.start_ip, spec.device_count, spec.netmask)?;
        self.device_spec(spec, 0)?;
        let subtrees = self.subtrees_of(spec)?;
        let probe = || -> Result<Arc<DeviceModel>, FleetError> {
            let model = DeviceModel::new(&self.device_spec(spec, 0)?)
                .map_err(|e| FleetError::invalid("interfaces", e.to_string()))?;
            Ok(Arc::new(match &subtrees {
                Some(s) => model.with_subtrees(s.clone()),
                None => model,
            }))
        };
        if let Some(pattern) = &spec.hostname {
            crate::hostname::check_pattern(pattern, spec.start_ip, spec.device_count)?;
        }
        if let Some(cfg) = &spec.dialout {
            cfg.validate_for(&self.flavors)
                .map_err(|e| FleetError::invalid(format!("gnmi_dialout.{}", e.field), e.reason))?;
            // The same checks attach makes, against a device of this batch.
            self.exporter()
                .check(spec.start_ip, probe()?, cfg)
                .map_err(|e| match e.config_error() {
                    Some(c) => FleetError::invalid(format!("gnmi_dialout.{}", c.field), c.reason),
                    None => FleetError::invalid("gnmi_dialout", e.to_string()),
                })?;
        }
        if let Some(mdt) = &spec.mdt {
            let probe = probe()?;
            for (cfg, flavor) in mdt_sessions(mdt, &self.mdt_counters)? {
                self.mdt_exporter()
                    .check_flavor(spec.start_ip, probe.clone(), &cfg, flavor.as_ref())
                    .map_err(|e| match e.config_error() {
                        Some(c) => FleetError::invalid(format!("mdt.{}", c.field), c.reason),
                        None => FleetError::invalid("mdt", e.to_string()),
                    })?;
            }
        }
        let plane = self.plane.lock().await;
        let plane = plane
            .as_ref()
            .ok_or_else(|| FleetError::Network("the fleet is shut down".into()))?;
        for &addr in &plan.addresses {
            plane.check(addr)?;
            if self.devices.contains(addr) {
                return Err(FleetError::Exists(addr));
            }
        }
        Ok(plan)
    }

    /// Creates a batch: all devices or none. A second batch while one is being
    /// created fails with [`FleetError::BatchInProgress`].
    pub async fn create_batch(&self, spec: BatchSpec) -> Result<BatchReport, FleetError> {
        if self
            .creating
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(FleetError::BatchInProgress);
        }
        let _guard = CreatingGuard(&self.creating);
        let began = Instant::now();
        let plan = self.validate(&spec).await?;
        let plane_lock = self.plane.lock().await;
        let plane = plane_lock
            .as_ref()
            .ok_or_else(|| FleetError::Network("the fleet is shut down".into()))?;
        plane.add(&plan).await?;
        let mdt_sessions = match &spec.mdt {
            Some(mdt) => mdt_sessions(mdt, &self.mdt_counters)?,
            None => Vec::new(),
        };
        let subtrees = self.subtrees_of(&spec)?;
        let batch = Arc::new(Batch {
            subtrees,
            dialout: spec.dialout.clone().map(Arc::new),
            mdt: spec.mdt.clone().map(Arc::new),
            mdt_sessions,
            spec: Arc::new(spec),
            created: SystemTime::now(),
        });
        let mut created = Vec::with_capacity(plan.addresses.len());
        for (n, &ip) in (1u32..).zip(&plan.addresses) {
            match self.new_device(ip, n, &batch) {
                Ok(device) => created.push(device),
                Err(e) => {
                    stop_all(&created).await;
                    plane.remove(&plan.addresses).await;
                    return Err(e);
                }
            }
        }
        let bgp = self
            .profiles
            .get(&batch.spec.device_type)
            .filter(|p| p.bgp_neighbors() > 0);
        for device in &created {
            self.flaps.register(&device.model, batch.spec.flap_scenario);
            if let Some(profile) = bgp {
                let task = crate::bgp_flap::spawn_scenario(
                    device,
                    profile.bgp_sessions(),
                    profile.bgp_neighbors(),
                    batch.spec.bgp_flap_scenario,
                    &self.bgp_flap_budget,
                );
                if let Some(task) = task {
                    let mut timers = device.timers.lock();
                    timers
                        .get_or_insert_with(Box::default)
                        .insert(crate::bgp_flap::SCENARIO_TIMER, task);
                }
            }
        }
        self.devices.insert_all(created);
        let report = BatchReport {
            created: plan.addresses.len(),
            requested: batch.spec.device_count as usize,
            first: plan.addresses[0],
            last: plan.addresses[plan.addresses.len() - 1],
            took: began.elapsed(),
        };
        tracing::info!(
            created = report.created,
            first = %report.first,
            last = %report.last,
            took_ms = report.took.as_secs_f64() * 1e3,
            "batch created"
        );
        Ok(report)
    }

    /// The device profiles batches may name.
    pub fn profiles(&self) -> &Arc<ProfileRegistry> {
        &self.profiles
    }

    /// The subtrees the batch's profile serves besides interfaces.
    fn subtrees_of(&self, spec: &BatchSpec) -> Result<Option<Arc<Subtrees>>, FleetError> {
        let profile = self.profiles.get(&spec.device_type).ok_or_else(|| {
            FleetError::invalid(
                "device_type",
                format!(
                    "unknown device type {:?}; known: {}",
                    spec.device_type,
                    self.profiles.names().join(", ")
                ),
            )
        })?;
        let subtrees = profile.subtrees_named(spec.interfaces, spec.interface_naming);
        if !profile.serves_lldp() {
            return Ok(subtrees);
        }
        Ok(Some(crate::topology::with_lldp(
            subtrees.as_deref(),
            spec,
            self.topology.neighbors(),
        )))
    }

    fn device_spec(&self, spec: &BatchSpec, ip: u32) -> Result<DeviceSpec, FleetError> {
        let seed = device_seed(self.seed, ip);
        let device = DeviceSpec {
            seed,
            boot_s: Some(seeded_boot_s(seed, self.started_unix_s)),
            interfaces: spec.interfaces,
            speed_bps: spec.speed_bps,
            errors: spec.error_scenario,
            initial: spec.initial_state,
            naming: spec.interface_naming,
        };
        device
            .validate()
            .map_err(|e| FleetError::invalid(e.field(), e.to_string()))?;
        Ok(device)
    }

    fn new_device(
        &self,
        ip: Ipv4Addr,
        n: u32,
        batch: &Arc<Batch>,
    ) -> Result<Arc<Device>, FleetError> {
        let spec = self.device_spec(&batch.spec, u32::from(ip))?;
        let model = DeviceModel::with_event_counters(&spec, self.events.clone())
            .map(|model| match &batch.subtrees {
                Some(subtrees) => Arc::new(model.with_subtrees(subtrees.clone())),
                None => Arc::new(model),
            })
            .map_err(|e| FleetError::DeviceSetup {
                addr: ip,
                reason: e.to_string(),
            })?;
        let hostname: Arc<str> =
            crate::hostname::hostname_for(batch.spec.hostname.as_deref(), ip, n).into();
        let export = match &batch.dialout {
            Some(cfg) => Some(
                self.exporter()
                    .attach_device(
                        DeviceIdentity::named(ip, hostname.clone()),
                        model.clone(),
                        cfg.clone(),
                    )
                    .map_err(|e| dialout_error(ip, e))?,
            ),
            None => None,
        };
        let mut mdt_exports = Vec::with_capacity(batch.mdt_sessions.len());
        for (cfg, flavor) in &batch.mdt_sessions {
            let attached = self.mdt_exporter().attach_flavor(
                DeviceIdentity::named(ip, hostname.clone()),
                model.clone(),
                cfg.clone(),
                flavor.clone(),
            );
            match attached {
                Ok(export) => mdt_exports.push(export),
                Err(e) => {
                    // Nothing of this device may stay behind.
                    drop(export);
                    drop(mdt_exports);
                    return Err(mdt_error(ip, e));
                }
            }
        }
        Ok(Arc::new(Device {
            ip,
            hostname,
            model,
            batch: batch.clone(),
            export: Mutex::new(export.map(Box::new)),
            mdt_exports: Mutex::new(mdt_exports),
            timers: Mutex::new(None),
        }))
    }

    /// Deletes one device: stops its exporter and timers and removes its address.
    pub async fn delete(&self, ip: Ipv4Addr) -> Result<(), FleetError> {
        let device = self.devices.remove(ip).ok_or(FleetError::NotFound(ip))?;
        self.topology
            .forget(std::slice::from_ref(&device), &self.devices);
        self.forget_bgp(std::slice::from_ref(&device));
        stop_all(&[device]).await;
        if let Some(plane) = self.plane.lock().await.as_ref() {
            plane.remove(&[ip]).await;
        }
        Ok(())
    }

    /// Deletes every device; returns how many there were.
    pub async fn delete_all(&self) -> usize {
        let devices = self.devices.drain();
        self.topology.forget(&devices, &self.devices);
        self.forget_bgp(&devices);
        let addrs: Vec<Ipv4Addr> = devices.iter().map(|d| d.ip).collect();
        stop_all(&devices).await;
        if let Some(plane) = self.plane.lock().await.as_ref() {
            plane.remove(&addrs).await;
        }
        devices.len()
    }

    /// The dial-out exporter, created on first use.
    fn exporter(&self) -> &Exporter {
        self.exporter.get_or_init(|| {
            let mut env = ExporterEnv::new(Arc::new(FleetConnector::new(self.dialer.clone())));
            env.client_identity = self.identity.clone();
            env.flavors = self.flavors.clone();
            env.stats = self.dialout_stats.clone();
            Exporter::new(env)
        })
    }

    /// The MDT dial-out exporter, created on first use; its status rows are separate
    /// from gNMI dial-out's.
    fn mdt_exporter(&self) -> &Exporter {
        self.mdt_exporter.get_or_init(|| {
            let mut env = ExporterEnv::new(Arc::new(FleetConnector::new(self.dialer.clone())));
            env.client_identity = self.identity.clone();
            env.flavors = FlavorRegistry::empty();
            env.stats = self.mdt_stats.clone();
            Exporter::new(env)
        })
    }

    /// The device map.
    pub(crate) fn devices(&self) -> &DeviceMap {
        &self.devices
    }

    /// The dial-out flavors the fleet knows.
    pub fn flavors(&self) -> &FlavorRegistry {
        &self.flavors
    }

    /// The device at `ip`.
    pub fn get(&self, ip: Ipv4Addr) -> Option<DeviceInfo> {
        self.devices.get(ip).map(|d| d.info())
    }

    /// The interface model of the device at `ip` (for embedders and tests).
    pub fn model(&self, ip: Ipv4Addr) -> Option<Arc<DeviceModel>> {
        self.devices.get(ip).map(|d| d.model.clone())
    }

    /// Every device, by address. This visits every device: for a large fleet use
    /// [`Fleet::page`].
    pub fn list(&self) -> Vec<DeviceInfo> {
        self.devices.snapshot().iter().map(|d| d.info()).collect()
    }

    /// Up to `limit` devices with an address above `after` (from the first device when
    /// `None`), by address, without visiting the others: O(log n + limit). Continue with
    /// `after = page.next` until `next` is `None`.
    pub fn page(&self, after: Option<Ipv4Addr>, limit: usize) -> Page {
        let (total, devices, more) = self.devices.page(after, limit);
        let next = if more {
            devices.last().map(|d| d.ip)
        } else {
            None
        };
        Page {
            total,
            devices: devices.iter().map(|d| d.info()).collect(),
            next,
        }
    }

    /// The devices by interface naming, dial-out flavor and MDT flavor; O(1), never
    /// visits the devices.
    pub fn composition(&self) -> Composition {
        self.devices.composition()
    }

    /// `"loopback"` or `"netns"`: where the devices' addresses live.
    pub fn network_mode(&self) -> &'static str {
        if self.netns { "netns" } else { "loopback" }
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether the fleet has no device.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a batch is being created right now.
    pub fn batch_in_progress(&self) -> bool {
        self.creating.load(Ordering::Acquire)
    }

    /// How long the fleet has been running.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The dial-in server's address (its port is the dial-in port), if running.
    pub fn dialin_addr(&self) -> Option<std::net::SocketAddr> {
        self.dialin.as_ref().map(|d| d.local_addr())
    }

    /// The dial-in server's STREAM RPCs per device (for measured runs), if it runs.
    pub(crate) fn dialin_runs(&self) -> Option<&Arc<nl6_dialin::DialinRuns>> {
        self.dialin.as_ref().map(|d| d.runs())
    }

    /// `GET /api/v1/gnmi/status`.
    pub fn gnmi_status(&self) -> GnmiStatus {
        match &self.dialin {
            Some(server) => server.status(),
            None => GnmiStatus::inactive(&self.events),
        }
    }

    /// `GET /api/v1/gnmi/dialout/status`.
    pub fn dialout_status(&self) -> DialoutStatus {
        self.dialout_stats.status()
    }

    /// `GET /api/v1/mdt/status`: MDT dial-out counters per destination and flavor
    /// (`mdt-<protocol>-<encoding>`).
    pub fn mdt_status(&self) -> DialoutStatus {
        self.mdt_stats.status()
    }

    /// Collections, wire messages and dropped (oversize) rows of every MDT dial-out
    /// session.
    pub fn mdt_dialout_counters(&self) -> &Arc<nl6_mdt::MdtCounters> {
        &self.mdt_counters
    }

    /// The MDT gRPC dial-in (`CreateSubs`) counters; `None` without a dial-in server.
    pub fn mdt_dialin_counters(&self) -> Option<&Arc<nl6_mdt::MdtDialinCounters>> {
        self.mdt_dialin.as_ref().map(|d| d.counters())
    }

    /// Dial-out dials in flight now and at peak, and their limit.
    pub fn dial_stats(&self) -> DialStats {
        DialStats {
            in_flight: self.dialer.in_flight(),
            peak_in_flight: self.dialer.peak_in_flight(),
            max_in_flight: self.dial_limit,
        }
    }

    /// Fleet-wide interface-state event counters.
    pub fn event_counters(&self) -> &Arc<EventCounters> {
        &self.events
    }

    /// Sets an interface's link (`Oper`) or admin status, optionally reverting to the
    /// previous value after `duration` (≤ 24 h). A newer change of the same leaf cancels
    /// a pending revert; deleting the device cancels all of them.
    pub fn set_interface_state(
        &self,
        ip: Ipv4Addr,
        ifindex: u32,
        leaf: StateLeaf,
        status: &str,
        duration: Option<Duration>,
    ) -> Result<StateReply, FleetError> {
        let device = self.devices.get(ip).ok_or(FleetError::NotFound(ip))?;
        let count = device.model.interface_count() as u32;
        if ifindex == 0 || ifindex > count {
            return Err(FleetError::NoSuchInterface {
                addr: ip,
                ifindex,
                max: count,
            });
        }
        let value = StateValue::parse(leaf, status)
            .map_err(|reason| FleetError::invalid("status", reason))?;
        if let Some(d) = duration
            && (d.is_zero() || d > MAX_STATE_DURATION)
        {
            return Err(FleetError::invalid(
                "duration",
                format!("{} is outside (0s, 24h]", humanize(d)),
            ));
        }
        let idx = (ifindex - 1) as usize;
        let mut timers = device.timers.lock();
        let timers = timers.get_or_insert_with(Box::default);
        if let Some(old) = timers.remove(&(ifindex, leaf)) {
            old.abort();
        }
        let previous = StateValue::current(leaf, device.model.state(idx));
        let masked = value.apply(&device.model, idx);
        if let Some(d) = duration {
            let weak = Arc::downgrade(&device);
            let handle = tokio::spawn(async move {
                tokio::time::sleep(d).await;
                if let Some(device) = weak.upgrade() {
                    if let Some(timers) = device.timers.lock().as_mut() {
                        timers.remove(&(ifindex, leaf));
                    }
                    previous.apply(&device.model, idx);
                }
            });
            timers.insert((ifindex, leaf), handle.abort_handle());
        }
        Ok(StateReply::of(device.model.state(idx), masked))
    }

    /// Flaps the BGP session of neighbour `neighbor` (its address) of the device at `ip`:
    /// `IDLE` now, `ACTIVE` after half of `down` (default [`DEFAULT_BGP_FLAP`], at most
    /// [`MAX_BGP_FLAP`]), `ESTABLISHED` again after `down`, when its
    /// `established-transitions` grows by one and `last-established` becomes that instant.
    /// Each step is a device event. One flap per neighbour at a time.
    ///
    /// [`DEFAULT_BGP_FLAP`]: crate::DEFAULT_BGP_FLAP
    /// [`MAX_BGP_FLAP`]: crate::MAX_BGP_FLAP
    pub fn flap_bgp_neighbor(
        &self,
        ip: Ipv4Addr,
        neighbor: &str,
        down: Option<Duration>,
    ) -> Result<crate::BgpFlap, FleetError> {
        let device = self.devices.get(ip).ok_or(FleetError::NotFound(ip))?;
        let profile = self.profiles.get(&device.batch.spec.device_type);
        let count = profile.map_or(0, |p| p.bgp_neighbors());
        let index = crate::bgp_flap::neighbor_of(ip, neighbor, count)?;
        let down = crate::bgp_flap::check_down(down.unwrap_or(crate::DEFAULT_BGP_FLAP))?;
        let Some(profile) = profile else {
            return Err(FleetError::NotFound(ip));
        };
        if !crate::bgp_flap::start(&device, profile.bgp_sessions(), index, down) {
            return Err(FleetError::Flapping {
                device: ip,
                neighbor: neighbor.to_string(),
            });
        }
        tracing::info!(device = %ip, neighbor, down_ms = down.as_millis() as u64, "BGP flap");
        Ok(crate::BgpFlap {
            device: ip,
            neighbor: neighbor.to_string(),
            down,
        })
    }

    /// Forgets the BGP flaps of `devices` (deleted or rebooted): their sessions start
    /// over.
    fn forget_bgp(&self, devices: &[Arc<Device>]) {
        for device in devices {
            if let Some(profile) = self.profiles.get(&device.batch.spec.device_type) {
                profile.bgp_sessions().forget(device.model.key().seed);
            }
        }
    }

    /// Reboots the device at `ip` now: its boot time becomes now (whole seconds), its
    /// counters restart at 0 and every interface's `last-change` becomes the boot time
    /// (ON_CHANGE subscribers of `last-change` get the update; link and admin status and
    /// pending revert timers are kept). Dial-in and dial-out readers simply see the smaller
    /// counter values from then on. Returns the new boot time.
    pub fn reboot(&self, ip: Ipv4Addr) -> Result<SystemTime, FleetError> {
        let device = self.devices.get(ip).ok_or(FleetError::NotFound(ip))?;
        self.forget_bgp(std::slice::from_ref(&device));
        let boot_ns = device.model.reboot(unix_now_ns());
        tracing::info!(device = %ip, boot_ns, "device rebooted");
        Ok(unix_ns_time(boot_ns))
    }

    /// Stops everything: devices, dial-in, flaps, and the namespace set-up. Idempotent.
    pub async fn shutdown(&self) -> Result<(), FleetError> {
        let removed = self.devices.drain();
        self.topology.forget(&removed, &self.devices);
        self.forget_bgp(&removed);
        stop_all(&removed).await;
        if let Some(server) = &self.dialin {
            server.shutdown().await;
        }
        self.flaps.shutdown();
        if let Some(plane) = self.plane.lock().await.take() {
            plane.close().await?;
        }
        Ok(())
    }
}

impl Drop for Fleet {
    /// A fleet dropped without [`Fleet::shutdown`] (an error path, a panic) still removes
    /// its namespace set-up; dial-out streams are then cut rather than closed.
    fn drop(&mut self) {
        if let Some(plane) = self.plane.get_mut().take() {
            plane.close_blocking();
        }
    }
}

/// Stops the devices and waits until their dial-out streams are closed (each within the
/// exporter's close timeout), so that happens while their addresses still exist: once an
/// address or the namespace is gone, no FIN reaches the collector, which would keep the
/// stream open.
async fn stop_all(devices: &[Arc<Device>]) {
    let mut closing = tokio::task::JoinSet::new();
    for device in devices {
        for export in device.stop_timers_take_exports() {
            closing.spawn(export.stop());
        }
    }
    while closing.join_next().await.is_some() {}
}

/// The counter seed of the device at `ip` (splitmix64 of the fleet seed and address,
/// stable across runs and releases).
fn device_seed(fleet_seed: u64, ip: u32) -> u64 {
    let mut z = fleet_seed ^ (u64::from(ip).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The MDT dial-out sessions of `mdt`, each with its settings and flavor instance
/// (named `mdt-<protocol>-<encoding>`), shared by every device of a batch.
fn mdt_sessions(
    mdt: &MdtConfig,
    counters: &Arc<nl6_mdt::MdtCounters>,
) -> Result<Vec<MdtSession>, FleetError> {
    let planned = mdt
        .sessions()
        .map_err(|e| FleetError::invalid(format!("mdt.{}", e.field), e.reason))?;
    planned
        .into_iter()
        .map(|p| {
            let name = format!(
                "mdt-{}-{}",
                p.session.transport.as_str(),
                p.session.encoding.as_str()
            );
            let flavor = MdtFlavor::named(name, p.session)
                .map_err(|e| FleetError::invalid(format!("mdt.{}", e.field), e.reason))?
                .with_counters(counters.clone());
            let flavor: Arc<dyn Flavor> = Arc::new(flavor);
            Ok((Arc::new(p.dialout), flavor))
        })
        .collect()
}

/// An MDT attach error: a fault of the `mdt` block is the caller's, anything else a
/// set-up failure.
fn mdt_error(addr: Ipv4Addr, e: DialoutError) -> FleetError {
    match e.config_error() {
        Some(c) => FleetError::invalid(format!("mdt.{}", c.field), c.reason),
        None => FleetError::DeviceSetup {
            addr,
            reason: format!("MDT dial-out: {e}"),
        },
    }
}

/// An attach error: a fault of the `gnmi_dialout` block (a path that does not resolve or
/// covers only counters on-change, unusable TLS material, ...) is the caller's
/// ([`FleetError::Invalid`], field `gnmi_dialout.<field>`); anything else is a set-up failure.
fn dialout_error(addr: Ipv4Addr, e: DialoutError) -> FleetError {
    match e.config_error() {
        Some(c) => FleetError::invalid(format!("gnmi_dialout.{}", c.field), c.reason),
        None => FleetError::DeviceSetup {
            addr,
            reason: format!("dial-out: {e}"),
        },
    }
}

fn humanize(d: Duration) -> String {
    format!("{:?}", d)
}
