//! `ctem intel ...`: import threat intelligence, refresh feeds, list indicators, re-run
//! enrichment. Parsing is `ctem_intel::import`; storing and enrichment are the store's
//! `IntelStore`; one input (a file, a feed, a MISP feed with its event files) is one
//! transaction.

use ctem_core::Settings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use ctem_intel::IntelKind;
use ctem_model::intel::IndicatorType;
use ctem_store::Store;
use ctem_store::intel::IndicatorFilter;

use crate::cli::IntelCommand;
use crate::input::{Limits, Source};
use crate::output::progress;

pub use ctem_core::intel::FileSummary;

pub fn run(settings: &Settings, limits: &Limits, cmd: IntelCommand) -> Result<ExitCode> {
    match cmd {
        IntelCommand::Import { files, kind, json } => {
            let kind = parse_kind(&kind)?;
            let sources = crate::input::expand(&files)?;
            let mut store = super::open_store(settings)?;
            let mut ok = true;
            let mut out = Vec::new();
            let bar = progress::items(sources.len() as u64, "importing intel".into());
            for src in &sources {
                let f = src.label();
                bar.set_message(format!("importing {f}"));
                let spin = if sources.len() == 1 {
                    progress::spinner(format!("importing {f}"))
                } else {
                    indicatif::ProgressBar::hidden()
                };
                let res = import_source(store.as_mut(), src, kind, limits);
                spin.finish_and_clear();
                bar.inc(1);
                match res {
                    Ok(s) => {
                        if !json {
                            print_summary(&s);
                        }
                        out.push(serde_json::to_value(&s)?);
                    }
                    Err(e) => {
                        ok = false;
                        let msg = crate::output::chain(&e);
                        eprintln!("error: {}", crate::output::printable(&msg, 4096));
                        out.push(serde_json::json!({"file": f, "error": msg}));
                    }
                }
            }
            bar.finish_and_clear();
            if out.iter().any(|v| {
                v.get("error").is_none()
                    && matches!(v["kind"].as_str(), Some("kev" | "epss" | "cve"))
            }) {
                // KEV, EPSS or CVE records changed: re-score exposures and regroup tickets
                // (ATT&CK, STIX, MISP and IOC lists do not move priorities)
                super::risk::follow_up(store.as_mut(), &settings.risk);
            }
            if json {
                crate::output::json_array(&out);
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        IntelCommand::Update { force, json } => {
            let feeds = &settings.feeds;
            if feeds.is_empty() {
                bail!(
                    "no feeds configured: add [[feeds]] entries (name, url, kind, interval) to \
                     ctem.toml, or import downloaded files with `ctem intel import`"
                );
            }
            let mut store = super::open_store(settings)?;
            let spin = progress::spinner(format!("updating {} feed(s)", feeds.len()));
            let outcomes = super::feeds::update(store.as_mut(), feeds, force, limits);
            spin.finish_and_clear();
            if outcomes.iter().any(|o| o.import.is_some()) {
                super::risk::follow_up(store.as_mut(), &settings.risk);
            }
            if json {
                crate::output::json_array(&outcomes);
            } else {
                for o in &outcomes {
                    match (&o.import, &o.error) {
                        (_, Some(e)) => outln!("{}: failed: {e}", o.feed),
                        (Some(s), _) => {
                            out!("{}: updated, ", o.feed);
                            print_summary(s);
                        }
                        _ => outln!("{}: {}", o.feed, o.status.replace('_', " ")),
                    }
                }
            }
            Ok(if outcomes.iter().any(|o| o.error.is_some()) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        IntelCommand::Indicators {
            r#type,
            source,
            all,
            limit,
            json,
        } => {
            let store = super::open_existing(settings)?;
            let kind = r#type
                .map(|t| {
                    t.parse::<IndicatorType>()
                        .map_err(|_| anyhow!("unknown indicator type {t:?}"))
                })
                .transpose()?;
            let f = IndicatorFilter {
                kind,
                source,
                active_at: (!all).then(chrono::Utc::now),
                limit,
            };
            let list = store.indicators(&f)?;
            if json {
                crate::output::json_array(&list);
            } else if list.is_empty() {
                outln!("no indicators match");
            } else {
                for i in &list {
                    outln!(
                        "{:<8} {:<48} {:<24} conf={:<4} tlp={:<6} {}",
                        i.kind.as_str(),
                        i.value,
                        i.source,
                        i.confidence.map(|c| c.to_string()).unwrap_or("-".into()),
                        i.tlp.map(|t| t.as_str()).unwrap_or("-"),
                        if i.revoked { "revoked" } else { "" }
                    );
                }
                eprintln!("{} indicator(s)", list.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        IntelCommand::Enrich { json } => {
            let mut store = super::open_existing(settings)?;
            let start = std::time::Instant::now();
            let n = store.enrich_exposures()?;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if json {
                crate::output::json_doc(&serde_json::json!({"enriched_cves": n, "millis": ms}));
            } else {
                outln!("enriched: {n} CVE(s) of stored exposures have intelligence ({ms:.0} ms)");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_kind(s: &str) -> Result<Option<IntelKind>> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    IntelKind::parse(s).map(Some).ok_or_else(|| {
        let names: Vec<&str> = IntelKind::ALL.iter().map(|k| k.as_str()).collect();
        anyhow!("unknown intel kind {s:?}: use auto or {}", names.join(", "))
    })
}

pub fn print_summary(s: &FileSummary) {
    let st = &s.stored;
    outln!(
        "{} ({}): {} records; indicators {} new {} updated; kev {}, epss {}, cve {}, attack {} \
         objects {} relationships; {} CVEs of exposures enriched; {} issue(s)",
        s.file,
        s.kind,
        s.records,
        st.indicators_new,
        st.indicators_updated,
        st.kev,
        st.epss,
        st.cves,
        st.attack_objects,
        st.relationships,
        st.enriched_cves,
        s.issues.len()
    );
}

/// The event files of a MISP feed manifest, when `bytes` is one.
fn import_file(store: &mut dyn Store, path: &Path, kind: Option<IntelKind>) -> Result<FileSummary> {
    let src = Source {
        path: Some(path.to_path_buf()),
        in_folder: false,
    };
    import_source(store, &src, kind, &Limits::default())
}

/// One input (a file, stdin, or a MISP feed manifest with the event files it lists), read
/// whole (gzip inflated) within `limits.max_intel_mb`.
fn import_source(
    store: &mut dyn Store,
    src: &Source,
    kind: Option<IntelKind>,
    limits: &Limits,
) -> Result<FileSummary> {
    let label = src.label();
    let bytes =
        crate::input::read_intel(src, limits).with_context(|| format!("{label}: cannot read"))?;
    let mut inputs = vec![(label.clone(), bytes)];
    let mut kind = kind;
    if let Some(entries) = ctem_core::intel::manifest_entries(kind, &label, &inputs[0].1) {
        kind = Some(IntelKind::Misp);
        let dir = src
            .path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        inputs.clear();
        for e in entries {
            let p: PathBuf = dir.join(&e.file);
            let event = Source {
                path: Some(p.clone()),
                in_folder: false,
            };
            let b = crate::input::read_intel(&event, limits)
                .with_context(|| format!("{label}: event file {} it lists", p.display()))?;
            inputs.push((p.display().to_string(), b));
        }
    }
    import_inputs(store, &label, kind, inputs, limits)
}

/// Parses every input and stores them as one batch (one transaction). A gzip input (a
/// downloaded feed) is inflated here within `limits.max_intel_mb`.
/// One input (a file, a MISP feed with its event files) stored in one transaction: the
/// core's pipeline (`ctem_core::intel::import_inputs`).
pub(crate) fn import_inputs(
    store: &mut dyn Store,
    label: &str,
    kind: Option<IntelKind>,
    inputs: Vec<(String, Vec<u8>)>,
    limits: &Limits,
) -> Result<FileSummary> {
    Ok(ctem_core::intel::import_inputs(
        store,
        label,
        kind,
        inputs,
        &limits.settings(),
    )?)
}

const DEMO_INTEL: &[(&str, &[u8])] = &[
    (
        "kev.json",
        include_bytes!("../../../../examples/demo/kev.json"),
    ),
    (
        "epss-excerpt.csv",
        include_bytes!("../../../../examples/demo/epss-excerpt.csv"),
    ),
    (
        "ics-attack-8.0.json.gz",
        include_bytes!("../../../../examples/demo/ics-attack-8.0.json.gz"),
    ),
];

/// The demo's intel step: import KEV, EPSS and ATT&CK, show the enriched exposures.
pub fn demo(store: &mut dyn Store, dir: &Path) -> Result<()> {
    let folder = dir.join("intel");
    std::fs::create_dir_all(&folder).with_context(|| format!("create {}", folder.display()))?;
    outln!("\n4. threat intelligence: KEV catalog, EPSS scores, ATT&CK for ICS");
    for (name, bytes) in DEMO_INTEL {
        let p = folder.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("write {}", p.display()))?;
        let s = import_file(store, &p, None)?;
        let st = &s.stored;
        outln!(
            "   {name} ({}): {} records (kev {}, epss {}, attack objects {}, relationships {})",
            s.kind,
            s.records,
            st.kev,
            st.epss,
            st.attack_objects,
            st.relationships
        );
    }
    let kev = store.exposures(&ctem_store::ExposureFilter {
        kev: true,
        ..Default::default()
    })?;
    outln!(
        "   {} open exposure(s) are known exploited (CISA KEV):",
        kev.len()
    );
    for e in kev.iter().take(8) {
        let Some(i) = &e.intel else { continue };
        outln!(
            "   #{:<4} {:<16} added {} due {} ransomware {} epss {} {}",
            e.id.unwrap_or_default(),
            i.cve_id,
            i.kev_date_added
                .map(|d| d.to_string())
                .unwrap_or("-".into()),
            i.kev_due_date.map(|d| d.to_string()).unwrap_or("-".into()),
            match i.kev_ransomware {
                Some(ctem_model::intel::RansomwareUse::Known) => "known",
                Some(ctem_model::intel::RansomwareUse::Unknown) => "unknown",
                None => "-",
            },
            i.epss
                .map(|x| format!("{x:.3} (p{:.2})", i.epss_percentile.unwrap_or(0.0)))
                .unwrap_or("-".into()),
            crate::output::cut(&e.title, 40)
        );
    }
    Ok(())
}
