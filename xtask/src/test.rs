//! `cargo xtask test`: the one command that runs every check and test.
//!
//! Every step runs even after an earlier one failed (and `cargo test` runs every test binary,
//! `--no-fail-fast`); each step prints a line when it starts and when it ends, and the run
//! ends with one summary: each step with its outcome and time, and the tests passed, failed
//! and skipped of every suite.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The variable the namespace tests append their `SKIPPED` lines to (see nl6-testkit).
const SKIP_LOG_ENV: &str = "NL6_SKIP_LOG";

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The target directory cargo uses here (`CARGO_TARGET_DIR`, `build.target-dir` or
/// `<root>/target`), as `cargo metadata` reports it.
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("could not start cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed ({})", out.status);
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata has no target_directory")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
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

/// Tests of one suite (one test binary, one crate's doc tests, or the Python suite).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed (runtime skips included, as libtest counts them).
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that did not run: `#[ignore]`d, skipped at run time, or skipped by pytest.
    pub skipped: u64,
}

/// Parses libtest's `test result: ok. 3 passed; 1 failed; 2 ignored; ...` line.
pub fn parse_libtest_result(line: &str) -> Option<Counts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut out = Counts::default();
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match what {
            "passed" => out.passed = n,
            "failed" => out.failed = n,
            "ignored" => out.skipped = n,
            _ => {}
        }
    }
    Some(out)
}

/// Parses pytest's closing line, e.g. `=== 1 failed, 11 passed, 2 skipped in 3.21s ===` or
/// (with `-q`) `11 passed in 3.21s`.
pub fn parse_pytest_summary(line: &str) -> Option<Counts> {
    let line = line.trim().trim_matches('=').trim();
    let (counts, time) = line.rsplit_once(" in ")?;
    // "76.48s", or "76.48s (0:01:16)" for runs over a minute.
    let time = time.split(" (").next().unwrap_or(time);
    if !time.trim_end().ends_with('s') {
        return None;
    }
    let mut out = Counts::default();
    let mut any = false;
    for part in counts.split(',') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            return None;
        };
        let n: u64 = n.parse().ok()?;
        any = true;
        match what {
            "passed" | "xpassed" => out.passed += n,
            "failed" | "error" | "errors" => out.failed += n,
            "skipped" | "xfailed" | "deselected" => out.skipped += n,
            _ => {}
        }
    }
    any.then_some(out)
}

/// What one step did.
#[derive(Debug)]
struct StepResult {
    name: &'static str,
    outcome: Outcome,
    took: Duration,
}

#[derive(Debug)]
enum Outcome {
    Passed,
    Failed(String),
    NotRun(String),
}

/// A suite's name and counts, in the order they ran.
type Suites = Vec<(String, Counts)>;

/// The whole run: step results, suites and skip lines, printed as one summary.
#[derive(Debug, Default)]
struct Run {
    steps: Vec<StepResult>,
    suites: Suites,
    skips: Vec<String>,
}

impl Run {
    fn record(
        &mut self,
        name: &'static str,
        index: usize,
        total: usize,
        f: impl FnOnce(&mut Self) -> Outcome,
    ) {
        eprintln!("==> [{index}/{total}] {name}");
        let start = Instant::now();
        let outcome = f(self);
        let took = start.elapsed();
        let word = match &outcome {
            Outcome::Passed => "ok".to_owned(),
            Outcome::Failed(why) => format!("FAILED: {why}"),
            Outcome::NotRun(why) => format!("not run: {why}"),
        };
        eprintln!(
            "<== [{index}/{total}] {name}: {word} ({:.1} s)",
            took.as_secs_f64()
        );
        self.steps.push(StepResult {
            name,
            outcome,
            took,
        });
    }

    fn failed(&self) -> bool {
        !self
            .steps
            .iter()
            .all(|s| matches!(s.outcome, Outcome::Passed))
    }

    fn summary(&self) -> String {
        let mut out = String::from("\n==> summary\nsteps:\n");
        for s in &self.steps {
            let word = match &s.outcome {
                Outcome::Passed => "pass".to_owned(),
                Outcome::Failed(why) => format!("FAIL  {why}"),
                Outcome::NotRun(why) => format!("NOT RUN  {why}"),
            };
            out.push_str(&format!(
                "  {:<16} {:>7.1} s  {word}\n",
                s.name,
                s.took.as_secs_f64()
            ));
        }
        let width = self
            .suites
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(5)
            .max(5);
        out.push_str(&format!(
            "suites:\n  {:<width$} {:>7} {:>7} {:>7}\n",
            "suite", "passed", "failed", "skipped"
        ));
        let mut total = Counts::default();
        for (name, c) in &self.suites {
            out.push_str(&format!(
                "  {name:<width$} {:>7} {:>7} {:>7}\n",
                c.passed, c.failed, c.skipped
            ));
            total.passed += c.passed;
            total.failed += c.failed;
            total.skipped += c.skipped;
        }
        for line in &self.skips {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&format!(
            "tests: {} passed, {} failed, {} skipped\n",
            total.passed, total.failed, total.skipped
        ));
        out.push_str(if self.failed() {
            "cargo xtask test: FAILED\n"
        } else {
            "cargo xtask test: ok\n"
        });
        out
    }
}

