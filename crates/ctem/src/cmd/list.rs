//! Listings: formats, assets, exposures, scans, packages, alerts. Each prints one JSON
//! array with `--json` (crate::output::json_array) and says so when nothing matches.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Result, bail};
use ctem_model::{AssetKind, Exposure, ExposureStatus, Severity};
use ctem_store::alerts::AlertFilter;
use ctem_store::{AssetFilter, ExposureFilter, Store};

use crate::output::{Table, cut, json_array};

pub fn formats(json: bool) -> Result<ExitCode> {
    if json {
        json_array(ctem_ingest::REGISTRY.iter().map(
            |f| serde_json::json!({"name": f.name, "kind": f.kind, "description": f.description}),
        ));
    } else {
        let mut t = Table::new(&["NAME", "KIND", "DESCRIPTION"]);
        for f in ctem_ingest::REGISTRY {
            t.row(vec![
                f.name.into(),
                serde_json::to_value(f.kind)?.as_str().unwrap_or("").into(),
                f.description.into(),
            ]);
        }
        t.print("no formats registered");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn assets(
    store: &dyn Store,
    rules: &ctem_model::context::ContextRules,
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
        ..AssetFilter::default()
    })?;
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| super::context::row_json(rules, r))
            .collect::<Result<_>>()?;
        json_array(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "ID",
        "KIND",
        "NAME",
        "IDENTIFIERS",
        "SERVICES",
        "OPEN",
        "CRIT",
        "INTERNET",
        "TEAM",
    ]);
    for r in &rows {
        let c = super::context::of(rules, r);
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
            c.criticality.value.map_or("-".into(), |v| v.to_string()),
            c.internet_facing
                .value
                .map_or("-".into(), |v| if v { "yes" } else { "no" }.into()),
            c.team.value.clone().unwrap_or_else(|| "-".into())
                + if r.never_scanned {
                    " (never scanned)"
                } else {
                    ""
                },
        ]);
    }
    t.print("no assets match");
    if !rows.is_empty() {
        eprintln!("{} assets", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub struct ExposureQuery {
    pub severity: Option<String>,
    pub status: Vec<String>,
    pub asset: Option<String>,
    pub cve: Option<String>,
    pub tool: Option<String>,
    pub kev: bool,
    pub limit: Option<usize>,
}

/// The statuses `--status` names (checked by clap): `all` is every status (no filter).
pub(crate) fn statuses(names: &[String]) -> Result<Vec<ExposureStatus>> {
    let mut v = Vec::new();
    for n in names {
        match n.as_str() {
            "all" => return Ok(Vec::new()),
            "active" => v.extend([ExposureStatus::Open, ExposureStatus::Reopened]),
            p => match ExposureStatus::parse(p) {
                Some(st) => v.push(st),
                None => bail!("unknown status {p:?}"),
            },
        }
    }
    Ok(v)
}

fn ident(e: &Exposure) -> String {
    e.primary_id().unwrap_or("").to_string()
}

pub fn exposures(store: &dyn Store, q: ExposureQuery, json: bool) -> Result<ExitCode> {
    let min_severity = match &q.severity {
        Some(s) => match Severity::parse(s) {
            Some(s) => Some(s),
            None => bail!("unknown severity {s:?}"),
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
        ..ExposureFilter::default()
    };
    if json {
        // streamed as SQLite reads the rows: memory stays bounded at any store size
        let filter = ExposureFilter { limit, ..filter };
        let mut out = crate::output::Stdout::new();
        out.bytes(b"[");
        let mut first = true;
        store.each_exposure(&filter, &mut |e| {
            if !std::mem::take(&mut first) {
                out.bytes(b",");
            }
            out.json(&e);
            Ok(())
        })?;
        out.bytes(b"]\n");
        out.finish();
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = store.exposures(&filter)?;
    let more = limit.is_some_and(|l| rows.len() > l);
    if let Some(l) = limit {
        rows.truncate(l);
    }
    let names: HashMap<i64, String> = store
        .assets(&AssetFilter::default())?
        .into_iter()
        .filter_map(|r| Some((r.asset.id?, r.asset.name)))
        .collect();
    let mut t = Table::new(&[
        "ID", "SEVERITY", "STATUS", "ASSET", "KIND", "ID/RULE", "PACKAGE", "TITLE",
    ])
    .paint(1);
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
    t.print("no exposures match");
    if more {
        eprintln!(
            "showing the first {}; use --limit or --json for more",
            rows.len()
        );
    } else if !rows.is_empty() {
        eprintln!("{} exposures", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// `exposure ID --set STATUS --reason WHY`: triage by hand; priorities and tickets follow.
/// `ctem exposure ID --set STATUS`: the actor (`$CTEM_USER`) must be allowed to triage;
/// the change is followed up (a failure is reported and retried, the status stands).
pub fn set_status(
    store: &mut dyn Store,
    risk: &ctem_core::settings::RiskSettings,
    id: i64,
    status: &str,
    reason: Option<&str>,
) -> Result<()> {
    let Some(st) = ExposureStatus::parse(status) else {
        bail!("unknown status {status:?}: use open, accepted, false_positive or fixed");
    };
    let change = ctem_core::roles::Change {
        action: ctem_model::work::Action::TriageExposures,
        what: "exposures.status",
        via: "cli",
    };
    let actor = super::tickets::actor();
    ctem_core::roles::change(store, actor.as_deref(), change, |store, _| {
        store.set_status(id, st, reason.unwrap_or(""))?;
        Ok::<_, anyhow::Error>(((), format!("exposure {id} {}", st.as_str())))
    })?;
    super::risk::follow_up(store, risk);
    Ok(())
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
        crate::output::json_doc(&v);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("exposure {id}: {}", e.title);
    outln!(
        "  kind {}, severity {}, status {}",
        e.kind.as_str(),
        crate::output::color::paint(e.severity.as_str()),
        e.status.as_str()
    );
    if let Some(a) = &asset {
        outln!(
            "  asset {} ({}, {})",
            a.name,
            a.kind.as_str(),
            a.id.unwrap_or_default()
        );
    }
    if !e.cves.is_empty() || !e.advisories.is_empty() {
        outln!(
            "  ids {}",
            [e.cves.clone(), e.advisories.clone()].concat().join(", ")
        );
    }
    if let Some(r) = &e.rule_id {
        outln!("  rule {r}");
    }
    if let Some(p) = &e.package {
        outln!(
            "  package {} {} (fixed in {})",
            p.name,
            p.version.as_deref().unwrap_or("?"),
            p.fixed_version.as_deref().unwrap_or("no fix yet")
        );
    }
    for c in &e.cvss {
        outln!(
            "  cvss {} {} {}",
            c.version,
            c.vector.as_deref().unwrap_or(""),
            c.score.map(|s| s.to_string()).unwrap_or_default()
        );
    }
    for s in &sources {
        outln!(
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
        outln!(
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
        json_array(&scans);
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
    t.print("no scans yet: import a report with `ctem import FILE`");
    Ok(ExitCode::SUCCESS)
}

pub fn packages(store: &dyn Store, asset: i64, json: bool) -> Result<ExitCode> {
    if store.asset(asset)?.is_none() {
        bail!("asset {asset} not found");
    }
    let rows = store.packages(asset)?;
    if json {
        json_array(&rows);
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
    t.print(&format!(
        "asset {asset} has no packages (they come from SBOMs)"
    ));
    if !rows.is_empty() {
        eprintln!("{} packages", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn alerts(
    store: &dyn Store,
    level: Option<String>,
    rule: Option<String>,
    host: Option<String>,
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    let rows = store.alerts(&AlertFilter {
        rule_id: rule,
        min_level: level,
        host,
        limit: Some(limit),
    })?;
    if json {
        json_array(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["ID", "TIME", "LEVEL", "HOST", "USER", "TITLE"]).paint(2);
    for a in &rows {
        t.row(vec![
            a.id.unwrap_or_default().to_string(),
            a.event_time
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            a.level.clone(),
            cut(a.host.as_deref().unwrap_or(""), 24),
            cut(a.user.as_deref().unwrap_or(""), 20),
            cut(&a.title, 60),
        ]);
    }
    t.print("no alerts match");
    Ok(ExitCode::SUCCESS)
}
