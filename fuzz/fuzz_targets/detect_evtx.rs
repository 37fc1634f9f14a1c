//! EVTX decoding must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ctem_detect::decode::decode_bytes(data.to_vec(), ctem_detect::decode::Format::Evtx, None).map(|r| r.count());
});
