#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ctem_intel::stix::parse_stix(data, "fuzz");
});
