//! The settings file as the binary reads it: every error at once, flags over the
//! environment over the file.

use std::process::Command;

use crate::common::{Env, demo_file};

#[test]
fn a_bad_settings_file_fails_with_every_error_and_its_line() {
    let env = Env::new();
    std::fs::write(
        env.path("ctem.toml"),
        "[[feed]]\nname = \"kev\"\n\n[risk.weights]\nkev = \"high\"\n\n[store]\nbusy_timeout = \"soon\"\n",
    )
    .expect("write");
    let out = env.run(&["assets", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 errors in the settings"), "{err}");
    assert!(
        err.contains("ctem.toml:1: feed: unknown section [[feed]], did you mean [[feeds]]?"),
        "{err}"
    );
    assert!(err.contains("ctem.toml:5: risk.weights.kev: "), "{err}");
    assert!(err.contains("ctem.toml:8: store.busy_timeout: "), "{err}");
    assert!(out.stdout.is_empty(), "nothing runs on bad settings");
}

#[test]
fn the_store_url_comes_from_the_flag_then_the_environment_then_the_file() {
    let env = Env::new();
    std::fs::write(env.path("ctem.toml"), "[store]\nurl = \"from-file.db\"\n").expect("write");
    let report = demo_file("trivy-alpine-310.json");
    let run = |args: &[&str], db_env: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ctem"));
        c.args(args)
            .current_dir(env.dir.path())
            .env_remove("CTEM_CONFIG")
            .env_remove("CTEM_DB");
        if let Some(db) = db_env {
            c.env("CTEM_DB", db);
        }
        let out = c.output().expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let file = report.display().to_string();
    run(&["import", &file], None);
    assert!(env.path("from-file.db").exists());
    run(&["import", &file], Some("from-env.db"));
    assert!(env.path("from-env.db").exists());
    run(
        &["--db", "from-flag.db", "import", &file],
        Some("from-env.db"),
    );
    assert!(env.path("from-flag.db").exists());
    assert!(!env.path("ctem.db").exists());
}
