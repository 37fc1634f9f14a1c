//! `ctem incidents`, `ctem incident`, `ctem kpi`, `ctem goals`, `ctem assess`, `ctem review`,
//! and the hook that groups alerts and takes the daily KPI snapshot after a command changed
//! data. The logic is in ctem-measure; this module parses, reads the clock and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use ctem_measure::goals::{self, GoalStatus};
use ctem_measure::incidents;
use ctem_measure::kpi;
use ctem_measure::report::{Format, assess::assess, review};
use ctem_model::IncidentState;
use ctem_store::Store;

use crate::output::{Table, cut};
use ctem_core::Settings;
use ctem_core::settings::MeasureSettings;

/// Trend window of goals, in days.
const TREND_DAYS: i64 = 28;

/// The time commands measure against: `$CTEM_NOW` (RFC 3339, for reproducible reports and
/// tests) or the clock.
pub fn now() -> Result<DateTime<Utc>> {
    match std::env::var("CTEM_NOW") {
        Ok(s) if !s.is_empty() => Ok(DateTime::parse_from_rfc3339(&s)
            .map_err(|e| anyhow!("$CTEM_NOW {s:?}: {e}"))?
            .to_utc()),
        _ => Ok(Utc::now()),
    }
}

/// After a command changed data: group new alerts into incidents (when `alerts`) and take
/// the day's KPI snapshot if none exists yet. A failure is a warning: the data is stored.
pub fn after_change(store: &mut dyn Store, s: &MeasureSettings, alerts: bool) {
    let mut run = || -> Result<()> {
        if alerts {
            incidents::group(store, &s.incidents)?;
        }
        kpi::daily_snapshot(store, now()?, &s.kpi)?;
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("warning: measurement hook: {}", crate::output::chain(&e));
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub fn incidents(settings: &Settings, json: bool) -> Result<ExitCode> {
    let mut store = super::open_existing(settings)?;
    // alerts stored by an older build or another path are grouped on the way
    incidents::group(store.as_mut(), &settings.measure.incidents)?;
    let rows = store.incidents()?;
    if json {
        crate::output::json_array(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "ID",
        "SEVERITY",
        "STATE",
        "OWNER",
        "ALERTS",
        "FIRST EVENT",
        "DETECTED",
        "TITLE",
    ])
    .paint(1);
    for i in &rows {
        t.row(vec![
            i.id.unwrap_or_default().to_string(),
            i.severity.clone(),
            i.state.to_string(),
            i.owner.clone().unwrap_or_default(),
            i.alerts.to_string(),
            time(Some(i.first_event)),
            time(Some(i.detected_at)),
            cut(&i.title, 60),
        ]);
    }
    t.print("no incidents: alerts stored by `ctem detect --store` are grouped into incidents");
    Ok(ExitCode::SUCCESS)
}

/// Refuses a state change by a known user whose role may not change incidents; `$CTEM_USER`
/// unset is the local operator (as for tickets).
fn check_role(store: &dyn Store, actor: Option<&str>) -> Result<()> {
    let Some(name) = actor else {
        return Ok(());
    };
    let users = store.users()?;
    let u = users.iter().find(|u| u.name == name).ok_or_else(|| {
        anyhow!("user {name:?} ($CTEM_USER) is not known: add it with `ctem teams user NAME --role incident_responder`")
    })?;
    if !incidents::may_change_state(u.role) {
        bail!(
            "user {name:?} has role {} and may not change incidents: incident_responder or admin",
            u.role
        );
    }
    Ok(())
}

pub fn incident(settings: &Settings, id: i64, set: Option<String>, json: bool) -> Result<ExitCode> {
    let mut store = super::open_existing(settings)?;
    if let Some(s) = set {
        let state = IncidentState::parse(&s).ok_or_else(|| anyhow!("unknown state {s:?}"))?;
        let actor = std::env::var("CTEM_USER").ok().filter(|u| !u.is_empty());
        check_role(store.as_ref(), actor.as_deref())?;
        if store.incident(id)?.is_none() {
            bail!("incident {id} not found: `ctem incidents` lists them");
        }
        store.set_incident_state(id, state, now()?, actor.as_deref())?;
        after_change(store.as_mut(), &settings.measure, false);
    }
    let inc = store
        .incident(id)?
        .ok_or_else(|| anyhow!("incident {id} not found: `ctem incidents` lists them"))?;
    let alerts = store.incident_alert_ids(id)?;
    let events = store.incident_events(id)?;
    if json {
        crate::output::json_doc(&serde_json::json!({
            "incident": inc, "alert_ids": alerts, "history": events,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    outln!("incident {id}: {}", inc.title);
    outln!("severity      {}", inc.severity);
    outln!("state         {}", inc.state);
    outln!(
        "owner         {}",
        inc.owner
            .as_deref()
            .unwrap_or("(none: add an incident_responder)")
    );
    outln!("grouped by    {} = {}", inc.key_kind, inc.key_value);
    outln!("first event   {}", time(Some(inc.first_event)));
    outln!("detected at   {}", time(Some(inc.detected_at)));
    outln!("acknowledged  {}", time(inc.acknowledged_at));
    outln!("contained     {}", time(inc.contained_at));
    outln!("resolved      {}", time(inc.resolved_at));
    outln!(
        "alerts        {} ({})",
        inc.alerts,
        alerts
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for e in &events {
        outln!(
            "  {} {} -> {}{}",
            time(Some(e.at)),
            e.from,
            e.to,
            e.actor
                .as_deref()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn since_time(d: Option<NaiveDate>) -> Option<DateTime<Utc>> {
    d.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

pub fn kpi(
    settings: &Settings,
    json: bool,
    since: Option<NaiveDate>,
    snapshot: bool,
) -> Result<ExitCode> {
    let s = &settings.measure;
    let now = now()?;
    let since = since_time(since);
    let k = if snapshot {
        let mut store = super::open_existing(settings)?;
        kpi::snapshot(store.as_mut(), now, &s.kpi, true)?;
        eprintln!("snapshot of {} written", now.format("%Y-%m-%d"));
        kpi::current(store.as_ref(), since, now, &s.kpi)?.1
    } else {
        kpi::current(super::open_existing(settings)?.as_ref(), since, now, &s.kpi)?.1
    };
    if json {
        crate::output::json_array(&k);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["KPI", "VALUE", "UNIT", "N", "NOTE"]);
    for x in &k {
        t.row(vec![
            x.id.clone(),
            ctem_measure::report::opt(x.value),
            x.unit.clone(),
            x.n.map(|n| n.to_string()).unwrap_or_default(),
            x.missing
                .clone()
                .map(|m| format!("cannot compute: {m}"))
                .unwrap_or_default(),
        ]);
    }
    t.print("no KPIs");
    Ok(ExitCode::SUCCESS)
}

fn goal_statuses(
    store: &dyn Store,
    s: &MeasureSettings,
    now: DateTime<Utc>,
) -> Result<Vec<GoalStatus>> {
    let (_, k) = kpi::current(store, None, now, &s.kpi)?;
    Ok(goals::evaluate(
        &s.goals,
        &k,
        &store.snapshots()?,
        now,
        TREND_DAYS,
    )?)
}

pub fn goals(settings: &Settings, json: bool) -> Result<ExitCode> {
    let s = &settings.measure;
    let store = super::open_existing(settings)?;
    let g = goal_statuses(store.as_ref(), s, now()?)?;
    if json {
        crate::output::json_array(&g);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "GOAL",
        "OWNER",
        "DUE",
        "VALUE",
        "TREND/WEEK",
        "STATUS",
        "WHAT MOVES IT",
    ]);
    for x in &g {
        t.row(vec![
            format!(
                "{} {} {}",
                x.goal.kpi,
                x.goal.op,
                ctem_measure::report::num(x.goal.target)
            ),
            x.goal.owner.clone().unwrap_or_default(),
            x.goal.due.map(|d| d.to_string()).unwrap_or_default(),
            ctem_measure::report::opt(x.value),
            ctem_measure::report::opt(x.trend_per_week),
            x.status.as_str().to_string(),
            cut(&x.moves, 60),
        ]);
    }
    t.print("no goals: add [[goals]] to ctem.toml (kpi, op, target, owner, due); see docs/kpis.md");
    Ok(ExitCode::SUCCESS)
}

fn format_of(f: &str) -> Format {
    if f == "html" {
        Format::Html
    } else {
        Format::Markdown
    }
}

fn write_report(text: &str, out: Option<&PathBuf>) -> Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("report written to {}", p.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

pub fn assess_cmd(settings: &Settings, format: &str, out: Option<&PathBuf>) -> Result<ExitCode> {
    let s = &settings.measure;
    let store = super::open_existing(settings)?;
    let now = now()?;
    let (mut f, k) = kpi::current(store.as_ref(), None, now, &s.kpi)?;
    let g = goals::evaluate(&s.goals, &k, &store.snapshots()?, now, TREND_DAYS)?;
    store.source_facts(&mut f)?;
    let mut a = assess(&f, &k, &g, now, &s.kpi);
    a.add_declared(
        &f,
        super::run::assess_lines(store.as_ref(), &settings.sources)?,
    );
    write_report(&a.doc().render(format_of(format)), out)?;
    Ok(ExitCode::SUCCESS)
}

pub fn review_cmd(
    settings: &Settings,
    since: Option<NaiveDate>,
    format: &str,
    out: Option<&PathBuf>,
) -> Result<ExitCode> {
    let text = review_report(settings, since, format)?;
    write_report(&text, out)?;
    Ok(ExitCode::SUCCESS)
}

/// The review report of the period since `since` (else since the last review), recorded
/// in the store as the next review's baseline.
pub fn review_report(
    settings: &Settings,
    since: Option<NaiveDate>,
    format: &str,
) -> Result<String> {
    let s = &settings.measure;
    let mut store = super::open_existing(settings)?;
    let now = now()?;
    let previous = store.last_review()?;
    let since = since_time(since).or(previous.as_ref().map(|p| p.at));
    // counts of the period from windowed facts; KPI deltas and goals over all data, as the
    // previous review recorded them
    let (f, _) = kpi::current(store.as_ref(), since, now, &s.kpi)?;
    let (_, k) = kpi::current(store.as_ref(), None, now, &s.kpi)?;
    let g = goals::evaluate(&s.goals, &k, &store.snapshots()?, now, TREND_DAYS)?;
    let mut r = review::review(&f, &k, &g, previous.as_ref(), since, now)?;
    r.add_exercises(&store.exercises()?);
    let rec = serde_json::to_string(&review::recorded(&k, &g))?;
    let text = r.doc().render(format_of(format));
    store.add_review(now, since, &rec)?;
    Ok(text)
}
