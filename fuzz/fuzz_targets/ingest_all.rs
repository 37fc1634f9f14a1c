#![no_main]

//! Detection and every registered parser over the same bytes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = ctem_ingest::detect(data, "fuzz") {
        let _ = ctem_ingest::parse_bytes(f, data);
    }
    for f in ctem_ingest::REGISTRY {
        let _ = ctem_ingest::parse_bytes(f, data);
    }
});
