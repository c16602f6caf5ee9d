//! Code generated from the `.proto` files under the workspace's `proto/mdt`.

/// The telemetry envelope: `Telemetry`, `TelemetryField`, `TelemetryGPBTable`,
/// `TelemetryRowGPB` (package `telemetry`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod telemetry {
    tonic::include_proto!("telemetry");

    impl Telemetry {
        /// `node_id_str` (the device's host name), or `""` when the oneof is unset.
        pub fn node_id_str(&self) -> &str {
            match &self.node_id {
                Some(telemetry::NodeId::NodeIdStr(s)) => s,
                None => "",
            }
        }

        /// `subscription_id_str`, or `""` when the oneof is unset.
        pub fn subscription_id_str(&self) -> &str {
            match &self.subscription {
                Some(telemetry::Subscription::SubscriptionIdStr(s)) => s,
                None => "",
            }
        }
    }
}

/// gRPC dial-out: service `gRPCMdtDialout`, message `MdtDialoutArgs` (package
/// `mdt_dialout`), client and server.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod mdt_dialout {
    tonic::include_proto!("mdt_dialout");
}

/// gRPC dial-in: service `gRPCConfigOper` with `CreateSubs` (package
/// `IOSXRExtensibleManagabilityService`), client and server.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod dialin {
    tonic::include_proto!("iosxr_extensible_managability_service");
}
