//! Compiles the gNMI, gnmi_ext, Juniper telemetry header, gNMIReverse, SONiC dial-out and Nokia SR OS dial-out protos with protox (pure Rust),
//! so building needs no system `protoc`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "gnmi_ext/gnmi_ext.proto",
    "juniper/gnmi_juniper_header_ext.proto",
    "gnmi/gnmi.proto",
    "gnmireverse/gnmireverse.proto",
    "sonic/dial_out.proto",
    "nokia/dialout.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", root.join(proto).display());
    }
    let descriptors = protox::compile(PROTOS, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Deterministic key order, so an encoded Path is the same bytes every time.
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
