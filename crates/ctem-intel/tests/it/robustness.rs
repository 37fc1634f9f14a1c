//! Deterministic mutation smoke test (the fuzz targets in /fuzz do the real thing): every
//! fixture, truncated and with bytes flipped, goes through every importer; any panic fails.

use crate::fixture;
use ctem_intel::{attack, cve, epss, iocs, kev, kind, misp, stix};

const FILES: [&str; 8] = [
    "kev/valid-catalog-1.json",
    "epss/example-1.csv",
    "stix/poisonivy.json",
    "stix/sighting-of-observed-data.json",
    "misp/event_obj_attr_tag.json",
    "iocs/valid_fieldnames.csv",
    "cve5/CVE-2024-3094.json",
    "nvd/CVE-2014-1424.json",
];

fn all_parsers(data: &[u8]) {
    let _ = kev::parse_kev(data);
    let _ = epss::parse_epss(data);
    let _ = attack::parse_attack(data);
    let _ = stix::parse_stix(data, "m");
    let _ = misp::parse_misp(data, "m");
    let _ = misp::parse_manifest(data);
    let _ = iocs::parse_iocs(data, "m");
    let _ = cve::parse_cve(data);
    let _ = kind::import(None, data, "m");
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(p) = stix::pattern::parse_pattern(s)
    {
        let _ = stix::pattern::simple_iocs(&p);
    }
}

#[test]
fn truncated_and_flipped_fixtures_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for f in FILES {
        let data = fixture(f);
        for k in 1..=12 {
            all_parsers(&data[..data.len() * k / 13]);
        }
        for _ in 0..12 {
            let mut m = data.clone();
            for _ in 0..4 {
                let at = (next() as usize) % m.len().max(1);
                if let Some(b) = m.get_mut(at) {
                    *b = b"[]{}\"',:\\0AZ \n\x1f\x8b\xff"[(next() % 17) as usize];
                }
            }
            all_parsers(&m);
        }
    }
}

#[test]
fn hostile_patterns_are_errors_not_panics() {
    for src in [
        "[".repeat(10_000),
        "(".repeat(10_000),
        format!("[a:b = '{}", "\\".repeat(3)),
        "[a:b = 99999999999999999999999]".to_string(),
        "[a:b[99999999999999999999] = 1]".to_string(),
        "[a:\u{e9} = 'x']".to_string(),
        "[a:b = t'nope'] START t'x' STOP t'y'".to_string(),
    ] {
        let _ = stix::pattern::parse_pattern(&src);
    }
}
