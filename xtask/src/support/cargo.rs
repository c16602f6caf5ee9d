//! Cargo invocations of the benchmarks: re-running as a release build, building nl6d.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Set in the re-run child so it never re-runs itself again.
const RELEASE_ENV: &str = "NL6_BENCH_RELEASE";

/// Whether this is a debug build that should re-run `task` as a release build.
pub fn needs_release_rerun() -> bool {
    cfg!(debug_assertions) && std::env::var_os(RELEASE_ENV).is_none()
}

/// Re-runs `cargo xtask <task> <args>` as a release build and waits for it.
pub fn rerun_in_release(root: &Path, task: &str, args: &[String]) -> Result<()> {
    eprintln!("==> {task}: re-running this task as a release build");
    let status = cargo_command()
        .current_dir(root)
        .env(RELEASE_ENV, "1")
        .args(["run", "--release", "--quiet", "-p", "xtask", "--"])
        .arg(task)
        .args(args)
        .status()
        .with_context(|| format!("{task}: could not start cargo run --release"))?;
    if !status.success() {
        bail!("{task} (release) failed ({status})");
    }
    Ok(())
}

/// Builds nl6d in release mode and returns the binary's path.
pub fn build_nl6d(root: &Path) -> Result<PathBuf> {
    eprintln!("==> cargo build --release -p nl6d");
    let status = cargo_command()
        .current_dir(root)
        .args(["build", "--release", "-p", "nl6d"])
        .status()
        .context("could not start cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p nl6d failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/nl6d");
    if !bin.exists() {
        bail!("nl6d was built but {} does not exist", bin.display());
    }
    Ok(bin)
}

/// A cargo command without the package variables `cargo run` gave this process
/// (`CARGO_PKG_NAME=xtask`, `CARGO_MANIFEST_DIR`, ...): build scripts that watch them
/// (ring's does) would otherwise see them change between a build from the shell and one
/// from here, and rebuild everything above them in both.
fn cargo_command() -> Command {
    let mut command = Command::new(cargo());
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(is_package_variable) {
            command.env_remove(key);
        }
    }
    command
}

/// A variable cargo sets for the binary it runs, not for the build it was asked for.
fn is_package_variable(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_MANIFEST_")
        || matches!(
            key,
            "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
        )
}

/// The cargo that runs this task (`$CARGO`), or `cargo` from PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
