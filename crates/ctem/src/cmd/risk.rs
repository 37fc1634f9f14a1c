//! `ctem cvss`, `ctem explain`, `ctem top`, `ctem prioritize`: the risk model and the
//! ticket routing of the settings' `[risk]` section (docs/config.md).

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use ctem_core::Settings;
use ctem_core::prioritize::PrioritizeSummary;
use ctem_core::prioritize::facts::{AssetFacts, CvssFacts};
use ctem_core::settings::RiskSettings;
use ctem_model::work::{OwnershipRule, Team};
use ctem_store::Store;

use crate::output::{Table, cut};

/// Prints what the core's pipelines report: a failed follow-up is a warning.
pub fn report(p: ctem_core::prioritize::Progress<'_>) {
    if let ctem_core::prioritize::Progress::FollowUpFailed(msg) = p {
        eprintln!(
            "warning: the data is stored, but its follow-up (enrichment and prioritisation) \
             failed and will be retried by the next command: {}",
            ctem_model::redact::text(msg)
        );
    }
}

/// Re-scores every exposure and regroups tickets.
pub fn reprioritize(settings: &RiskSettings, store: &mut dyn Store) -> Result<PrioritizeSummary> {
    ctem_core::prioritize::reprioritize(store, settings, &mut report)
        .context("prioritising exposures")
}

/// The follow-up of a committed change (import, intelligence, status): enrichment and
/// prioritisation of what changed. Its failure does not fail the change, which is stored:
/// it is recorded, reported as a warning and retried by the next command.
pub fn follow_up(store: &mut dyn Store, settings: &RiskSettings) -> Option<PrioritizeSummary> {
    ctem_core::prioritize::follow_up(store, settings, &mut report)
}

