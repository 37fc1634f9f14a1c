//! `ctem`: the command line. Thin: parses arguments, opens files and the store, calls the
//! library crates, prints. The command-line contract is ../shared/CLI.md.

mod cli;
mod cmd;
mod output;

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
        Err(e) => {
            // one line: the context chain joined, secrets in URLs masked
            eprintln!("error: {}", output::chain(&e));
            ExitCode::from(1)
        }
    }
}
