//! `kind = "file"`: an event file tailed across rotation; its events go through detection
//! and the alerts are stored.
//!
//! The open file is kept between polls and known by its inode. When the path names another
//! inode (the file was renamed away and a new one created: logrotate's default), the rest
//! of the old file is read from the open handle first, then the new file from its start.
//! When the file shrinks below the position (copytruncate), reading starts again at 0.
//! Only complete lines are consumed; the position of the last one read is the source's
//! checkpoint (`{"ino", "offset"}`), so a restart goes on where the last run stopped, also
//! when the file was rotated meanwhile (the old inode is looked for beside it).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ctem_core::settings::Source;
use ctem_detect::Engine;
use ctem_detect::decode::{self, Format};
use serde::{Deserialize, Serialize};

use super::{Outcome, Scheduler};

/// An open tailed file.
pub struct Tail {
    file: File,
    ino: u64,
    offset: u64,
    /// Lines read from this source so far, over every file it rotated through: an
    /// event's record number, so a line read again after a crash has the alert identity
    /// it had and is not stored twice.
    line: u64,
    engine: std::sync::Arc<Engine>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    ino: u64,
    offset: u64,
    #[serde(default)]
    line: u64,
}

/// The most read from a file in one poll (the rest waits for the next).
const MAX_CHUNK: u64 = 64 << 20;

thread_local! {
    static ENGINES: std::cell::RefCell<HashMap<Vec<PathBuf>, std::sync::Arc<Engine>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// The engine of a rule set, compiled once per process.
fn engine(s: &Scheduler, rules: &[PathBuf]) -> Result<std::sync::Arc<Engine>> {
    let dirs = super::rule_dirs(s, rules);
    if let Some(e) = ENGINES.with(|m| m.borrow().get(&dirs).cloned()) {
        return Ok(e);
    }
    let set = if dirs.is_empty() {
        ctem_detect::RuleSet::default()
    } else {
        ctem_detect::RuleSet::load_dirs(&dirs)?
    };
    let mut e = Engine::new(set, s.settings.detect.build()?);
    e.add_detector(Box::new(decode::SourceAlerts));
    let e = std::sync::Arc::new(e);
    ENGINES.with(|m| m.borrow_mut().insert(dirs, e.clone()));
    Ok(e)
}

/// A file beside `path` with inode `ino` (where a rotated file went).
fn find_inode(path: &Path, ino: u64) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.metadata().is_ok_and(|m| m.ino() == ino && m.is_file()))
        .map(|e| e.path())
}

/// Opens the tail where the checkpoint says, reading first what is left of a file rotated
/// away since.
fn open(
    s: &mut Scheduler,
    src: &Source,
    path: &Path,
    rules: &[PathBuf],
) -> Result<Option<(Tail, Outcome)>> {
    let Ok(file) = File::open(path) else {
        return Ok(None);
    };
    let ino = file.metadata()?.ino();
    let key = ctem_core::sources::job_name(&src.name);
    let cp: Option<Checkpoint> = s
        .store
        .checkpoint(&key)?
        .and_then(|t| serde_json::from_str(&t).ok());
    let engine = engine(s, rules)?;
    let mut out = Outcome::idle();
    let mut line = cp.as_ref().map_or(0, |c| c.line);
    let offset = match cp {
        Some(cp) if cp.ino == ino => cp.offset,
        Some(cp) => {
            // rotated while ctem was not running: the rest of the old file first
            if let Some(old) = find_inode(path, cp.ino)
                && let Ok(f) = File::open(&old)
            {
                let mut t = Tail {
                    file: f,
                    ino: cp.ino,
                    offset: cp.offset,
                    line,
                    engine: engine.clone(),
                };
                read_new(s, src, &mut t, &mut out)?;
                line = t.line;
            }
            0
        }
        None => 0,
    };
    let tail = Tail {
        file,
        ino,
        offset,
        line,
        engine,
    };
    Ok(Some((tail, out)))
}

/// Reads the complete lines past the tail's offset, runs detection, stores the alerts.
fn read_new(s: &mut Scheduler, src: &Source, t: &mut Tail, out: &mut Outcome) -> Result<()> {
    let len = t.file.metadata()?.len();
    if len < t.offset {
        t.offset = 0; // truncated in place
    }
    if len == t.offset {
        return Ok(());
    }
    t.file.seek(SeekFrom::Start(t.offset))?;
    let mut buf = Vec::new();
    (&mut t.file)
        .take((len - t.offset).min(MAX_CHUNK))
        .read_to_end(&mut buf)
        .context("read")?;
    let Some(end) = memchr::memrchr(b'\n', &buf) else {
        return Ok(());
    };
    buf.truncate(end + 1);
    t.offset += buf.len() as u64;
    let format: Format = src
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("format {}: {e}", src.format))?;
    let name = src.name.clone();
    let now = chrono::Utc::now();
    let mut alerts = Vec::new();
    let mut events = 0u64;
    let (base, lines) = (t.line, memchr::memchr_iter(b'\n', &buf).count() as u64);
    t.line += lines;
    for rec in decode::stream(std::io::Cursor::new(buf), format, Some(name.clone()))? {
        match rec {
            Ok(mut rec) => {
                events += 1;
                rec.record = Some(base + rec.record.unwrap_or(events));
                alerts.extend(
                    t.engine
                        .process_record(&rec)
                        .iter()
                        .map(|a| a.to_model(now)),
                );
            }
            Err(e) => out.errors.push(format!("{name}: {e}")),
        }
    }
    out.idle = false;
    out.records += events;
    if !alerts.is_empty() {
        s.store.store_alerts(&alerts).context("storing alerts")?;
        crate::cmd::measure::after_change(s.store.as_mut(), &s.settings.measure, true);
    }
    Ok(())
}

fn save(s: &mut Scheduler, src: &Source, t: &Tail) -> Result<()> {
    let cp = Checkpoint {
        ino: t.ino,
        offset: t.offset,
        line: t.line,
    };
    let key = ctem_core::sources::job_name(&src.name);
    s.store.set_checkpoint(&key, &serde_json::to_string(&cp)?)?;
    Ok(())
}

/// One poll of a tailed file.
pub fn poll(s: &mut Scheduler, src: &Source, path: &Path, rules: &[PathBuf]) -> Result<Outcome> {
    let (mut t, mut out, before) = match s.tails.remove(&src.name) {
        Some(t) => {
            let before = Some((t.ino, t.offset, t.line));
            (t, Outcome::idle(), before)
        }
        None => match open(s, src, path, rules)? {
            Some((t, out)) => (t, out, None),
            None => return Ok(Outcome::idle()),
        },
    };
    read_new(s, src, &mut t, &mut out)?;
    // rotated: the path names a new file; the old one was read to its end above
    if let Ok(m) = std::fs::metadata(path)
        && m.ino() != t.ino
        && let Ok(file) = File::open(path)
    {
        t = Tail {
            ino: file.metadata()?.ino(),
            file,
            offset: 0,
            line: t.line,
            engine: t.engine.clone(),
        };
        read_new(s, src, &mut t, &mut out)?;
    }
    if before != Some((t.ino, t.offset, t.line)) {
        save(s, src, &t)?;
    }
    s.tails.insert(src.name.clone(), t);
    Ok(out)
}
