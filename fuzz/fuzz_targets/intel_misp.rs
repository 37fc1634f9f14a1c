#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ctem_intel::misp::parse_misp(data, "fuzz");
    let _ = ctem_intel::misp::parse_manifest(data);
});
