//! Corpus-wide check over ../shared/fixtures (present in CI, absent in a fresh clone): every
//! file of the foundation formats' folders either imports into a real SQLite store or is
//! refused with a one-line error; nothing panics. Run by `.ci/run`.

use std::path::{Path, PathBuf};

use ctem_store::sqlite::SqliteStore;
use ctem_store::{ScanMeta, Store};

fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("CTEM_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    p.is_dir().then_some(p)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn import(store: &mut dyn Store, path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let format = ctem_ingest::detect(&bytes, name).map_err(|e| e.to_string())?;
    let mut session = store
        .begin_import(ScanMeta {
            tool: format.name.into(),
            format: format.name.into(),
            scope: None,
            file: path.display().to_string(),
            sha256: String::new(),
            imported_at: chrono::Utc::now(),
        })
        .map_err(|e| e.to_string())?;
    let mut input = bytes.as_slice();
    let mut store_err = None;
    let res = (format.parse)(&mut input, &mut |r| {
        session.record(r).map_err(|e| {
            store_err = Some(e);
            ctem_ingest::Error::Aborted
        })
    });
    if let Some(e) = store_err {
        return Err(format!("store: {e}"));
    }
    res.map_err(|e| format!("{} {e}", format.name))?;
    let s = session.commit().map_err(|e| e.to_string())?;
    Ok(format!("{} +{} exposures", format.name, s.exposures.new))
}

#[test]
fn every_foundation_fixture_imports_or_is_refused_clearly() {
    let Some(root) = shared() else {
        eprintln!("SKIPPED: ../shared/fixtures is absent (a fresh clone); CI runs this check");
        return;
    };
    let mut files = Vec::new();
    for d in [
        "scanners/nmap",
        "scanners/nessus-tenable",
        "scanners/trivy",
        "scanners/sarif",
        "assets/nmap",
    ] {
        walk(&root.join(d), &mut files);
    }
    files.sort();
    assert!(
        files.len() > 150,
        "corpus looks incomplete: {}",
        files.len()
    );
    let mut store = SqliteStore::in_memory().expect("store");
    let (mut ok, mut refused) = (0, 0);
    let mut must_import_failed = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| import(&mut store, f)));
        match outcome {
            Err(_) => panic!("{rel}: PANIC"),
            Ok(Ok(msg)) => {
                ok += 1;
                eprintln!("ok       {rel}: {msg}");
            }
            Ok(Err(msg)) => {
                refused += 1;
                assert!(
                    !msg.trim().is_empty() && !msg.contains('\n'),
                    "{rel}: error must be one clear line: {msg:?}"
                );
                eprintln!("refused  {rel}: {msg}");
                let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
                // real reports of the four foundation formats must import
                let must = ext == "nessus"
                    || (ext == "sarif" && !rel.contains("ExceptionalConditions"))
                    || (rel.starts_with("scanners/nmap") && ext == "xml")
                    || rel.contains("defectdojo-trivy/");
                if must {
                    must_import_failed.push(format!("{rel}: {msg}"));
                }
            }
        }
    }
    eprintln!("{ok} imported, {refused} refused, of {}", files.len());
    assert!(
        must_import_failed.is_empty(),
        "reports that must import: {must_import_failed:#?}"
    );
}
