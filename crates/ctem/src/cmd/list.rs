//! Listings: formats, assets, exposures, scans.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use ctem_model::{AssetKind, Exposure, ExposureStatus, Severity};
use ctem_store::{AssetFilter, ExposureFilter, Store};

use crate::output::{Table, cut};

pub fn formats(json: bool) -> Result<ExitCode> {
    if json {
        let v: Vec<_> = ctem_ingest::REGISTRY
            .iter()
            .map(|f| {
                serde_json::json!({"name": f.name, "kind": f.kind, "description": f.description})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let mut t = Table::new(&["NAME", "KIND", "DESCRIPTION"]);
        for f in ctem_ingest::REGISTRY {
            t.row(vec![
                f.name.into(),
                serde_json::to_value(f.kind)?.as_str().unwrap_or("").into(),
                f.description.into(),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn assets(
    store: &dyn Store,
    kind: Option<String>,
    search: Option<String>,
    tag: Option<String>,
    limit: Option<usize>,
    json: bool,
) -> Result<ExitCode> {
    let kind = match kind {
        Some(k) => match AssetKind::parse(&k) {
            Some(k) => Some(k),
            None => bail!(
                "unknown asset kind {k:?}: use host, container_image, cloud_resource, repository, application or identity"
            ),
        },
        None => None,
    };
    let rows = store.assets(&AssetFilter {
        kind,
        search,
        tag,
        limit,
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["ID", "KIND", "NAME", "IDENTIFIERS", "SERVICES", "OPEN"]);
    for r in &rows {
        let ids: Vec<String> = r
            .asset
            .identifiers_by_strength()
            .iter()
            .take(4)
            .map(|i| i.value.clone())
            .collect();
        t.row(vec![
            r.asset.id.unwrap_or_default().to_string(),
            r.asset.kind.as_str().into(),
            cut(&r.asset.name, 40),
            cut(&ids.join(", "), 60),
            r.services.to_string(),
            r.open_exposures.to_string(),
        ]);
    }
    print!("{}", t.render());
    eprintln!("{} assets", rows.len());
    Ok(ExitCode::SUCCESS)
}

pub struct ExposureQuery {
    pub severity: Option<String>,
    pub status: String,
    pub asset: Option<String>,
    pub cve: Option<String>,
    pub tool: Option<String>,
    pub kev: bool,
    pub limit: Option<usize>,
}

pub(crate) fn statuses(s: &str) -> Result<Vec<ExposureStatus>> {
    Ok(match s {
        "all" => Vec::new(),
        "active" => vec![ExposureStatus::Open, ExposureStatus::Reopened],
        other => {
            let mut v = Vec::new();
            for p in other.split(',') {
                match ExposureStatus::parse(p.trim()) {
                    Some(st) => v.push(st),
                    None => bail!(
                        "unknown status {p:?}: use open, reopened, fixed, accepted, false_positive, active or all"
                    ),
                }
            }
            v
        }
    })
}

fn ident(e: &Exposure) -> String {
    e.primary_id().unwrap_or("").to_string()
}

pub fn exposures(store: &dyn Store, q: ExposureQuery, json: bool) -> Result<ExitCode> {
    let min_severity = match &q.severity {
        Some(s) => match Severity::parse(s) {
            Some(s) => Some(s),
            None => bail!("unknown severity {s:?}: use info, low, medium, high or critical"),
        },
        None => None,
    };
    let human_default = 100;
    let limit = if json {
        q.limit
    } else {
        Some(q.limit.unwrap_or(human_default))
    };
    let filter = ExposureFilter {
        min_severity,
        statuses: statuses(&q.status)?,
        asset: q.asset,
        cve: q.cve,
        tool: q.tool,
        kev: q.kev,
        limit: limit.map(|l| l + 1),
    };
    let mut rows = store.exposures(&filter)?;
    let more = limit.is_some_and(|l| rows.len() > l);
    if let Some(l) = limit {
        rows.truncate(l);
    }
    if json {
        for e in &rows {
            println!("{}", serde_json::to_string(e)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let names: HashMap<i64, String> = store
        .assets(&AssetFilter::default())?
        .into_iter()
        .filter_map(|r| Some((r.asset.id?, r.asset.name)))
        .collect();
    let mut t = Table::new(&[
        "ID", "SEVERITY", "STATUS", "ASSET", "KIND", "ID/RULE", "PACKAGE", "TITLE",
    ]);
    for e in &rows {
        let pkg = e
            .package
            .as_ref()
            .map(|p| {
                let mut s = p.name.clone();
                if let Some(v) = &p.version {
                    s.push(' ');
                    s.push_str(v);
                }
                if let Some(f) = &p.fixed_version {
                    s.push_str(" -> ");
                    s.push_str(f);
                }
                s
            })
            .or(e.port.map(|p| format!("port {p}")))
            .unwrap_or_default();
        t.row(vec![
            e.id.unwrap_or_default().to_string(),
            e.severity.as_str().into(),
            e.status.as_str().into(),
            cut(
                e.asset_id
                    .and_then(|a| names.get(&a))
                    .map(String::as_str)
                    .unwrap_or(""),
                28,
            ),
            e.kind.as_str().into(),
            cut(&ident(e), 22),
            cut(&pkg, 34),
            cut(&e.title, 60),
        ]);
    }
    print!("{}", t.render());
    if more {
        eprintln!(
            "showing the first {}; use --limit or --json for more",
            rows.len()
        );
    } else {
        eprintln!("{} exposures", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn exposure(store: &dyn Store, id: i64, json: bool) -> Result<ExitCode> {
    let Some(e) = store.exposure(id)? else {
        bail!("exposure {id} not found");
    };
    let sources = store.exposure_sources(id)?;
    let asset = match e.asset_id {
        Some(a) => store.asset(a)?,
        None => None,
    };
    if json {
        let v = serde_json::json!({"exposure": e, "asset": asset, "sources": sources});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("exposure {id}: {}", e.title);
    println!(
        "  kind {}, severity {}, status {}",
        e.kind.as_str(),
        e.severity.as_str(),
        e.status.as_str()
    );
    if let Some(a) = &asset {
        println!(
            "  asset {} ({}, {})",
            a.name,
            a.kind.as_str(),
            a.id.unwrap_or_default()
        );
    }
    if !e.cves.is_empty() || !e.advisories.is_empty() {
        println!(
            "  ids {}",
            [e.cves.clone(), e.advisories.clone()].concat().join(", ")
        );
    }
    if let Some(r) = &e.rule_id {
        println!("  rule {r}");
    }
    if let Some(p) = &e.package {
        println!(
            "  package {} {} (fixed in {})",
            p.name,
            p.version.as_deref().unwrap_or("?"),
            p.fixed_version.as_deref().unwrap_or("no fix yet")
        );
    }
    for c in &e.cvss {
        println!(
            "  cvss {} {} {}",
            c.version,
            c.vector.as_deref().unwrap_or(""),
            c.score.map(|s| s.to_string()).unwrap_or_default()
        );
    }
    for s in &sources {
        println!(
            "  source {} scope {} ({}), last seen {} in scan {}",
            s.tool,
            s.scope,
            if s.active {
                "reporting"
            } else {
                "no longer reporting"
            },
            s.last_seen.format("%Y-%m-%d %H:%M"),
            s.last_scan_id
        );
    }
    for h in &e.history {
        println!(
            "  {} {} -> {}: {}",
            h.at.format("%Y-%m-%d %H:%M"),
            h.from.map(|f| f.as_str()).unwrap_or("-"),
            h.to.as_str(),
            h.reason
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn scans(store: &dyn Store, json: bool) -> Result<ExitCode> {
    let scans = store.scans()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&scans)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "ID", "IMPORTED", "TOOL", "SCOPE", "NEW", "FIXED", "REOPENED", "FILE",
    ]);
    for s in &scans {
        t.row(vec![
            s.id.unwrap_or_default().to_string(),
            s.imported_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            s.tool.clone(),
            s.scope.clone(),
            s.summary.exposures.new.to_string(),
            s.summary.exposures.fixed.to_string(),
            s.summary.exposures.reopened.to_string(),
            cut(&s.file, 60),
        ]);
    }
    print!("{}", t.render());
    Ok(ExitCode::SUCCESS)
}

pub fn packages(store: &dyn Store, asset: i64, json: bool) -> Result<ExitCode> {
    if store.asset(asset)?.is_none() {
        bail!("asset {asset} not found");
    }
    let rows = store.packages(asset)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["NAME", "VERSION", "ECOSYSTEM", "PATH"]);
    for p in &rows {
        t.row(vec![
            cut(&p.name, 50),
            p.version.clone().unwrap_or_default(),
            p.ecosystem.clone().unwrap_or_default(),
            cut(p.path.as_deref().unwrap_or(""), 60),
        ]);
    }
    print!("{}", t.render());
    eprintln!("{} packages", rows.len());
    Ok(ExitCode::SUCCESS)
}
