//! Folder and URL sources: scanner reports imported as they arrive.
//!
//! A folder source imports each file once, by content hash: the hash is recorded in the
//! store (`source_files`), then the file is moved to `done` when one is configured. A file
//! whose name starts with `.` or ends with `.tmp`, `.part` or `~` is still being written and
//! is left alone (a CI job writes `report.json.part` and renames it). A file that fails to
//! import is recorded too, so it is not retried every second; a new version (new content) is.
//!
//! A URL source is fetched with conditional GET (`If-None-Match`, `If-Modified-Since`), as
//! the intel feeds are; a 304 is an idle run. The validators are the source's checkpoint.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use ctem_core::settings::{Source, Vantage};
use ctem_model::ImportSummary;
use ctem_store::intel::FeedState;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Outcome, Scheduler};
use crate::cmd::feeds::{Fetched, fetch};
use crate::cmd::import::{self, Options};
use crate::cmd::outbound::AddressPolicy;

fn options(s: &Scheduler, src: &Source) -> Options {
    Options {
        format: src.format.clone(),
        scope: src.scope.clone(),
        strict: false,
        progress: false,
        limits: s.limits,
        vantage: Vantage::default(),
    }
}

/// The records an import brought: exposures and assets it reported.
fn records(s: &ImportSummary) -> u64 {
    let e = &s.exposures;
    e.new + e.unchanged + e.updated + e.reopened + s.assets.new + s.assets.merged
}

fn pending(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with(".tmp")
        || name.ends_with(".part")
        || name.ends_with('~')
}

fn sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The files of `dir` waiting to be imported, by name.
fn waiting(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e).with_context(|| format!("read folder {}", dir.display())),
    };
    for e in entries {
        let e = e.with_context(|| format!("read folder {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_ok_and(|t| t.is_file()) && !pending(&name) {
            files.push(e.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Moves an imported file into `done` (a name taken there gets a time prefix).
fn move_done(file: &Path, done: &Path) -> Result<()> {
    std::fs::create_dir_all(done).with_context(|| format!("create {}", done.display()))?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let mut to = done.join(&*name);
    if to.exists() {
        to = done.join(format!("{}-{name}", Utc::now().format("%Y%m%dT%H%M%S%.3f")));
    }
    std::fs::rename(file, &to)
        .with_context(|| format!("move {} to {}", file.display(), to.display()))
}

/// `kind = "folder"`.
pub fn folder(s: &mut Scheduler, src: &Source, dir: &Path, done: Option<&Path>) -> Result<Outcome> {
    let mut out = Outcome::idle();
    let opts = options(s, src);
    for file in waiting(dir)? {
        let sha = sha256(&file)?;
        let label = file.display().to_string();
        if s.store.file_seen(&src.name, &sha)? {
            if let Some(d) = done {
                move_done(&file, d)?;
            }
            continue;
        }
        out.idle = false;
        let result = import::import_files(
            s.store.as_mut(),
            std::slice::from_ref(&file),
            &opts,
            &s.settings.risk,
        );
        for r in result {
            match r.outcome {
                Ok(sum) => out.records += records(&sum),
                Err(e) => out
                    .errors
                    .push(format!("{}: {}", r.file, crate::output::chain(&e))),
            }
        }
        s.store.mark_file(&src.name, &sha, &label, Utc::now())?;
        if let Some(d) = done {
            move_done(&file, d)?;
        }
    }
    if out.records > 0 {
        crate::cmd::measure::after_change(s.store.as_mut(), &s.settings.measure, false);
    }
    Ok(out)
}

/// A URL source's checkpoint: the validators of the last answer.
#[derive(Debug, Default, Serialize, Deserialize)]
struct UrlCheckpoint {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// The addresses a source or channel may reach beyond the public ones.
pub fn policy(allow: &[String], what: &str) -> Result<Arc<AddressPolicy>> {
    let p: AddressPolicy =
        ctem_core::feeds::policy(allow).with_context(|| format!("{what}: allow_addresses"))?;
    Ok(Arc::new(p))
}

/// `kind = "url"`.
pub fn url(
    s: &mut Scheduler,
    src: &Source,
    url: &str,
    timeout: Duration,
    max_size: u64,
    allow: &[String],
) -> Result<Outcome> {
    let policy = policy(allow, &format!("[[sources]] {}", src.name))?;
    let key = ctem_core::sources::job_name(&src.name);
    let cp: UrlCheckpoint = match s.store.checkpoint(&key)? {
        Some(t) => serde_json::from_str(&t).unwrap_or_default(),
        None => UrlCheckpoint::default(),
    };
    let prev = FeedState {
        name: src.name.clone(),
        url: cp.url.clone(),
        etag: cp.etag.clone(),
        last_modified: cp.last_modified.clone(),
        ..FeedState::default()
    };
    let (bytes, etag, last_modified) = match fetch(url, Some(&prev), timeout, max_size, &policy)? {
        Fetched::NotModified => return Ok(Outcome::idle()),
        Fetched::Body {
            bytes,
            etag,
            last_modified,
        } => (bytes, etag, last_modified),
    };
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("report");
    let opts = options(s, src);
    let summary = import::import_upload(s.store.as_mut(), &bytes, name, &opts, &s.settings.risk)
        .with_context(|| ctem_model::redact::url(url))?;
    let cp = UrlCheckpoint {
        url: url.to_string(),
        etag,
        last_modified,
    };
    s.store.set_checkpoint(&key, &serde_json::to_string(&cp)?)?;
    crate::cmd::measure::after_change(s.store.as_mut(), &s.settings.measure, false);
    Ok(Outcome {
        records: records(&summary),
        ..Outcome::default()
    })
}
