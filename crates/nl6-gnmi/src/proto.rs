//! Code generated from the `.proto` files under the workspace's `proto/`.

/// gNMI 0.10.0 messages, client and server (package `gnmi`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod gnmi {
    tonic::include_proto!("gnmi");
}

/// gNMI extension messages (package `gnmi_ext`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod gnmi_ext {
    tonic::include_proto!("gnmi_ext");
}

/// Arista gNMIReverse dial-out service (package `gnmireverse`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod gnmireverse {
    tonic::include_proto!("gnmireverse");
}
