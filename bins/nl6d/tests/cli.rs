//! nl6d's command line: refusals that protect the fleet happen before anything starts.

use std::process::Command;

fn nl6d(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nl6d"))
        .args(args)
        .env_remove("NL6_REST_TOKEN")
        .output()
        .expect("nl6d runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_non_loopback_rest_listener_without_a_token_is_refused() {
    let (code, stderr) = nl6d(&["--listen", "0.0.0.0:0", "--auto-count", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("listen") && stderr.contains("--rest-token-file"),
        "{stderr}"
    );
}

#[test]
fn a_password_on_the_command_line_is_warned_about() {
    // An invalid port makes nl6d stop right after reading its settings.
    let (code, stderr) = nl6d(&[
        "--gnmi-username",
        "ops",
        "--gnmi-password",
        "s3cret",
        "--rest-max-connections",
        "0",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--gnmi-password is visible to every local user"),
        "{stderr}"
    );
    assert!(stderr.contains("rest_max_connections"), "{stderr}");
}

#[test]
fn bad_values_name_the_flag_or_key_and_exit_2_before_anything_starts() {
    let (code, stderr) = nl6d(&["--interfaces", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--interfaces") && stderr.contains("1..=1024"),
        "{stderr}"
    );
    let (code, stderr) = nl6d(&["--auto-count", "100001"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("0..=100000"), "{stderr}");
    for (flag, value) in [
        ("--mdt-protocol", "quic"),
        ("--mdt-encoding", "xml"),
        ("--mdt-sample-interval", "5"),
        ("--mdt-sensor-paths", "bogus:path"),
        ("--mdt-destination", "nowhere"),
    ] {
        let (code, stderr) = nl6d(&["--mdt-subscription", "S", flag, value]);
        assert_eq!(code, 2, "{flag}: {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }

    let dir = std::env::temp_dir().join(format!("nl6d-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("typo.toml");
    std::fs::write(&file, "auto_cont = 3\n").unwrap();
    let (code, stderr) = nl6d(&["--config", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown key `auto_cont`")
            && stderr.contains("did you mean `auto_count`?")
            && !stderr.contains("default."),
        "{stderr}"
    );
}
