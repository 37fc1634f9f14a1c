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
/// into it.
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
];

pub fn run(dir: Option<PathBuf>, settings: &Settings) -> Result<ExitCode> {
    let dir = match dir {
        Some(d) => d,
        None => PathBuf::from(format!(
            "demo-{}",
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        )),
    };
    let db = dir.join("ctem.db");
    if db.exists() {
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
    let url = db.display().to_string();
    settings.store.url = url.clone();
    let mut store = super::open_store(&settings)?;
    println!("ctem demo: a fresh store in {}\n", db.display());
    println!("1. ingest: {} reports from 5 tools", paths.len());
    let opts = Options {
        format: "auto".into(),
        scope: None,
        strict: false,
        progress: false,
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
    println!("\n2. inventory: {} assets", assets.len());
    for a in &assets {
        let ids: Vec<_> = a
            .asset
            .identifiers_by_strength()
            .iter()
            .map(|i| format!("{}={}", i.kind.as_str(), i.value))
            .collect();
        println!(
            "   #{} {} {} ({} services, {} open exposures) [{}]",
            a.asset.id.unwrap_or_default(),
            a.asset.kind.as_str(),
            a.asset.name,
            a.services,
            a.open_exposures,
            crate::output::cut(&ids.join(" "), 90)
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
        println!(
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
    println!("\n3. exposures: {} open ({})", open.len(), sev.join(", "));
    println!("   most severe:");
    for e in open.iter().take(8) {
        println!(
            "   #{:<4} {:<8} {:<16} {}",
            e.id.unwrap_or_default(),
            e.severity.as_str(),
            e.primary_id().unwrap_or(""),
            crate::output::cut(&e.title, 70)
        );
    }
    super::intel::demo(store.as_mut(), &dir)?;
    super::risk::demo(store.as_mut(), &settings.risk)?;
    println!(
        "\nnext: ctem --db {url} exposures --severity high | ctem --db {url} exposure ID | ctem --db {url} assets"
    );
    Ok(ExitCode::SUCCESS)
}
