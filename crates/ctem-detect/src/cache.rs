//! The rule-set cache on disk: [`RuleSet::load_dirs_cached`].
//!
//! Reading ~2,400 SigmaHQ YAML files into the typed AST is most of a rule load. The cache
//! keeps that AST (every file's documents, or why it did not parse) in one file named by a
//! SHA-256 of everything the AST depends on: the cache format, the ctem-detect version, and
//! each rule file's path and bytes, in load order. A second run reads the rule files (it must,
//! to compute the key), finds the file of that key and compiles the AST without parsing any
//! YAML. Compiling stays per run: it depends on the placeholders and is cheap next to YAML.
//!
//! The file starts with a header line holding the key and a SHA-256 of the body; a file whose
//! header, key or body checksum does not match (truncated, overwritten, a bit flipped), or
//! whose body does not decode, is ignored and written again, so a damaged cache costs one
//! full load and never changes a result. A changed rule file changes the key: the stale entry
//! is never read, and the oldest entries beyond [`KEEP`] are removed when one is written.
//! Writes go to a temporary file renamed into place, so a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compile::CompileOptions;
use crate::error::{Error, Result};
use crate::rule::{Document, parse_yaml};
use crate::ruleset::{RuleSet, collect_files, reason};

/// Bumped whenever the AST types or this format change.
const FORMAT: &str = "ctem-rules-cache 1";
/// Cache entries kept in the folder (one per rule set in use).
const KEEP: usize = 8;
const EXT: &str = "rules";

/// How a [`RuleSet::load_dirs_cached`] found the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheUse {
    /// No cache folder given: the YAML was parsed.
    Off,
    /// The AST came from the cache.
    Hit,
    /// No valid entry: the YAML was parsed and the entry written.
    Written,
    /// No valid entry, and writing one failed (the rules loaded all the same).
    Unwritable,
}

/// One rule file in the cache: its documents, or why it did not parse.
#[derive(Serialize, Deserialize)]
struct Entry {
    origin: String,
    docs: std::result::Result<Vec<Document>, String>,
}

impl RuleSet {
    /// [`RuleSet::load_dirs_with`], with the parsed rules kept in (and read from) the cache
    /// folder `cache` (see the module). `None` parses the YAML as [`RuleSet::load_dirs_with`]
    /// does. The result is the same rule set either way.
    pub fn load_dirs_cached<P: AsRef<Path>>(
        dirs: &[P],
        opts: &CompileOptions,
        cache: Option<&Path>,
    ) -> Result<(Self, CacheUse)> {
        let files = collect_files(dirs)?;
        let mut texts = Vec::with_capacity(files.len());
        for f in &files {
            let bytes = std::fs::read(f).map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            texts.push((f.display().to_string(), bytes));
        }
        let Some(dir) = cache else {
            let mut set = RuleSet::default();
            for (origin, bytes) in &texts {
                set.add_yaml(&String::from_utf8_lossy(bytes), origin, opts);
            }
            return Ok((set, CacheUse::Off));
        };
        let key = cache_key(&texts);
        let path = dir.join(format!("{key}.{EXT}"));
        if let Some(entries) = read_entry(&path, &key) {
            let mut set = RuleSet::default();
            for e in entries {
                set.add_docs(e.docs.map_err(|m| (m, e.origin.clone())), &e.origin, opts);
            }
            return Ok((set, CacheUse::Hit));
        }
        let mut set = RuleSet::default();
        let mut entries = Vec::with_capacity(texts.len());
        for (origin, bytes) in &texts {
            let docs = parse_yaml(&String::from_utf8_lossy(bytes), origin).map_err(|e| reason(&e));
            set.add_docs(docs.clone().map_err(|m| (m, origin.clone())), origin, opts);
            entries.push(Entry {
                origin: origin.clone(),
                docs,
            });
        }
        let used = match write_entry(dir, &path, &key, &entries) {
            Ok(()) => CacheUse::Written,
            Err(_) => CacheUse::Unwritable,
        };
        Ok((set, used))
    }
}

/// The SHA-256 (hex) of the format, the version and every file's name and bytes.
fn cache_key(texts: &[(String, Vec<u8>)]) -> String {
    let mut h = Sha256::new();
    h.update(FORMAT.as_bytes());
    h.update([0]);
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    for (origin, bytes) in texts {
        h.update((origin.len() as u64).to_le_bytes());
        h.update(origin.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entries of a valid cache file for `key`, or `None` (missing, damaged, another key).
fn read_entry(path: &Path, key: &str) -> Option<Vec<Entry>> {
    let bytes = std::fs::read(path).ok()?;
    let nl = memchr::memchr(b'\n', &bytes)?;
    let header = std::str::from_utf8(&bytes[..nl]).ok()?;
    let body = &bytes[nl + 1..];
    let mut parts = header.rsplitn(3, ' ');
    let (sum, k, format) = (parts.next()?, parts.next()?, parts.next()?);
    if format != FORMAT || k != key || sum != hex(&Sha256::digest(body)) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// Writes the entry through a temporary file renamed into place, then prunes old entries.
fn write_entry(dir: &Path, path: &Path, key: &str, entries: &[Entry]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let body = serde_json::to_vec(entries).map_err(std::io::Error::other)?;
    let mut tmp = tempfile_in(dir)?;
    writeln!(tmp.1, "{FORMAT} {key} {}", hex(&Sha256::digest(&body)))?;
    tmp.1.write_all(&body)?;
    tmp.1.sync_all()?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp.0);
    })?;
    prune(dir, path);
    Ok(())
}

/// A new file in `dir` with a name no other writer uses.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let p = dir.join(format!(".tmp-{}-{nanos}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)?;
    Ok((p, f))
}

