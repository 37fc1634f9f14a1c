//! Hostile reports through the whole import: oversized fields are bounded before they reach
//! the store, and each is reported as a record issue.

use crate::common::{Env, trivy_fixture};

#[test]
fn an_oversized_trivy_title_is_stored_cut_once_with_an_issue() {
    let env = Env::new();
    let bytes = std::fs::read(trivy_fixture("alpine-310.json")).expect("read");
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    doc["Results"][0]["Vulnerabilities"][0]["Title"] = "T".repeat(8 << 20).into();
    let report = env.path("big-title.json");
    std::fs::write(&report, serde_json::to_vec(&doc).expect("json")).expect("write");
    let summary = env.json(&["import", "--json", &report.display().to_string()]);
    let issues = summary[0]["issues"].as_array().expect("issues");
    assert!(
        issues.iter().any(|i| i["message"]
            .as_str()
            .unwrap_or("")
            .contains("title of 8388608 bytes")),
        "{summary}"
    );
    let out = env.ok(&["exposures", "--status", "all", "--json"]);
    assert!(out.len() < 1 << 20, "listing of {} bytes", out.len());
    assert!(out.contains("[truncated by ctem]"));
    // the store holds the cut title, not 8 MiB of it (twice)
    let size = std::fs::metadata(env.path("ctem.db")).map_or(0, |m| m.len())
        + std::fs::metadata(env.path("ctem.db-wal")).map_or(0, |m| m.len());
    assert!(size < 4 << 20, "store of {size} bytes");
}
