//! Shell completions, the manual page, --help, and the demo's advice: each checked by the
//! tool that consumes it (bash -n, man -l) when that tool is installed.

use std::process::Command;

use crate::common::Env;

/// Whether `tool` runs here; in CI (CI=true) a missing tool is a failure, elsewhere a skip.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is not installed (.ci/run installs it)"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

#[test]
fn bash_accepts_the_completion_script_and_zsh_fish_scripts_are_written() {
    let env = Env::new();
    let bash = env.ok(&["completions", "bash"]);
    assert!(bash.contains("complete -F"), "{bash:.200}");
    assert!(bash.contains("exposures") && bash.contains("--severity"));
    if have("bash") {
        let file = env.path("ctem.bash");
        std::fs::write(&file, &bash).expect("write");
        let out = Command::new("bash")
            .arg("-n")
            .arg(&file)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (shell, marker) in [("zsh", "#compdef ctem"), ("fish", "complete -c ctem")] {
        let script = env.ok(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script:.200}");
        if shell == "zsh" && Command::new("zsh").arg("--version").output().is_ok() {
            let file = env.path("_ctem");
            std::fs::write(&file, &script).expect("write");
            let out = Command::new("zsh")
                .arg("-n")
                .arg(&file)
                .output()
                .expect("zsh");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn man_renders_the_manual_pages_without_warnings() {
    let env = Env::new();
    let page = env.ok(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH ctem"),
        "{page:.200}"
    );
    let import = env.ok(&["man", "import"]);
    assert!(import.contains(".TH ctem-import"), "{import:.200}");
    assert_eq!(env.run(&["man", "bogus"]).status.code(), Some(1));
    if !have("man") {
        return;
    }
    for (name, text) in [("ctem.1", &page), ("ctem-import.1", &import)] {
        let file = env.path(name);
        std::fs::write(&file, text).expect("write");
        let out = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .env("MANROFFOPT", "-ww")
            .output()
            .expect("man");
        let rendered = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {err}");
        assert!(err.trim().is_empty(), "{name}: warnings: {err}");
        assert!(
            rendered.contains("NAME") && rendered.contains("OPTIONS"),
            "{rendered:.500}"
        );
    }
}

#[test]
fn help_lists_global_options_apart_and_ends_with_examples() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    assert!(help.contains("Global options:"), "{help}");
    assert!(
        help.trim_end()
            .lines()
            .rev()
            .take(8)
            .any(|l| l.contains("ctem import"))
    );
    assert!(help.contains("Examples:"));
    // a subcommand lists its own flags first, the global ones under their own heading
    let sub = env.ok(&["exposures", "--help"]);
    let local = sub.find("--severity").expect("--severity");
    let global = sub.find("Global options:").expect("global heading");
    assert!(local < global, "{sub}");
    assert!(sub.contains("Examples:"), "{sub}");
    assert!(
        sub.contains("possible values") || sub.contains("[possible values"),
        "{sub}"
    );
}

#[test]
fn the_demo_advice_is_one_command_a_line() {
    let env = Env::new();
    let out = env.ok(&["demo", "--dir", "d"]);
    let next = out.split("\nnext:").nth(1).expect("next: section");
    let lines: Vec<&str> = next.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{next}");
    for l in &lines {
        assert!(!l.contains(" | "), "{l}");
        assert!(l.trim_start().starts_with("ctem --db "), "{l}");
    }
    // each line runs as it is pasted
    for line in &lines {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        let run = Command::new(env!("CARGO_BIN_EXE_ctem"))
            .args(&args)
            .current_dir(env.dir.path())
            .output()
            .expect("run");
        assert!(
            run.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
