//! Integration tests of ctem-intel on real files (tests/fixtures, see its README).

mod attack;
mod cve;
mod epss;
mod iocs;
mod kev;
mod stix;

use std::path::PathBuf;

/// Bytes of a file under tests/fixtures.
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
