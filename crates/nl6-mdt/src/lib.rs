//! Cisco IOS XR model-driven telemetry (MDT).

pub mod proto;
