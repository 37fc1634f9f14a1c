//! Writes a synthetic Trivy Kubernetes report for benchmarks:
//! `gen_trivy VULNS ASSETS OUT.json` (see benches/common/trivy_gen.rs).

// a benchmark helper printing its figures: the broken-pipe rule of the binary does not apply
#![allow(clippy::disallowed_macros)]

use std::io::BufWriter;

#[path = "../benches/common/trivy_gen.rs"]
mod trivy_gen;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: gen_trivy VULNS ASSETS OUT.json");
        std::process::exit(2);
    }
    let vulns: usize = args[1].parse().expect("VULNS is a number");
    let assets: usize = args[2].parse().expect("ASSETS is a number");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&args[3])?);
    trivy_gen::write_report(&mut w, vulns, assets)
}
