//! JSON lines / arrays / Suricata / Zeek decoding (and gzip sniffing) must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(recs) = ctem_detect::decode::decode_bytes(data.to_vec(), ctem_detect::decode::Format::Jsonl, None) {
        for r in recs.flatten() {
            let _ = ctem_detect::decode::source_alert(&r);
        }
    }
});