/// Removes the oldest cache entries beyond [`KEEP`] (never `keep`).
fn prune(dir: &Path, keep: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXT) && p != keep)
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    entries.sort();
    let extra = entries.len().saturating_sub(KEEP - 1);
    for (_, p) in entries.into_iter().take(extra) {
        let _ = std::fs::remove_file(p);
    }
}

/// The default cache folder: `$XDG_CACHE_HOME/ctem/rules`, else `~/.cache/ctem/rules`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("ctem").join("rules"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "title: T\nid: r-1\nlogsource: {category: process_creation, product: windows}\n\
        detection:\n  sel:\n    Image|endswith: '\\evil.exe'\n    CommandLine|contains|all: [a, b]\n  condition: sel\n";

    fn ids(s: &RuleSet) -> Vec<(String, String, usize)> {
        s.rules
            .iter()
            .map(|r| {
                (
                    r.meta.id.clone(),
                    r.meta.path.clone(),
                    r.detection.field_names().len(),
                )
            })
            .collect()
    }

    fn load(rules: &Path, cache: &Path) -> (RuleSet, CacheUse) {
        RuleSet::load_dirs_cached(&[rules], &CompileOptions::default(), Some(cache)).expect("loads")
    }

    /// First run writes, second reads the same rule set; an edit, a damaged entry and a
    /// truncated one are each parsed again (and written again).
    #[test]
    fn cache_hits_and_recovers_from_stale_or_damaged_entries() {
        let rules = tempfile::tempdir().expect("tempdir");
        let cache = tempfile::tempdir().expect("tempdir");
        std::fs::write(rules.path().join("a.yml"), RULE).expect("write");
        std::fs::write(rules.path().join("bad.yml"), "title: [unclosed").expect("write");
        let (plain, used) =
            RuleSet::load_dirs_cached(&[rules.path()], &CompileOptions::default(), None)
                .expect("loads");
        assert_eq!(used, CacheUse::Off);
        let (first, used) = load(rules.path(), cache.path());
        assert_eq!(used, CacheUse::Written);
        let (second, used) = load(rules.path(), cache.path());
        assert_eq!(used, CacheUse::Hit);
        for s in [&first, &second] {
            assert_eq!(ids(s), ids(&plain));
            assert_eq!(s.report, plain.report);
        }
        assert_eq!(plain.report.unsupported.len(), 1);

        // a changed rule: another key, parsed again, and the new id is seen
        std::fs::write(rules.path().join("a.yml"), RULE.replace("r-1", "r-2")).expect("write");
        let (edited, used) = load(rules.path(), cache.path());
        assert_eq!(used, CacheUse::Written);
        assert_eq!(edited.rules[0].meta.id, "r-2");

        // damaged entries of the current key: a flipped byte, then a cut body
        let entry = std::fs::read_dir(cache.path())
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .expect("an entry");
        let good = std::fs::read(&entry).expect("read");
        let mut flipped = good.clone();
        let at = flipped.len() - 10;
        flipped[at] ^= 0x20;
        let cut = good[..good.len() / 2].to_vec();
        for bad in [flipped, cut, b"garbage".to_vec()] {
            std::fs::write(&entry, bad).expect("write");
            let (again, used) = load(rules.path(), cache.path());
            assert_eq!(used, CacheUse::Written);
            assert_eq!(ids(&again), ids(&edited));
            assert_eq!(std::fs::read(&entry).expect("read"), good);
        }
    }

    /// An unwritable cache folder loads the rules all the same.
    #[test]
    fn unwritable_cache_still_loads() {
        let rules = tempfile::tempdir().expect("tempdir");
        std::fs::write(rules.path().join("a.yml"), RULE).expect("write");
        let file = rules.path().join("a.yml");
        // a file where the folder should be: creating the folder fails
        let (set, used) = load(rules.path(), &file.join("cache"));
        assert_eq!(used, CacheUse::Unwritable);
        assert_eq!(set.rules.len(), 1);
    }

    /// Old entries beyond `KEEP` are removed when one is written.
    #[test]
    fn old_entries_are_pruned() {
        let rules = tempfile::tempdir().expect("tempdir");
        let cache = tempfile::tempdir().expect("tempdir");
        for i in 0..KEEP + 3 {
            std::fs::write(
                rules.path().join("a.yml"),
                RULE.replace("r-1", &format!("r-{i}")),
            )
            .expect("write");
            let (_, used) = load(rules.path(), cache.path());
            assert_eq!(used, CacheUse::Written);
        }
        let n = std::fs::read_dir(cache.path()).expect("dir").count();
        assert_eq!(n, KEEP);
    }
}