/// Runs `cmd` to the end; `Failed` with its status unless it succeeded.
fn status_of(cmd: &mut Command) -> Outcome {
    eprintln!("    {cmd:?}");
    match cmd.status() {
        Ok(s) if s.success() => Outcome::Passed,
        Ok(s) => Outcome::Failed(s.to_string()),
        Err(e) => Outcome::Failed(format!("could not start: {e}")),
    }
}

/// Runs `cmd` with its stdout and stderr passed through line by line, handing every line
/// (true for stdout) to `on_line` in the order they arrive.
fn stream(cmd: &mut Command, on_line: impl FnMut(bool, &str)) -> Outcome {
    stream_with(cmd, true, on_line)
}

/// [`stream`]; `echo_stdout` false keeps machine-readable stdout (JSON) off the terminal.
fn stream_with(
    cmd: &mut Command,
    echo_stdout: bool,
    mut on_line: impl FnMut(bool, &str),
) -> Outcome {
    eprintln!("    {cmd:?}");
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(format!("could not start: {e}")),
    };
    let (tx, rx) = mpsc::channel::<(bool, String)>();
    let readers: Vec<_> = [
        (
            true,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ),
    ]
    .into_iter()
    .filter_map(|(is_out, pipe)| pipe.map(|p| (is_out, p)))
    .map(|(is_out, pipe)| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send((is_out, line)).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);
    for (is_out, line) in rx {
        if is_out {
            if echo_stdout {
                println!("{line}");
            }
        } else {
            eprintln!("{line}");
        }
        on_line(is_out, &line);
    }
    for reader in readers {
        let _ = reader.join();
    }
    match child.wait() {
        Ok(s) if s.success() => Outcome::Passed,
        Ok(s) => Outcome::Failed(s.to_string()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Test executables by file name, mapped to `package kind name` (from `--no-run` JSON).
fn test_executables(json_lines: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in json_lines.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let package = msg["package_id"]
            .as_str()
            .map(package_name)
            .unwrap_or_default();
        let kind = msg["target"]["kind"][0].as_str().unwrap_or("test");
        let name = msg["target"]["name"].as_str().unwrap_or("?");
        let label = match kind {
            "lib" | "proc-macro" => format!("{package} lib"),
            "bin" => format!("{package} bin {name}"),
            other => format!("{package} {other} {name}"),
        };
        if let Some(file) = Path::new(exe).file_name() {
            out.insert(file.to_string_lossy().into_owned(), label);
        }
    }
    out
}

/// `nl6-netns` from a package id: `path+file:///…/crates/nl6-netns#0.1.0`,
/// `path+file:///…/bins/nl6-collector#nl6-collector-cli@0.1.0` or (older cargo)
/// `nl6-netns 0.1.0 (path+file:///…)`.
fn package_name(id: &str) -> String {
    if let Some((name, _)) = id.split_once(' ') {
        return name.to_owned();
    }
    match id.rsplit_once('#') {
        Some((_, fragment)) if fragment.contains('@') => {
            fragment.split('@').next().unwrap_or(fragment).to_owned()
        }
        Some((path, _)) => path.rsplit('/').next().unwrap_or(path).to_owned(),
        None => id.rsplit('/').next().unwrap_or(id).to_owned(),
    }
}

/// The suite a cargo status line starts: `Running unittests src/lib.rs (target/…/nl6_netns-1a2b)`
/// or `Doc-tests nl6_netns`.
fn suite_started(line: &str, exes: &HashMap<String, String>) -> Option<String> {
    let line = line.trim();
    if let Some(krate) = line.strip_prefix("Doc-tests ") {
        return Some(format!("{} doc", krate.replace('_', "-")));
    }
    let rest = line.strip_prefix("Running ")?;
    let (what, path) = rest.rsplit_once(" (")?;
    let file = Path::new(path.trim_end_matches(')'))
        .file_name()?
        .to_string_lossy()
        .into_owned();
    Some(
        exes.get(&file)
            .cloned()
            .unwrap_or_else(|| format!("{what} ({file})")),
    )
}

/// Whether this run is CI as root, where nothing may skip.
fn ci_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    std::env::var("CI").is_ok_and(|v| v == "true") && unsafe { libc::geteuid() } == 0
}

