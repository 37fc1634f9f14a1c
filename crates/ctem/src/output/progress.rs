//! Progress of long jobs (imports, detection, intel, prioritisation) on stderr, never on
//! stdout, and hidden when stderr is not a terminal so logs and pipes stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

fn shown() -> bool {
    std::io::stderr().is_terminal()
}

fn styled(pb: ProgressBar, template: &str, msg: String) -> ProgressBar {
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg);
    pb
}

/// A bar over `total` bytes.
pub fn bytes(total: u64, msg: String) -> ProgressBar {
    if !shown() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    styled(
        pb,
        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        msg,
    )
}

/// A bar over `total` items (files, feeds).
pub fn items(total: u64, msg: String) -> ProgressBar {
    if !shown() || total < 2 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    styled(pb, "{msg} [{bar:30}] {pos}/{len}", msg)
}

/// A spinner for a job of unknown length; `{pos}` counts what the caller reports with `inc`.
pub fn spinner(msg: String) -> ProgressBar {
    if !shown() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    styled(pb, "{spinner} {msg} {elapsed}", msg)
}

/// A reader that shows how much of an input was read (a spinner with bytes and rate: a pipe
/// or a gzip has no known length).
pub struct Reading<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: std::io::BufRead> Reading<R> {
    pub fn new(inner: R, label: &str) -> Self {
        let bar = if shown() {
            let pb = ProgressBar::new_spinner();
            pb.enable_steady_tick(Duration::from_millis(120));
            styled(
                pb,
                "{spinner} {msg} {bytes} read ({bytes_per_sec}) {elapsed}",
                format!("detecting in {label}:"),
            )
        } else {
            ProgressBar::hidden()
        };
        Reading { inner, bar }
    }
}

impl<R> Drop for Reading<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl<R: std::io::BufRead> std::io::Read for Reading<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for Reading<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.bar.inc(n as u64);
        self.inner.consume(n);
    }
}
