//! Reading what users hand to ctem: files, standard input (`-`), gzip (recognised by its
//! magic bytes, whatever the name) and folders (walked recursively, in sorted order, a
//! symbolic link to a folder followed at most once).
//!
//! Everything decompressed or read from a pipe is bounded ([`Limits`], the `[input]`
//! section of ctem.toml): past the cap the read fails with an error naming the cap and the
//! setting, so a gzip bomb costs at most the cap in time and never the cap in memory.
//! Scanner reports from a pipe or a gzip are spooled to a temporary file first
//! ([`Spooled`]): the import then takes the same path as a plain file (format detection,
//! memory map with pages released behind the parser), so memory does not grow with the
//! input. Threat-intel files are parsed in memory, so their cap is smaller.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const MIB: u64 = 1 << 20;

/// `[input]` of ctem.toml (`ctem_core::settings::InputConfig`, docs/config.md): caps on
/// what one input may expand to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Scanner reports and event files: the most a gzip or standard input may expand to
    /// (MiB). Spooled to disk, so this bounds time and disk, not memory.
    pub max_decompressed_mb: u64,
    /// Threat-intel files, which are parsed in memory: the most one may be or expand to
    /// (MiB).
    pub max_intel_mb: u64,
    /// Line-based event formats (`detect`): the longest line kept (KiB).
    pub max_line_kb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_settings(&ctem_core::settings::InputConfig::default())
    }
}

impl Limits {
    /// The caps of the validated settings (each at least 1).
    pub fn from_settings(input: &ctem_core::settings::InputSettings) -> Self {
        Limits {
            max_decompressed_mb: input.max_decompressed_mb,
            max_intel_mb: input.max_intel_mb,
            max_line_kb: input.max_line_kb,
        }
    }

    /// The caps as the core's pipelines take them.
    pub fn settings(&self) -> ctem_core::settings::InputSettings {
        ctem_core::settings::InputSettings {
            max_decompressed_mb: self.max_decompressed_mb,
            max_intel_mb: self.max_intel_mb,
            max_line_kb: self.max_line_kb,
        }
    }

    pub fn max_line(&self) -> usize {
        usize::try_from(self.max_line_kb.saturating_mul(1024)).unwrap_or(usize::MAX)
    }
}

/// One input named on the command line, or found in a folder named there.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    /// Found by walking a folder (not named itself): callers skip what they cannot read
    /// instead of failing.
    pub in_folder: bool,
}

impl Source {
    pub fn label(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "-".to_string(),
        }
    }

    /// The name format detection sees: the path without a `.gz` suffix.
    pub fn detect_name(&self) -> String {
        // the whole path is the hint: a body with no format of its own (an empty file,
        // `null`, `[]`) is known by the tool a folder or the file name names
        let name = self
            .path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.strip_suffix(".gz") {
            Some(n) => n.to_string(),
            None => name,
        }
    }
}

/// The inputs named by `args`: `-` is standard input (once), folders are walked.
pub fn expand(args: &[PathBuf]) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    let mut seen_dirs = HashSet::new();
    let mut stdin = false;
    for a in args {
        if a.as_os_str() == "-" {
            if stdin {
                bail!("-: standard input can be read only once");
            }
            stdin = true;
            out.push(Source {
                path: None,
                in_folder: false,
            });
            continue;
        }
        let meta = std::fs::metadata(a).with_context(|| format!("{}: cannot open", a.display()))?;
        if meta.is_dir() {
            walk(a, &mut seen_dirs, &mut out)?;
        } else {
            out.push(Source {
                path: Some(a.clone()),
                in_folder: false,
            });
        }
    }
    Ok(out)
}

