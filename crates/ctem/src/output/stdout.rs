//! The one way to standard output. Rust ignores SIGPIPE, so a reader that goes away
//! (`ctem alerts | head -1`) turns the next write into an `EPIPE` error, and `println!`
//! panics on it. Every write of ctem goes through [`write_fmt`] (the `out!` / `outln!`
//! macros) or a [`Stdout`] buffer instead; a broken pipe ends the process quietly with exit 0,
//! as ripgrep does, and any other write error ends it with a one-line error and exit 1.
//! `clippy.toml` of this crate forbids `print!` and `println!`, so the class cannot come back.

use std::io::{BufWriter, ErrorKind, StdoutLock, Write};

/// Whether a write error means the reader went away (also when serde_json wrapped it).
fn is_pipe(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::BrokenPipe
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<serde_json::Error>())
            .and_then(serde_json::Error::io_error_kind)
            == Some(ErrorKind::BrokenPipe)
}

/// Ends the process after a failed write to stdout: quietly when the reader went away.
pub fn fail(e: &std::io::Error) -> ! {
    if is_pipe(e) {
        std::process::exit(0);
    }
    eprintln!("error: writing to standard output: {e}");
    std::process::exit(1);
}

/// Whether an error (anywhere in its chain) is a closed stdout pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(is_pipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(ErrorKind::BrokenPipe)
    })
}

/// Writes formatted text to stdout (what `out!` and `outln!` expand to).
pub fn write_fmt(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        fail(&e);
    }
}

/// A buffered, locked stdout for output written in many small pieces (JSON listings,
/// long tables). Flushed on [`Stdout::finish`] and when dropped.
pub struct Stdout {
    inner: BufWriter<StdoutLock<'static>>,
}

impl Stdout {
    pub fn new() -> Self {
        Stdout {
            inner: BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()),
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        if let Err(e) = self.inner.write_all(b) {
            fail(&e);
        }
    }

    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// One value as compact JSON.
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, v: &T) {
        if let Err(e) = serde_json::to_writer(&mut self.inner, v) {
            match e.io_error_kind() {
                Some(_) => fail(&std::io::Error::from(e)),
                // a value serde cannot write is a bug of ours, not of the input
                None => {
                    eprintln!("error: cannot write JSON: {e}");
                    std::process::exit(1);
                }
            }
        }
    }

    pub fn flush(&mut self) {
        if let Err(e) = self.inner.flush() {
            fail(&e);
        }
    }

    pub fn finish(mut self) {
        self.flush();
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        // a panic unwinding through here must not turn into a second one
        if !std::thread::panicking() {
            self.flush();
        }
    }
}

/// `print!` through the one stdout writer.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::output::stdout::write_fmt(format_args!($($t)*))
    };
}

/// `println!` through the one stdout writer.
macro_rules! outln {
    () => {
        $crate::output::stdout::write_fmt(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::output::stdout::write_fmt(format_args!("{}\n", format_args!($($t)*)))
    };
}
