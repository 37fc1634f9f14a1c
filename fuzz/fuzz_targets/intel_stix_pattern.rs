#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(p) = ctem_intel::stix::pattern::parse_pattern(s)
    {
        let _ = ctem_intel::stix::pattern::simple_iocs(&p);
    }
});
