//! `cargo xtask test`: the one command that runs every check and test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run_step(name: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("==> {name}: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("{name}: could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

/// The Python virtualenv used by the interop suites, created on first use.
pub fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/python/requirements.txt");
    let stamp = venv.join(".requirements-installed");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    if !python.exists() {
        run_step(
            "venv",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )?;
    }
    run_step(
        "pip install",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--no-lint");
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if !quick {
        run_step(
            "fmt",
            Command::new(&cargo)
                .current_dir(&root)
                .args(["fmt", "--all", "--check"]),
        )?;
        run_step(
            "clippy",
            Command::new(&cargo).current_dir(&root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    }
    let python = ensure_venv(&root)?;
    // Binaries the integration and interop tests start as real processes.
    run_step(
        "build binaries",
        Command::new(&cargo)
            .current_dir(&root)
            .args(["build", "--bins", "--workspace"]),
    )?;
    run_step(
        "cargo test",
        Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--workspace"]),
    )?;
    let interop = root.join("tests/python");
    run_step(
        "python interop",
        Command::new(&python)
            .current_dir(&root)
            .env("NL6_TARGET_DIR", root.join("target/debug"))
            .args(["-m", "pytest", "-q"])
            .arg(&interop),
    )?;
    Ok(())
}
