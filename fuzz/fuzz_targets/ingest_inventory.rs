#![no_main]

//! The `inventory` parser over arbitrary bytes: any outcome but a panic (or a hang) is fine;
//! the probe runs too, as `--format auto` would.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format = ctem_ingest::by_name("inventory").expect("registered");
    let _ = (format.probe)(data, "fuzz");
    let _ = ctem_ingest::parse_bytes(format, data);
});
