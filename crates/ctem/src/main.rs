//! `ctem`: the command line. Thin: parses arguments, opens files and the store, calls the
//! library crates, prints. The command-line contract is ../shared/CLI.md.

mod cli;
mod cmd;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // one line: the context chain joined
            let msg = e
                .chain()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}
