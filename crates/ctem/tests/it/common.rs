//! What every end-to-end test of the binary needs: paths to the real fixture files, and a
//! fresh store in a temporary folder with a way to run `ctem` on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A file of crates/ctem-ingest/tests/fixtures (real scanner reports).
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ctem-ingest/tests/fixtures")
        .join(rel)
}

/// A Trivy report of the ingest fixtures.
pub fn trivy_fixture(name: &str) -> PathBuf {
    fixture(&format!("trivy/{name}"))
}

/// A file of crates/ctem-intel/tests/fixtures (real threat-intel files).
pub fn intel_fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ctem-intel/tests/fixtures")
        .join(rel)
}

/// A file of the bundled demo environment (examples/demo).
pub fn demo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/demo")
        .join(name)
}

/// A temporary folder with its own store (`ctem.db`), unaffected by the caller's
/// `CTEM_CONFIG`, `CTEM_DB` and `CTEM_USER`.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tmp"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> String {
        self.path("ctem.db").display().to_string()
    }

    /// `ctem --db STORE ARGS` in the folder, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.bare(&["--db", &self.db()]);
        c.args(args);
        c
    }

    /// `ctem ARGS` in the folder (no `--db`), not yet run.
    pub fn bare(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ctem"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("CTEM_CONFIG")
            .env_remove("CTEM_DB")
            .env_remove("CTEM_USER")
            .env_remove("NO_COLOR")
            // the rule cache of each test stays in its folder
            .env("XDG_CACHE_HOME", self.path("cache"));
        c
    }

    /// Runs `ctem --db STORE ARGS` in the folder with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run ctem")
    }

    /// Runs ctem with `input` on its standard input.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctem");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        // written on its own thread: ctem may answer before it has read everything
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait");
        let _ = writer.join();
        out
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Stdout of a run that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// Stdout as one JSON document.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("json stdout")
    }

    /// The records of a listing: the elements of the one JSON array it prints.
    pub fn rows(&self, args: &[&str]) -> Vec<Value> {
        match self.json(args) {
            Value::Array(rows) => rows,
            other => panic!("{args:?}: not one JSON array: {other}"),
        }
    }
}

/// Runs ctem and returns its output and the largest value of `field` (a line of
/// /proc/PID/status in KiB, e.g. `VmHWM:` or `RssAnon:`) seen while polling it.
pub fn run_sampled(env: &Env, args: &[&str], field: &str) -> (std::process::Output, u64) {
    use std::io::Read as _;
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let mut peak = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(l) = s.lines().find(|l| l.starts_with(field))
        {
            let kib: u64 = l
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            peak = peak.max(kib);
        }
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let out = std::process::Output {
        status,
        stdout: out_t.join().expect("stdout"),
        stderr: err_t.join().expect("stderr"),
    };
    (out, peak)
}
