//! `ctem`: the command line. Thin: parses arguments, opens files and the store, calls the
//! library crates, prints. The command-line contract is ../shared/CLI.md.
//!
//! Exit codes: 0 success (also when the reader of stdout went away: `ctem alerts | head`),
//! 1 the work failed (one line on stderr), 2 usage error (clap), 3 is kept for gates.

#[macro_use]
mod output;
mod cli;
mod cmd;
mod input;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: an import allocates records on the parser
/// thread and frees them on the writer thread, which glibc's malloc handles slowly.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) if output::stdout::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // one line: the context chain joined, safe for a terminal
            eprintln!("error: {}", output::printable(&output::chain(&e), 4096));
            ExitCode::from(1)
        }
    }
}
