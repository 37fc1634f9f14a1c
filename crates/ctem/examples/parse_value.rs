//! The baseline of the import benchmark: reads a file and parses it with
//! `serde_json::from_slice` into a `serde_json::Value`, nothing more. Prints seconds.

// a benchmark helper printing its figures: the broken-pipe rule of the binary does not apply
#![allow(clippy::disallowed_macros)]

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_value FILE");
    let start = std::time::Instant::now();
    let bytes = std::fs::read(&path).expect("read");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(&v);
    println!("{secs:.3}");
}
