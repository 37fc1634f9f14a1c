//! `ctem demo`: a fresh store from the bundled sample environment (examples/demo), every
//! stage run on it, the headline findings printed.

use ctem_core::Settings;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ctem_model::Severity;
use ctem_store::{AssetFilter, ExposureFilter};

use super::import::{self, Options};

/// The sample environment, compiled in so the binary runs the demo from anywhere. Order
/// matters: the nmap scan of testphp comes first, the Nessus scan of the same host merges
/// into it; the inventory comes last and enriches what the scanners found.
const FILES: &[(&str, &[u8])] = &[
    (
        "nmap-testphp.xml",
        include_bytes!("../../../../examples/demo/nmap-testphp.xml"),
    ),
    (
        "testphp.nessus",
        include_bytes!("../../../../examples/demo/testphp.nessus"),
    ),
    (
        "nmap-vulners.xml",
        include_bytes!("../../../../examples/demo/nmap-vulners.xml"),
    ),
    (
        "trivy-alpine-310.json",
        include_bytes!("../../../../examples/demo/trivy-alpine-310.json"),
    ),
    (
        "semgrep-taint.sarif",
        include_bytes!("../../../../examples/demo/semgrep-taint.sarif"),
    ),
    (
        "cyclonedx-log4j.json",
        include_bytes!("../../../../examples/demo/cyclonedx-log4j.json"),
    ),
    // the CMDB's view, last: it enriches the scanned assets (the log4j application is the
    // crown jewel) and adds a database no scanner has seen
    (
        "inventory.csv",
        include_bytes!("../../../../examples/demo/inventory.csv"),
    ),
];

/// The folder of a demo run without `--dir`.
pub fn default_dir() -> PathBuf {
    PathBuf::from(format!(
        "demo-{}",
        chrono::Local::now().format("%Y%m%d-%H%M%S")
    ))
}

pub fn run(dir: Option<PathBuf>, settings: &Settings) -> Result<ExitCode> {
    let dir = dir.unwrap_or_else(default_dir);
    let db = dir.join("ctem.db");
    // a PostgreSQL store given by --db (or [store] url) is used, if it is empty; else the
    // demo's own SQLite store in the folder
    let postgres = ctem_store::is_postgres(&settings.store.url);
    if !postgres && db.exists() {
        bail!(
            "{} already exists: the demo builds a fresh store; pick another --dir",
            db.display()
        );
    }
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).with_context(|| format!("create {}", reports.display()))?;
    let mut paths = Vec::new();
    for (name, bytes) in FILES {
        let p = reports.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("write {}", p.display()))?;
        paths.push(p);
    }
    // the demo's own store, with the rest of the settings as given
    let mut settings = settings.clone();
    if !postgres {
        settings.store.url = db.display().to_string();
    }
    // the URL as the next commands name it: runnable as pasted unless it holds a password
    let raw = &settings.store.url;
    let userinfo = raw.split_once("://").and_then(|(_, r)| r.split_once('@'));
    let url = match userinfo {
        Some((user, _)) if user.contains(':') => ctem_model::redact::url(raw),
        _ => raw.clone(),
    };
    let mut store = super::open_store(&settings)?;
    if postgres && !store.scans()?.is_empty() {
        bail!(
            "{url} already holds scans: the demo builds a fresh store; name an empty \
             database or schema (?schema=NAME)"
        );
    }
    outln!("ctem demo: a fresh store in {url}\n");
    outln!(
        "1. ingest: {} reports from 5 tools and an asset inventory",
        paths.len()
    );
    let opts = Options {
        format: "auto".into(),
        scope: None,
        strict: false,
        progress: false,
        limits: crate::input::Limits::from_settings(&settings.input),
        vantage: ctem_core::settings::Vantage::Internal,
    };
    super::risk::demo_setup(store.as_mut())?;
    let results = import::import_files(store.as_mut(), &paths, &opts, &settings.risk);
    for r in &results {
        match &r.outcome {
            Ok(s) => import::print_summary(s),
            Err(e) => bail!("demo import failed: {}", crate::output::chain(e)),
        }
    }

    let assets = store.assets(&AssetFilter::default())?;
    outln!("\n2. inventory: {} assets", assets.len());
    for a in &assets {
        let ids: Vec<_> = a
            .asset
            .identifiers_by_strength()
            .iter()
            .map(|i| format!("{}={}", i.kind.as_str(), i.value))
            .collect();
        let context = match a.asset.criticality {
            Some(c) if a.never_scanned => format!(", criticality {c}, never scanned"),
            Some(c) => format!(", criticality {c}"),
            None => String::new(),
        };
        outln!(
            "   #{} {} {} ({} services, {} open exposures{context}) [{}]",
            a.asset.id.unwrap_or_default(),
            a.asset.kind.as_str(),
            crate::output::cut(&a.asset.name, 60),
            a.services,
            a.open_exposures,
            crate::output::cut(&ids.join(" "), 70)
        );
    }
    if let Some(merged) = assets.iter().find(|a| a.asset.name.contains("testphp")) {
        let id = merged.asset.id.unwrap_or_default();
        let ex = store.exposures(&ExposureFilter {
            asset: Some(id.to_string()),
            ..ExposureFilter::default()
        })?;
        let mut tools: Vec<String> = Vec::new();
        for e in &ex {
            for s in store.exposure_sources(e.id.unwrap_or_default())? {
                if !tools.contains(&s.tool) {
                    tools.push(s.tool);
                }
            }
        }
        outln!(
            "   nmap and nessus saw {} as one asset (#{id}): {} exposures reported by {}",
            merged.asset.name,
            ex.len(),
            tools.join(" and ")
        );
    }

    let open = store.exposures(&ExposureFilter::default())?;
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for e in &open {
        *by_sev.entry(e.severity).or_default() += 1;
    }
    let sev: Vec<String> = by_sev
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    outln!("\n3. exposures: {} open ({})", open.len(), sev.join(", "));
    outln!("   most severe:");
    for e in open.iter().take(8) {
        outln!(
            "   #{:<4} {:<8} {:<16} {}",
            e.id.unwrap_or_default(),
            e.severity.as_str(),
            e.primary_id().unwrap_or(""),
            crate::output::cut(&e.title, 70)
        );
    }
    super::intel::demo(store.as_mut(), &dir)?;
    super::risk::demo(store.as_mut(), &settings.risk)?;
    super::paths::demo(store.as_ref(), &dir)?;
    drop(store);
    super::demo_measure::run(&settings, &dir, 9)?;
    // one command a line, each runnable as it is pasted (a real exposure id, no pipes)
    let most_severe = open.first().and_then(|e| e.id).unwrap_or(1);
    outln!("\nnext:");
    for c in [
        "exposures --severity high".to_string(),
        format!("exposure {most_severe}"),
        format!("explain {most_severe}"),
        "assets".to_string(),
        "top".to_string(),
    ] {
        outln!("  ctem --db {url} {c}");
    }
    Ok(ExitCode::SUCCESS)
}