/// `cargo xtask test [--no-lint]`.
pub fn run(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--no-lint");
    let root = workspace_root();
    let cargo = cargo();
    let lint_steps = if quick { 0 } else { 3 };
    let total = lint_steps + 6;
    println!(
        "cargo xtask test: {total} steps ({}venv, build, build tests, cargo test, loom, python \
         interop); a summary follows at the end",
        if quick { "" } else { "fmt, clippy, doc, " }
    );
    let _ = std::io::stdout().flush();
    let target = target_dir(&root)?;
    let skip_log = target.join("xtask-test-skips.log");
    let _ = std::fs::remove_file(&skip_log);
    let mut run = Run::default();
    let mut index = 0;
    let mut next = || {
        index += 1;
        index
    };
    if !quick {
        run.record("fmt", next(), total, |_| {
            status_of(
                Command::new(&cargo)
                    .current_dir(&root)
                    .args(["fmt", "--all", "--check"]),
            )
        });
        run.record("clippy", next(), total, |_| {
            status_of(Command::new(&cargo).current_dir(&root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        });
        run.record("doc", next(), total, |_| {
            status_of(
                Command::new(&cargo)
                    .current_dir(&root)
                    .env("RUSTDOCFLAGS", "-D warnings")
                    .args(["doc", "--no-deps", "--workspace"]),
            )
        });
    }
    let mut python = None;
    run.record("venv", next(), total, |_| match ensure_venv(&root) {
        Ok(p) => {
            python = Some(p);
            Outcome::Passed
        }
        Err(e) => Outcome::Failed(format!("{e:#}")),
    });
    // Binaries the integration and interop tests start as real processes.
    run.record("build", next(), total, |_| {
        status_of(
            Command::new(&cargo)
                .current_dir(&root)
                .args(["build", "--bins", "--workspace"]),
        )
    });
    let mut json = String::new();
    run.record("build tests", next(), total, |_| {
        stream_with(
            Command::new(&cargo).current_dir(&root).args([
                "test",
                "--workspace",
                "--no-run",
                "--message-format=json-render-diagnostics",
            ]),
            false,
            |is_out, line| {
                if is_out {
                    json.push_str(line);
                    json.push('\n');
                }
            },
        )
    });
    let exes = test_executables(&json);
    run.record("cargo test", next(), total, |run| {
        // Suites run one after the other, each ending in one result line; "Running" lines
        // come on stderr and results on stdout, so the two interleave: results are matched
        // to suites in start order.
        let mut started = std::collections::VecDeque::new();
        let mut seen_skips = 0;
        let outcome = stream(
            Command::new(&cargo)
                .current_dir(&root)
                .env(SKIP_LOG_ENV, &skip_log)
                .args(["test", "--workspace", "--no-fail-fast"]),
            |is_out, line| {
                if let Some(suite) = suite_started(line, &exes) {
                    started.push_back(suite);
                } else if is_out && let Some(mut counts) = parse_libtest_result(line) {
                    let current = started.pop_front().unwrap_or_else(|| "?".to_owned());
                    let skips = read_lines(&skip_log);
                    let new = skips.len().saturating_sub(seen_skips);
                    seen_skips = skips.len();
                    // Runtime skips passed as far as libtest knows.
                    counts.passed = counts.passed.saturating_sub(new as u64);
                    counts.skipped += new as u64;
                    run.suites.push((current, counts));
                }
            },
        );
        run.skips = read_lines(&skip_log);
        outcome
    });
    // The fan-out's loom models: their own target directory, since `--cfg loom` changes
    // every crate's build.
    run.record("loom", next(), total, |run| {
        let mut counts = None;
        let outcome = stream(
            Command::new(&cargo)
                .current_dir(&root)
                .env("RUSTFLAGS", "--cfg loom")
                .env("CARGO_TARGET_DIR", target.join("loom"))
                .args(["test", "-p", "nl6-ifstate", "--release", "--test", "loom"]),
            |is_out, line| {
                if is_out && let Some(c) = parse_libtest_result(line) {
                    counts = Some(c);
                }
            },
        );
        run.suites
            .push(("nl6-ifstate loom".to_owned(), counts.unwrap_or_default()));
        outcome
    });
    run.record("python interop", next(), total, |run| {
        let Some(python) = &python else {
            return Outcome::NotRun("no virtualenv".to_owned());
        };
        let mut counts = None;
        let outcome = stream(
            Command::new(python)
                .current_dir(&root)
                .env("NL6_TARGET_DIR", target.join("debug"))
                .env(SKIP_LOG_ENV, &skip_log)
                .args(["-m", "pytest", "-q"])
                .arg(root.join("tests/python")),
            |is_out, line| {
                if is_out && let Some(c) = parse_pytest_summary(line) {
                    counts = Some(c);
                }
            },
        );
        let counts = counts.unwrap_or_default();
        let skipped = counts.skipped;
        run.suites.push(("python interop".to_owned(), counts));
        // The suites' own SKIPPED lines (e.g. no Chromium) join the Rust tests' ones.
        run.skips = read_lines(&skip_log);
        match outcome {
            Outcome::Passed if skipped > 0 && ci_as_root() => {
                Outcome::Failed(format!("{skipped} skipped with CI=true as root"))
            }
            other => other,
        }
    });
    print!("{}", run.summary());
    let _ = std::io::stdout().flush();
    if run.failed() {
        // The summary said it all; no error chain (or backtrace) after it.
        std::process::exit(1);
    }
    Ok(())
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_results_are_parsed() {
        let ok = "test result: ok. 29 passed; 0 failed; 3 ignored; 0 measured; 0 filtered out; \
                  finished in 0.01s";
        assert_eq!(
            parse_libtest_result(ok),
            Some(Counts {
                passed: 29,
                failed: 0,
                skipped: 3
            })
        );
        let failed = "test result: FAILED. 10 passed; 1 failed; 0 ignored; 0 measured; \
                      0 filtered out; finished in 19.85s";
        assert_eq!(parse_libtest_result(failed).unwrap().failed, 1);
        assert_eq!(parse_libtest_result("test foo ... ok"), None);
    }

    #[test]
    fn pytest_summaries_are_parsed() {
        let c = parse_pytest_summary("1 failed, 11 passed, 2 skipped in 3.21s").unwrap();
        assert_eq!(
            c,
            Counts {
                passed: 11,
                failed: 1,
                skipped: 2
            }
        );
        let c = parse_pytest_summary("===== 12 passed, 1 warning in 40.02s =====").unwrap();
        assert_eq!(c.passed, 12);
        let c = parse_pytest_summary("17 passed in 76.48s (0:01:16)").unwrap();
        assert_eq!(c.passed, 17);
        assert_eq!(parse_pytest_summary("tests/python/test_x.py ...."), None);
        assert_eq!(parse_pytest_summary("waiting in line 3s"), None);
    }

    #[test]
    fn suites_are_named_by_package_and_target() {
        let json = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/nl6-netns#0.1.0","target":{"kind":["test"],"name":"netns"},"executable":"/t/debug/deps/netns-1a2b"}
{"reason":"compiler-artifact","package_id":"path+file:///w/bins/nl6-collector#nl6-collector-cli@0.1.0","target":{"kind":["bin"],"name":"nl6-collector"},"executable":"/t/debug/deps/nl6_collector-9f"}
{"reason":"compiler-artifact","package_id":"nl6-gnmi 0.1.0 (path+file:///w/crates/nl6-gnmi)","target":{"kind":["lib"],"name":"nl6_gnmi"},"executable":"/t/debug/deps/nl6_gnmi-77"}
{"reason":"build-finished","success":true}"#;
        let exes = test_executables(json);
        let started = |l: &str| suite_started(l, &exes);
        assert_eq!(
            started("     Running tests/netns.rs (target/debug/deps/netns-1a2b)").as_deref(),
            Some("nl6-netns test netns")
        );
        assert_eq!(
            started("     Running unittests src/main.rs (target/debug/deps/nl6_collector-9f)")
                .as_deref(),
            Some("nl6-collector-cli bin nl6-collector")
        );
        assert_eq!(
            started("     Running unittests src/lib.rs (target/debug/deps/nl6_gnmi-77)").as_deref(),
            Some("nl6-gnmi lib")
        );
        assert_eq!(
            started("   Doc-tests nl6_netns").as_deref(),
            Some("nl6-netns doc")
        );
        assert_eq!(started("   Compiling nl6-netns v0.1.0"), None);
    }

    #[test]
    fn the_summary_lists_steps_suites_and_totals() {
        let mut run = Run::default();
        run.steps.push(StepResult {
            name: "fmt",
            outcome: Outcome::Passed,
            took: Duration::from_millis(1500),
        });
        run.steps.push(StepResult {
            name: "cargo test",
            outcome: Outcome::Failed("exit status: 101".into()),
            took: Duration::from_secs(60),
        });
        run.suites.push((
            "nl6-netns test netns".into(),
            Counts {
                passed: 10,
                failed: 1,
                skipped: 0,
            },
        ));
        run.skips.push("SKIPPED a: needs root".into());
        let text = run.summary();
        assert!(
            text.contains("  fmt                  1.5 s  pass\n"),
            "{text}"
        );
        assert!(text.contains("FAIL  exit status: 101"), "{text}");
        assert!(
            text.contains("nl6-netns test netns      10       1       0"),
            "{text}"
        );
        assert!(text.contains("SKIPPED a: needs root"), "{text}");
        assert!(
            text.contains("tests: 10 passed, 1 failed, 0 skipped\n"),
            "{text}"
        );
        assert!(text.ends_with("cargo xtask test: FAILED\n"), "{text}");
    }
}