/// Adds the files under `dir`, sorted, recursively. A folder reached twice (through a
/// symbolic link, or a loop of them) is walked only the first time.
fn walk(dir: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<Source>) -> Result<()> {
    let real = std::fs::canonicalize(dir).with_context(|| dir.display().to_string())?;
    if !seen.insert(real) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read the folder", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("{}: cannot read the folder", dir.display()))?;
    entries.sort();
    for p in entries {
        // metadata follows links; a dangling link is skipped like any unreadable entry
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, seen, out)?,
            Ok(m) if m.is_file() => out.push(Source {
                path: Some(p),
                in_folder: true,
            }),
            Ok(_) => {}
            Err(e) => eprintln!("warning: {}: skipped: {e}", p.display()),
        }
    }
    Ok(())
}

pub use ctem_core::intel::{Capped, is_gzip};

/// A source opened for reading: gzip inflated, pipes and gzip capped at `cap_mb`.
/// Returns the reader and whether it is a plain file (neither stdin nor gzip).
pub fn open(
    src: &Source,
    cap_mb: u64,
    setting: &'static str,
) -> Result<(Box<dyn BufRead + Send>, bool)> {
    let raw: Box<dyn Read + Send> = match &src.path {
        Some(p) => Box::new(File::open(p).context("cannot open")?),
        None => Box::new(std::io::stdin()),
    };
    let mut br = BufReader::with_capacity(1 << 16, raw);
    let gz = is_gzip(br.fill_buf().context("read")?);
    Ok(match (gz, src.path.is_some()) {
        (true, _) => open_gzip(br, cap_mb, setting),
        (false, true) => (Box::new(br), true),
        (false, false) => (
            Box::new(BufReader::new(Capped::new(br, cap_mb, setting))),
            false,
        ),
    })
}

fn open_gzip<R: BufRead + Send + 'static>(
    compressed: R,
    cap_mb: u64,
    setting: &'static str,
) -> (Box<dyn BufRead + Send>, bool) {
    let inflated = flate2::bufread::MultiGzDecoder::new(compressed);
    let capped = Capped::new(inflated, cap_mb, setting);
    (Box::new(BufReader::with_capacity(1 << 16, capped)), false)
}

/// An event file (or `-`) for `detect`: gzip inflated and capped, and, unless the content
/// is EVTX (named, or seen in the first bytes), lines capped at `limits.max_line_kb`.
pub fn open_events(
    path: &Path,
    format: ctem_detect::decode::Format,
    limits: &Limits,
    label: &str,
) -> Result<Box<dyn BufRead + Send>> {
    use ctem_detect::decode::{self, Format};
    let src = Source {
        path: (path.as_os_str() != "-").then(|| path.to_path_buf()),
        in_folder: false,
    };
    let (mut reader, _) = if src.path.is_none() {
        // standard input may be an endless stream: only a gzip on it is capped
        let mut br = BufReader::with_capacity(1 << 16, std::io::stdin());
        if is_gzip(br.fill_buf().context("stdin")?) {
            open_gzip(br, limits.max_decompressed_mb, "max_decompressed_mb")
        } else {
            (Box::new(br) as Box<dyn BufRead + Send>, false)
        }
    } else {
        open(&src, limits.max_decompressed_mb, "max_decompressed_mb")
            .with_context(|| path.display().to_string())?
    };
    let head = reader
        .fill_buf()
        .with_context(|| path.display().to_string())?;
    let evtx = match format {
        Format::Auto => decode::sniff(head) == Format::Evtx,
        f => f == Format::Evtx,
    };
    if evtx {
        return Ok(reader);
    }
    Ok(Box::new(LineCapped::new(
        reader,
        limits.max_line(),
        label.to_string(),
    )))
}

