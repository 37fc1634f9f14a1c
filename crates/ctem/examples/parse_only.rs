//! Benchmark helper: runs a registered parser over a file with a no-op record sink, to split
//! import time into parsing and storing. `parse_only FORMAT FILE`; prints seconds and records.

// a benchmark helper printing its figures: the broken-pipe rule of the binary does not apply
#![allow(clippy::disallowed_macros)]

use std::io::BufReader;

fn main() {
    let mut args = std::env::args().skip(1);
    let (fmt, path) = match (args.next(), args.next()) {
        (Some(f), Some(p)) => (f, p),
        _ => {
            eprintln!("usage: parse_only FORMAT FILE");
            std::process::exit(2);
        }
    };
    let format = ctem_ingest::by_name(&fmt).expect("format");
    let start = std::time::Instant::now();
    let file = std::fs::File::open(&path).expect("open");
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let mut n = 0u64;
    (format.parse)(&mut r, &mut |rec| {
        std::hint::black_box(&rec);
        n += 1;
        Ok(())
    })
    .expect("parse");
    println!("{:.3} s, {n} records", start.elapsed().as_secs_f64());
}
