//! Fuzzes the CVSS vector parser and scorer of ctem-risk: any input either fails with an
//! error or gives scores within 0-10 that serialise; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = ctem_risk::Cvss::parse(text) else {
        return;
    };
    let overall = parsed.overall_score();
    assert!((0.0..=10.0).contains(&overall), "{text}: {overall}");
    if let Ok(s) = ctem_risk::score(text) {
        assert!((0.0..=10.0).contains(&s.base_score), "{text}");
        for v in [s.temporal_score, s.environmental_score, s.score].into_iter().flatten() {
            assert!((0.0..=10.0).contains(&v), "{text}: {v}");
        }
        // The JSON of `ctem cvss --json` must always be producible.
        let _ = format!("{s:?}");
    }
});