/// The whole content of a threat-intel input, inflated, at most `limits.max_intel_mb`.
pub fn read_intel(src: &Source, limits: &Limits) -> Result<Vec<u8>> {
    let (reader, plain) = open(src, limits.max_intel_mb, "max_intel_mb")?;
    // a plain file is capped too: it is held in memory
    let cap = limits.max_intel_mb.saturating_mul(MIB).saturating_add(1);
    let want = match (&src.path, plain) {
        (Some(p), true) => std::fs::metadata(p).map_or(cap, |m| m.len().saturating_add(1).min(cap)),
        _ => cap,
    };
    // room for the whole input at once: a growing Vec would copy itself and briefly need
    // twice the memory; pages never written are never resident
    let mut bytes = Vec::new();
    let _ = bytes.try_reserve_exact(usize::try_from(want).unwrap_or(usize::MAX));
    Capped::new(reader, limits.max_intel_mb, "max_intel_mb")
        .read_to_end(&mut bytes)
        .context("read")?;
    Ok(bytes)
}

/// A scanner report ready for the import: the file itself, or a temporary copy of what a
/// pipe or a gzip held. The copy is deleted when this is dropped.
pub struct Spooled {
    pub file: File,
    _temp: Option<tempfile::TempPath>,
}

/// Opens `src` for an import; `check_head` sees the first bytes (decompressed) before
/// anything is spooled, so input of an unknown shape fails before it is copied.
pub fn spool(
    src: &Source,
    limits: &Limits,
    check_head: impl FnOnce(&[u8]) -> Result<()>,
) -> Result<Spooled> {
    let (mut reader, plain) = open(src, limits.max_decompressed_mb, "max_decompressed_mb")?;
    let mut head = Vec::with_capacity(ctem_ingest::PROBE_BYTES);
    (&mut reader)
        .take(ctem_ingest::PROBE_BYTES as u64)
        .read_to_end(&mut head)
        .context("read")?;
    check_head(&head)?;
    if plain {
        let file =
            File::open(src.path.as_deref().unwrap_or(Path::new("-"))).context("cannot open")?;
        return Ok(Spooled { file, _temp: None });
    }
    let temp = tempfile::NamedTempFile::new().context("creating a temporary file")?;
    let (mut file, path) = temp.into_parts();
    file.write_all(&head).context("spooling")?;
    std::io::copy(&mut reader, &mut file).context("read")?;
    file.flush().context("spooling")?;
    let file = File::open(&path).context("reopening the spooled copy")?;
    Ok(Spooled {
        file,
        _temp: Some(path),
    })
}

/// A line-based reader that never hands out a line longer than `max` bytes: a longer one is
/// dropped (its bytes are discarded as they come, never held) and replaced by an empty
/// line, so line numbers stay right; each is reported on stderr (the first ten of them).
/// Whole lines are handed out as they arrive, so a pipe is read with no added latency.
pub struct LineCapped<R> {
    inner: R,
    max: usize,
    /// `[pos..ready]` is complete lines to hand out; `[ready..]` the start of the next line.
    buf: Vec<u8>,
    pos: usize,
    ready: usize,
    /// The line being read is longer than `max`: its bytes are skipped up to its end.
    overlong: bool,
    eof: bool,
    line: u64,
    label: String,
    pub skipped: u64,
}

impl<R: BufRead> LineCapped<R> {
    pub fn new(inner: R, max: usize, label: String) -> Self {
        LineCapped {
            inner,
            max,
            buf: Vec::new(),
            pos: 0,
            ready: 0,
            overlong: false,
            eof: false,
            line: 0,
            label,
            skipped: 0,
        }
    }

    /// Reads one chunk of the inner reader into `buf`; false at its end.
    fn read_chunk(&mut self) -> std::io::Result<bool> {
        let Self {
            inner,
            max,
            buf,
            ready,
            overlong,
            line,
            label,
            skipped,
            ..
        } = self;
        let avail = inner.fill_buf()?;
        let n = avail.len();
        if n == 0 {
            return Ok(false);
        }
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', avail) {
            let seg = &avail[start..=i];
            if *overlong || buf.len() - *ready + seg.len() > *max + 1 {
                *overlong = false;
                drop_line(buf, *ready, skipped, *line, label, *max);
            } else {
                buf.extend_from_slice(seg);
            }
            *line += 1;
            *ready = buf.len();
            start = i + 1;
        }
        let tail = &avail[start..];
        if !*overlong {
            if buf.len() - *ready + tail.len() > *max {
                *overlong = true;
                buf.truncate(*ready);
            } else {
                buf.extend_from_slice(tail);
            }
        }
        inner.consume(n);
        Ok(true)
    }
}

