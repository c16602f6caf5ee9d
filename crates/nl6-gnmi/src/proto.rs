//! Code generated from the `.proto` files under the workspace's `proto/`.

/// gNMI 0.10.0 messages, client and server (package `gnmi`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod gnmi {
    tonic::include_proto!("gnmi");

    /// SONiC telemetry dial-out service `gNMIDialOut` (package `gnmi.sonic`).
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod sonic {
        tonic::include_proto!("gnmi.sonic");
    }
}

/// gNMI extension messages (package `gnmi_ext`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod gnmi_ext {
    tonic::include_proto!("gnmi_ext");
}

/// Juniper's gNMI telemetry header extension (package `juniper`), carried in a
/// `gnmi_ext.RegisteredExtension` with id `EID_JUNIPER_TELEMETRY_HEADER`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod juniper {
    tonic::include_proto!("juniper");
}

/// Arista gNMIReverse dial-out service (package `gnmireverse`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod gnmireverse {
    tonic::include_proto!("gnmireverse");
}

/// Nokia SR OS dial-out telemetry service (package `Nokia.SROS`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod nokia {
    /// The package's generated code.
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod sros {
        tonic::include_proto!("nokia.sros");
    }
}
