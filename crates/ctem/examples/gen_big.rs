//! Writes a large synthetic report for the streaming benchmarks:
//! `gen_big grype MEGABYTES OUT.json` or `gen_big nessus MEGABYTES HOSTS OUT.nessus`.
//! Prints the number of findings written.

// a benchmark helper printing its figures: the broken-pipe rule of the binary does not apply
#![allow(clippy::disallowed_macros)]

use std::io::BufWriter;

#[path = "../benches/common/big_gen.rs"]
mod big_gen;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: gen_big grype MB OUT | gen_big nessus MB HOSTS OUT");
        std::process::exit(2)
    };
    let mb: u64 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage());
    let n = match args.get(1).map(String::as_str) {
        Some("grype") if args.len() == 4 => {
            let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[3])?);
            big_gen::grype(&mut w, mb << 20)?
        }
        Some("nessus") if args.len() == 5 => {
            let hosts: u64 = args[3].parse().unwrap_or_else(|_| usage());
            let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[4])?);
            big_gen::nessus(&mut w, mb << 20, hosts)?
        }
        _ => usage(),
    };
    println!("{n}");
    Ok(())
}