/// Ends line `line + 1` as an overlong one: an empty line takes its place in `buf`.
fn drop_line(
    buf: &mut Vec<u8>,
    ready: usize,
    skipped: &mut u64,
    line: u64,
    label: &str,
    max: usize,
) {
    buf.truncate(ready);
    buf.push(b'\n');
    *skipped += 1;
    if *skipped <= 10 {
        eprintln!(
            "{label}: line {}: longer than {} KiB (the cap is [input] max_line_kb in ctem.toml): \
             skipped",
            line + 1,
            max / 1024
        );
    }
}

impl<R: BufRead> Read for LineCapped<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCapped<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos >= self.ready && !self.eof {
            self.buf.drain(..self.ready);
            self.pos = 0;
            self.ready = 0;
            if !self.read_chunk()? {
                self.eof = true;
                // the last line, without a newline
                if self.overlong {
                    self.overlong = false;
                    drop_line(
                        &mut self.buf,
                        self.ready,
                        &mut self.skipped,
                        self.line,
                        &self.label,
                        self.max,
                    );
                    self.line += 1;
                } else if !self.buf.is_empty() {
                    self.line += 1;
                }
                self.ready = self.buf.len();
            }
        }
        Ok(&self.buf[self.pos..self.ready])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_reads_up_to_the_cap_and_fails_past_it() {
        let data = vec![b'x'; 2 * MIB as usize];
        let mut ok = Vec::new();
        Capped::new(&data[..], 2, "max")
            .read_to_end(&mut ok)
            .expect("exactly the cap");
        assert_eq!(ok.len(), data.len());
        let mut v = Vec::new();
        let e = Capped::new(&data[..], 1, "max_decompressed_mb")
            .read_to_end(&mut v)
            .expect_err("past the cap");
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        assert!(e.to_string().contains("max_decompressed_mb"), "{e}");
    }

    #[test]
    fn overlong_lines_become_empty_lines_and_the_rest_is_kept() {
        let long = "y".repeat(5000);
        let text = format!("a\n{long}\nb\nc");
        let mut r = LineCapped::new(
            BufReader::with_capacity(16, text.as_bytes()),
            100,
            "t".into(),
        );
        let mut out = String::new();
        r.read_to_string(&mut out).expect("read");
        assert_eq!(out, "a\n\nb\nc");
        assert_eq!(r.skipped, 1);
        let lines: Vec<String> = LineCapped::new(text.as_bytes(), 4096, "t".into())
            .lines()
            .map(|l| l.expect("line"))
            .collect();
        assert_eq!(lines, ["a", "", "b", "c"]);
    }

    #[test]
    fn folders_are_walked_sorted_and_a_link_loop_once() {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(d.path().join("b/sub")).expect("mkdir");
        std::fs::write(d.path().join("b/sub/z.json"), "{}").expect("write");
        std::fs::write(d.path().join("b/a.json"), "{}").expect("write");
        std::fs::write(d.path().join("c.json"), "{}").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.path(), d.path().join("b/sub/loop")).expect("link");
        let got = expand(&[d.path().to_path_buf()]).expect("walk");
        let names: Vec<String> = got
            .iter()
            .map(|s| {
                s.path
                    .as_ref()
                    .and_then(|p| p.strip_prefix(d.path()).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names, ["b/a.json", "b/sub/z.json", "c.json"]);
        assert!(got.iter().all(|s| s.in_folder));
    }
}
