//! Compiles the Cisco MDT protos under the workspace's `proto/mdt` with protox (pure Rust),
//! so building needs no system `protoc`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "mdt/telemetry.proto",
    "mdt/mdt_grpc_dialout.proto",
    "mdt/mdt_grpc_dialin.proto",
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
        .compile_fds(descriptors)?;
    Ok(())
}
