//! Closing stdout early (`ctem alerts | head -1`) ends ctem quietly: exit 0, no panic, no
//! error text. Each command is spawned with its stdout pipe closed before it writes, so
//! every write it makes meets EPIPE (a `head -1` may let a small output through unseen).

use std::io::Read;
use std::process::Stdio;

use crate::listings::populated;

/// Runs ctem with the read end of its stdout closed at once; returns (exit code, stderr).
fn closed_stdout(env: &crate::common::Env, args: &[&str]) -> (Option<i32>, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ctem");
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    (status.code(), err)
}

#[test]
fn a_closed_stdout_never_panics_and_exits_quietly() {
    let env = populated();
    let cases: &[&[&str]] = &[
        &["alerts", "--limit", "5000"],
        &["alerts", "--json"],
        &["scans", "--json"],
        &["scans"],
        &["intel", "indicators", "--json"],
        &["intel", "indicators", "--all"],
        &["formats", "--json"],
        &["formats"],
        &["exposures", "--json"],
        &["exposures", "--status", "all"],
        &["assets", "--json"],
        &["top", "--json"],
        &["tickets"],
        &["exposure", "1"],
        &["explain", "1"],
        &["cvss", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"],
        &["share", "stix"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
    ];
    for args in cases {
        let (code, err) = closed_stdout(&env, args);
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            err.trim().is_empty() || !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn detect_into_a_closed_pipe_ends_quietly() {
    let env = crate::common::Env::new();
    let rules = crate::listings::regression().join("rules");
    let data = crate::listings::regression().join("data");
    for extra in [&["--json"][..], &[][..]] {
        let mut args = vec!["detect", "--rules", rules.to_str().expect("path")];
        args.extend_from_slice(extra);
        args.push(data.to_str().expect("path"));
        let (code, err) = closed_stdout(&env, &args);
        assert!(!err.contains("panicked"), "{err}");
        assert!(!err.contains("Broken pipe"), "{err}");
        assert_eq!(code, Some(0), "{err}");
    }
}

#[test]
fn a_real_head_in_a_shell_pipeline_sees_exit_0() {
    let env = populated();
    let ctem = env!("CARGO_BIN_EXE_ctem");
    let db = env.db();
    // enough output to fill the pipe buffer, so ctem writes after head has gone
    for cmd in [
        "alerts --limit 5000 --json | head -c 10",
        "alerts --limit 5000 | head -1",
        "exposures --status all --json | head -c 1",
    ] {
        let script = format!("set -o pipefail; '{ctem}' --db '{db}' {cmd} >/dev/null");
        let out = std::process::Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("bash");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{cmd}: {err}");
        assert_eq!(out.status.code(), Some(0), "{cmd}: {err}");
    }
}