pub fn cvss(vector: &str, json: bool) -> Result<ExitCode> {
    let s = ctem_risk::score(vector).map_err(|e| anyhow!("{e}"))?;
    if json {
        outln!("{}", serde_json::to_string(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("vector       {}", s.vector);
    outln!("version      {}", s.version.as_str());
    outln!("base score   {:.1} ({})", s.base_score, s.severity.as_str());
    let v = serde_json::to_value(&s)?;
    for (k, label) in [
        ("temporal_score", "temporal     "),
        ("environmental_score", "environmental"),
        ("score", "score        "),
        ("nomenclature", "nomenclature "),
    ] {
        if let Some(x) = v.get(k) {
            outln!("{label} {}", x.to_string().trim_matches('"'));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn prioritize(settings: &Settings, json: bool) -> Result<ExitCode> {
    let mut store = super::open_existing(settings)?;
    prioritize_in(settings, store.as_mut(), json)
}

/// `ctem prioritize` on an open store.
pub fn prioritize_in(settings: &Settings, store: &mut dyn Store, json: bool) -> Result<ExitCode> {
    let spin = crate::output::progress::spinner("prioritising".into());
    let s = reprioritize(&settings.risk, store)?;
    spin.finish_and_clear();
    if json {
        outln!("{}", serde_json::to_string(&s)?);
    } else {
        let [p1, p2, p3, p4] = s.open_by_priority;
        outln!(
            "scored {} exposures in {} ms; open: {p1} P1, {p2} P2, {p3} P3, {p4} P4",
            s.scored,
            s.score_ms
        );
        outln!(
            "tickets: {} created, {} updated, {} verified, {} reopened ({} ms)",
            s.tickets_created,
            s.tickets_updated,
            s.tickets_verified,
            s.tickets_reopened,
            s.tickets_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn explain(settings: &Settings, id: i64, json: bool) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let (mut v, mut text) = explanation(store.as_ref(), &settings.risk, id)?;
    // validation: "on a path to a crown jewel" (crates/ctem-paths, docs/paths.md)
    let (path, line) = super::paths::explain_factor(store.as_ref(), &settings.paths, id)?;
    v["attack_path"] = path;
    text.push_str(&line);
    if json {
        outln!("{}", serde_json::to_string(&v)?);
    } else {
        out!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The explanation of one exposure: the `--json` document and the human text.
fn explanation(
    store: &dyn Store,
    settings: &RiskSettings,
    id: i64,
) -> Result<(serde_json::Value, String)> {
    use std::fmt::Write as _;
    let e = store
        .exposure(id)?
        .ok_or_else(|| anyhow!("exposure {id} not found"))?;
    let asset = match e.asset_id {
        Some(a) => store.asset(a)?,
        None => None,
    };
    let services = match e.asset_id {
        Some(a) => store.services(a)?,
        None => Vec::new(),
    };
    let cvss = CvssFacts::from_list(&e.cvss);
    // the asset's effective context: stored facts with the rules applied, as the
    // prioritisation pass scores it
    let rules = super::context::rules(store, &settings.context)?;
    let afacts = match e.asset_id {
        Some(a) => super::context::of_asset(store, &rules, a)?.map(|c| AssetFacts {
            criticality: c.criticality.value,
            internet_facing: c.internet_facing.value,
            zone: c
                .zone
                .value
                .as_deref()
                .and_then(ctem_risk::NetworkZone::from_name),
        }),
        None => None,
    };
    let kev_catalog = store.intel_counts()?.kev > 0;
    let facts =
        ctem_core::prioritize::facts::facts_of(&e, &cvss, afacts.as_ref(), &services, kev_catalog);
    let input = ctem_core::prioritize::facts::risk_input(&facts);
    let score = settings.model.score(&input);
    let mut missing: Vec<&str> = score.missing.clone();
    if e.cves.is_empty() {
        // KEV and EPSS are keyed by CVE: nothing to supply for a finding without one
        missing.retain(|f| !matches!(*f, "kev" | "epss"));
    }
    if e.port.is_some() && input.service_reachable.is_none() {
        missing.push("service_reachable");
    }
    let missing: Vec<serde_json::Value> = missing
        .iter()
        .map(|f| serde_json::json!({"fact": f, "how": super::context::how_to_supply(f)}))
        .collect();
    let today = Utc::now().date_naive();
    let opened = e.first_seen.map_or(today, |t| t.date_naive());
    let target =
        ctem_core::prioritize::facts::sla_target(&settings.model, score.priority, score.ssvc);
    let closed = e.fixed_at.map(|t| t.date_naive());
    let sla = settings.sla.status(
        opened,
        target,
        e.intel.as_ref().and_then(|i| i.kev_due_date),
        closed,
        today,
    );
    let stored = store.stored_risk(id)?;
    let v = serde_json::json!({
        "exposure_id": id,
        "title": e.title,
        "cve": e.primary_id(),
        "status": e.status,
        "asset": asset.as_ref().map(|a| &a.name),
        "team": stored.as_ref().and_then(|s| s.team.clone()),
        "ticket_id": stored.as_ref().and_then(|s| s.ticket_id),
        "risk": score,
        "ssvc_inputs": settings.model.ssvc_inputs(&input),
        "sla": sla,
        "input": input,
        "missing": missing,
    });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "exposure #{id}: {} {}",
        e.primary_id().unwrap_or(""),
        cut(&e.title, 80)
    );
    if let Some(a) = &asset {
        let _ = writeln!(
            out,
            "asset #{} {} ({}), status {}",
            a.id.unwrap_or_default(),
            a.name,
            a.kind.as_str(),
            e.status.as_str()
        );
    }
    out.push_str(&score.explain());
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "missing facts (unknown context is left out of the score):"
        );
        for m in &missing {
            let _ = writeln!(
                out,
                "  {:<18} {}",
                m["fact"].as_str().unwrap_or(""),
                m["how"].as_str().unwrap_or("")
            );
        }
    }
    let _ = writeln!(
        out,
        "SLA: due {}{} ({} days open, {} days left{})",
        sla.due,
        if sla.capped_by_kev {
            ", capped by the KEV due date"
        } else {
            ""
        },
        sla.days_open,
        sla.days_left,
        if sla.breached { ", BREACHED" } else { "" }
    );
    if let Some(s) = stored {
        let _ = writeln!(
            out,
            "team {}, ticket {}",
            s.team.as_deref().unwrap_or("unassigned"),
            s.ticket_id.map_or("none".into(), |t| format!("#{t}"))
        );
    }
    Ok((v, out))
}

/// The reasons of a group, in words.
fn reasons(t: &ctem_core::prioritize::TopGroup) -> String {
    let mut r = Vec::new();
    let [p1, p2, ..] = t.by_priority;
    if t.group.kev > 0 {
        r.push(format!("{} in KEV", t.group.kev));
    }
    if p1 + p2 > 0 {
        r.push(format!("{p1} P1 / {p2} P2"));
    }
    r.push(format!("max risk {:.1}", t.group.max_risk));
    if t.internet_facing_assets > 0 {
        r.push(format!(
            "{} internet-facing assets",
            t.internet_facing_assets
        ));
    }
    if t.breached > 0 {
        r.push(format!("{} past SLA", t.breached));
    }
    r.join(", ")
}

pub fn top(settings: &Settings, limit: usize, json: bool) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let groups = ctem_core::prioritize::top(store.as_ref(), Utc::now().date_naive())?;
    let shown: Vec<_> = groups.into_iter().take(limit).collect();
    if json {
        let v: Vec<_> = shown
            .iter()
            .map(|g| {
                let mut v = serde_json::to_value(g).unwrap_or_default();
                v["reasons"] = reasons(g).into();
                v
            })
            .collect();
        crate::output::json_array(&v);
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        outln!("no open exposures (run `ctem prioritize` after an import of older stores)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "#",
        "priority",
        "action",
        "assets",
        "closes",
        "kev",
        "risk removed",
        "teams",
        "why",
    ]);
    for (i, g) in shown.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            g.group.priority.to_string(),
            cut(&g.group.action, 50),
            g.group.assets.to_string(),
            g.group.exposures.to_string(),
            g.group.kev.to_string(),
            format!("{:.1}", g.group.risk_removed),
            g.teams.join(","),
            reasons(g),
        ]);
    }
    out!("{}", t.render());
    if let Some(g) = shown.first() {
        outln!(
            "\n{} on {} assets: closes {} exposures, {} in KEV",
            g.group.action,
            g.group.assets,
            g.group.exposures,
            g.group.kev
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses `YYYY-MM-DD`.
pub fn date(s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// The demo's teams and ownership: hosts go to IT operations, images and repositories to
/// the platform team.
pub fn demo_setup(store: &mut dyn Store) -> Result<()> {
    use ctem_model::work::{Role, RuleKind};
    for (name, description) in [
        ("it_operations", "servers and network"),
        ("platform", "container images and code"),
    ] {
        store.put_team(&Team {
            name: name.into(),
            description: Some(description.into()),
        })?;
    }
    for (kind, pattern, team) in [
        (RuleKind::AssetKind, "host", "it_operations"),
        (RuleKind::AssetKind, "container_image", "platform"),
        (RuleKind::AssetKind, "repository", "platform"),
        (RuleKind::AssetKind, "application", "platform"),
    ] {
        store.add_rule(&OwnershipRule {
            id: None,
            position: 0,
            kind,
            pattern: pattern.into(),
            team: team.into(),
            priority: None,
        })?;
    }
    for (name, role, team) in [
        ("alice", Role::VulnerabilityManager, vec![]),
        ("bob", Role::ItOperations, vec!["it_operations".to_string()]),
        ("carol", Role::ItOperations, vec!["platform".to_string()]),
    ] {
        store.put_user(&ctem_model::work::User {
            name: name.into(),
            email: None,
            role,
            teams: team,
        })?;
    }
    Ok(())
}

/// The demo's prioritisation section: `top`, tickets per team, one explanation.
pub fn demo(store: &mut dyn Store, settings: &RiskSettings) -> Result<()> {
    let s = reprioritize(settings, store)?;
    let [p1, p2, p3, p4] = s.open_by_priority;
    outln!(
        "\n5. prioritize: {} exposures scored; open {p1} P1, {p2} P2, {p3} P3, {p4} P4",
        s.scored
    );
    outln!("   what to fix first (ctem top):");
    for (i, g) in ctem_core::prioritize::top(store, Utc::now().date_naive())?
        .iter()
        .take(5)
        .enumerate()
    {
        outln!(
            "   {}. {} on {} assets: closes {} exposures, {} in KEV ({})",
            i + 1,
            g.group.action,
            g.group.assets,
            g.group.exposures,
            g.group.kev,
            reasons(g)
        );
    }
    outln!("\n6. mobilize: tickets per owning team (ctem tickets)");
    for team in ["it_operations", "platform"] {
        let list = store.tickets(&ctem_store::work::TicketFilter {
            team: Some(team.into()),
            ..Default::default()
        })?;
        outln!("   {team}: {} tickets", list.len());
        for t in list.iter().take(3) {
            outln!(
                "     #{} [{}] {} {} ({} exposures, due {})",
                t.id,
                t.state,
                t.priority,
                cut(&t.action, 60),
                t.exposures,
                t.due.map_or("-".into(), |d| d.to_string())
            );
        }
    }
    if let Some((id, _)) = store.ranked(Some(1))?.first() {
        outln!("\n7. why (ctem explain {id}):");
        let (_, text) = explanation(store, settings, *id)?;
        for l in text.lines() {
            outln!("   {l}");
        }
    }
    Ok(())
}
