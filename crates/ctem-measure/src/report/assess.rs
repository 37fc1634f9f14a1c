//! The gap analysis (`ctem assess`): inventory coverage, data sources, detection coverage by
//! ATT&CK tactic, exposure posture, goal status, and the ten actions that would close the
//! largest gaps with their expected effect on a goal.

use chrono::{DateTime, Duration, Utc};
use ctem_store::measure::{MeasureFacts, TacticFacts};
use serde::Serialize;

use super::logsources::{self, LogsourceLine};
use super::{Doc, Section, num, opt};
use crate::coverage::{self, TechniqueCoverage};
use crate::goals::{GoalStatus, Status};
use crate::kpi::{Kpi, KpiConfig, PRIORITIES};

/// A source is flowing when it delivered within this many days.
pub const FLOWING_DAYS: i64 = 7;
/// An intelligence feed is fresh when it changed or was checked within this many days.
pub const FEED_FRESH_DAYS: i64 = 2;

/// One data source and whether it flows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceLine {
    /// `scanner`, `events` or `intel feed`.
    pub kind: String,
    pub name: String,
    pub last: Option<DateTime<Utc>>,
    /// `flowing`, `silent`, `fresh`, `stale` or `never seen`.
    pub status: String,
}

/// One action of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub action: String,
    /// The size of the gap it closes, 0..1 (the ranking key).
    pub gap: f64,
    pub effect: String,
}

/// The assessment as data (the dashboard renders the same value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub generated_at: DateTime<Utc>,
    pub scan_days: u32,
    pub assets: u64,
    pub never_scanned: u64,
    pub not_recent: u64,
    pub without_owner: u64,
    pub sources: Vec<SourceLine>,
    /// Classes of data never seen at all.
    pub never_seen: Vec<String>,
    pub tactics: Vec<TacticFacts>,
    /// Logsources detection saw, and those enabled rules wait for.
    pub logsources: Vec<LogsourceLine>,
    /// ATT&CK techniques in scope with a fed rule, an unfed one, or none.
    pub techniques: TechniqueCoverage,
    pub kpis: Vec<Kpi>,
    pub goals: Vec<GoalStatus>,
    pub actions: Vec<Action>,
}

fn kpi<'a>(kpis: &'a [Kpi], id: &str) -> Option<&'a Kpi> {
    kpis.iter().find(|k| k.id == id)
}

/// The effect of moving `id` to `after`, phrased against its goal when one exists.
fn effect(kpis: &[Kpi], goals: &[GoalStatus], id: &str, after: f64) -> String {
    let before = opt(kpi(kpis, id).and_then(|k| k.value));
    match goals.iter().find(|g| g.goal.kpi == id) {
        Some(g) => format!(
            "goal {} {} {}: {before} -> {}",
            id,
            g.goal.op,
            num(g.goal.target),
            num(after)
        ),
        None => format!("{id}: {before} -> {} (no goal on it)", num(after)),
    }
}

fn sources(f: &MeasureFacts, now: DateTime<Utc>) -> (Vec<SourceLine>, Vec<String>) {
    let flowing = |t: DateTime<Utc>| {
        if now - t <= Duration::days(FLOWING_DAYS) {
            "flowing"
        } else {
            "silent"
        }
    };
    let mut out = Vec::new();
    for s in &f.scanners {
        out.push(SourceLine {
            kind: "scanner".into(),
            name: s.tool.clone(),
            last: Some(s.last_import),
            status: flowing(s.last_import).into(),
        });
    }
    for s in &f.event_sources {
        out.push(SourceLine {
            kind: "events".into(),
            name: s.source.clone(),
            last: Some(s.last_detected),
            status: flowing(s.last_detected).into(),
        });
    }
    for s in &f.feeds {
        let last = s.updated_at.max(s.checked_at);
        let status = match last {
            None => "never seen",
            Some(t) if now - t <= Duration::days(FEED_FRESH_DAYS) => "fresh",
            Some(_) => "stale",
        };
        out.push(SourceLine {
            kind: "intel feed".into(),
            name: s.name.clone(),
            last,
            status: status.into(),
        });
    }
    let mut never = Vec::new();
    if f.scanners.is_empty() {
        never.push("vulnerability scanners: no scan ever imported".to_string());
    }
    if f.event_sources.is_empty() {
        never.push("event logs (EDR, Sysmon, IDS): no alert ever stored".to_string());
    }
    if f.feeds.is_empty() && f.kev_entries == 0 {
        never.push("threat intelligence: no feed configured and no KEV catalogue".to_string());
    }
    if f.tactics.is_empty() {
        never.push("MITRE ATT&CK: not imported, detection coverage cannot be mapped".to_string());
    }
    (out, never)
}

/// Builds the assessment from facts, KPIs and goal statuses (`cfg`: the KPI settings the
/// KPIs were computed with: the scan period and the techniques in scope).
pub fn assess(
    f: &MeasureFacts,
    kpis: &[Kpi],
    goals: &[GoalStatus],
    now: DateTime<Utc>,
    cfg: &KpiConfig,
) -> Assessment {
    let scan_days = cfg.scan_days;
    let (sources, never_seen) = sources(f, now);
    let not_recent = f
        .assets
        .saturating_sub(f.assets_recent)
        .saturating_sub(f.assets_never_scanned);
    let mut a = Assessment {
        generated_at: now,
        scan_days,
        assets: f.assets,
        never_scanned: f.assets_never_scanned,
        not_recent,
        without_owner: f.assets_without_owner,
        sources,
        never_seen,
        tactics: f.tactics.clone(),
        logsources: logsources::lines(f, &cfg.techniques, now, FLOWING_DAYS),
        techniques: coverage::techniques(f, &cfg.techniques),
        kpis: kpis.to_vec(),
        goals: goals.to_vec(),
        actions: Vec::new(),
    };
    a.actions = actions(f, &a);
    a
}

fn push(out: &mut Vec<Action>, action: String, gap: f64, effect: String) {
    out.push(Action {
        action,
        gap: (gap * 1000.0).round() / 1000.0,
        effect,
    });
}

/// Every action the facts call for, largest gap first, ten at most.
fn actions(f: &MeasureFacts, a: &Assessment) -> Vec<Action> {
    let mut out = Vec::new();
    inventory_actions(f, a, &mut out);
    exposure_actions(f, a, &mut out);
    source_actions(a, &mut out);
    out.sort_by(|a, b| {
        b.gap
            .total_cmp(&a.gap)
            .then_with(|| a.action.cmp(&b.action))
    });
    out.truncate(10);
    out
}

fn inventory_actions(f: &MeasureFacts, a: &Assessment, out: &mut Vec<Action>) {
    let (k, g) = (&a.kpis[..], &a.goals[..]);
    if f.assets > 0 {
        let cov = f.assets_recent as f64 / f.assets as f64;
        for (n, what) in [
            (f.assets_never_scanned, "no scanner has ever reported"),
            (a.not_recent, "not scanned in the last period"),
        ] {
            if n > 0 {
                let after = (cov + n as f64 / f.assets as f64).min(1.0);
                push(
                    out,
                    format!("scan the {n} assets {what}"),
                    n as f64 / f.assets as f64,
                    effect(k, g, "coverage.scanned_assets", after),
                );
            }
        }
        if f.assets_without_owner > 0 {
            push(
                out,
                format!("assign an owner team to {} assets", f.assets_without_owner),
                0.5 * f.assets_without_owner as f64 / f.assets as f64,
                "every exposure on them gets a ticket and an SLA owner".into(),
            );
        }
    }
}

fn exposure_actions(f: &MeasureFacts, a: &Assessment, out: &mut Vec<Action>) {
    let (k, g) = (&a.kpis[..], &a.goals[..]);
    let kev_inet: u64 = f.priorities.iter().map(|p| p.kev_open_internet).sum();
    let kev: u64 = f.priorities.iter().map(|p| p.kev_open).sum();
    if kev_inet > 0 && f.assets_exposure_known > 0 {
        push(
            out,
            format!("patch the {kev_inet} KEV exposures on internet-facing assets"),
            1.0,
            effect(k, g, "kev_open.internet_facing", 0.0),
        );
    }
    if kev > kev_inet && f.kev_entries > 0 {
        push(
            out,
            format!("patch the {} other KEV exposures", kev - kev_inet),
            0.8,
            effect(k, g, "kev_open.total", 0.0),
        );
    }
    for (p, name) in PRIORITIES {
        let Some(pf) = f.priorities.iter().find(|x| x.priority == p) else {
            continue;
        };
        let total = pf.fixed_in_time + pf.fixed_late + pf.open_in_time + pf.open_overdue;
        if pf.open_overdue > 0 && total > 0 {
            let after =
                (pf.fixed_in_time + pf.open_in_time + pf.open_overdue) as f64 / total as f64;
            let weight = [0.0, 0.9, 0.7, 0.4, 0.2][p as usize];
            push(
                out,
                format!(
                    "fix the {} overdue P{p} ({name}) exposures",
                    pf.open_overdue
                ),
                weight * pf.open_overdue as f64 / total as f64,
                effect(k, g, &format!("sla.{name}"), after),
            );
        }
    }
}

fn source_actions(a: &Assessment, out: &mut Vec<Action>) {
    let g = &a.goals[..];
    for s in a
        .sources
        .iter()
        .filter(|s| s.status == "silent" || s.status == "stale")
    {
        push(
            out,
            format!(
                "restore the {} {} ({}, last {})",
                s.kind,
                s.name,
                s.status,
                day(s.last)
            ),
            0.6,
            "data flows again: KPIs read current data".into(),
        );
    }
    for n in &a.never_seen {
        push(
            out,
            format!("onboard {n}"),
            0.7,
            "KPIs that say `cannot compute` for lack of it get a value".into(),
        );
    }
    let blind: Vec<&TacticFacts> = a
        .tactics
        .iter()
        .filter(|t| t.alerted == 0 && t.techniques > 0)
        .collect();
    if !blind.is_empty() {
        let n: u64 = blind.iter().map(|t| t.techniques).sum();
        let names: Vec<&str> = blind.iter().take(6).map(|t| t.tactic.as_str()).collect();
        let more = blind.len().saturating_sub(names.len());
        push(
            out,
            format!(
                "add detections for the {} blind-spot tactics ({n} techniques, none alerted): {}{}",
                blind.len(),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
            0.6 * blind.len() as f64 / a.tactics.len() as f64,
            "closes blind spots: alerts start naming their techniques".into(),
        );
    }
    logsource_actions(a, out);
    for s in g
        .iter()
        .filter(|s| matches!(s.status, Status::AtRisk | Status::Missed))
    {
        push(
            out,
            format!(
                "goal {} {} {} is {}: {}",
                s.goal.kpi,
                s.goal.op,
                num(s.goal.target),
                s.status.as_str(),
                s.moves
            ),
            0.5,
            format!("{}: {} now", s.goal.kpi, opt(s.value)),
        );
    }
}

/// Onboarding the three never-seen logsources that would cover the most techniques in scope
/// (then feed the most rules), each with its effect on `coverage.techniques`.
fn logsource_actions(a: &Assessment, out: &mut Vec<Action>) {
    let scope = a.techniques.scope.len();
    if scope == 0 {
        return;
    }
    let covered = a.techniques.covered.len();
    for l in a
        .logsources
        .iter()
        .filter(|l| l.status == "never seen")
        .take(3)
    {
        let gain = l.would_cover.len();
        let after = (covered + gain) as f64 / scope as f64;
        push(
            out,
            format!(
                "onboard the logsource {}: {} enabled rules wait for it{}",
                l.name,
                l.rules,
                if gain > 0 {
                    format!(" ({})", l.would_cover.join(", "))
                } else {
                    String::new()
                }
            ),
            0.6 * gain as f64 / scope as f64,
            effect(&a.kpis, &a.goals, "coverage.techniques", after),
        );
    }
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d").to_string())
}

impl Assessment {
    /// Adds the sources declared in ctem.toml (`[[sources]]`) with the status their runs
    /// give them (`flowing`, `late`, `silent`, `failing`, `new`); a silent one becomes an
    /// action like any silent data source.
    pub fn add_declared(&mut self, f: &MeasureFacts, lines: Vec<SourceLine>) {
        self.sources.extend(lines);
        self.actions = actions(f, self);
    }

    pub fn doc(&self) -> Doc {
        let mut d = Doc {
            title: "CTEM assessment: gap analysis".into(),
            subtitle: format!(
                "generated {}",
                self.generated_at.format("%Y-%m-%d %H:%M UTC")
            ),
            sections: Vec::new(),
        };
        d.sections.push(Section {
            title: "Top actions".into(),
            paragraphs: if self.actions.is_empty() {
                vec!["No gap found in the stored data.".into()]
            } else {
                vec!["The ten actions that would close the largest gaps, largest first.".into()]
            },
            head: vec![
                "#".into(),
                "action".into(),
                "gap".into(),
                "expected effect".into(),
            ],
            rows: self
                .actions
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    vec![
                        (i + 1).to_string(),
                        a.action.clone(),
                        num(a.gap),
                        a.effect.clone(),
                    ]
                })
                .collect(),
            ..Default::default()
        });
        d.sections.push(Section {
            title: "Inventory coverage".into(),
            paragraphs: vec![format!(
                "{} assets known; \"not recent\" means not seen by a scan in the last {} days.",
                self.assets, self.scan_days
            )],
            chart: vec![
                ("never scanned".into(), self.never_scanned as f64),
                ("not scanned recently".into(), self.not_recent as f64),
                ("without an owner".into(), self.without_owner as f64),
            ],
            ..Default::default()
        });
        let mut paragraphs: Vec<String> = self
            .never_seen
            .iter()
            .map(|n| format!("Never seen: {n}."))
            .collect();
        if self.sources.is_empty() {
            paragraphs.push("No data source has delivered anything yet.".into());
        }
        d.sections.push(Section {
            title: "Data sources".into(),
            paragraphs,
            head: vec![
                "kind".into(),
                "source".into(),
                "last delivery".into(),
                "status".into(),
            ],
            rows: self
                .sources
                .iter()
                .map(|s| {
                    vec![
                        s.kind.clone(),
                        s.name.clone(),
                        day(s.last),
                        s.status.clone(),
                    ]
                })
                .collect(),
            ..Default::default()
        });
        d.sections.push(self.logsource_section());
        d.sections.push(self.detection_section());
        d.sections.push(self.posture_section());
        d.sections.push(goals_section(&self.goals));
        d
    }

    fn logsource_section(&self) -> Section {
        const SHOWN: usize = 20;
        let mut p = vec![
            "What detection has seen events of (`ctem detect --store`, the server's event \
             ingest), and the logsources enabled rules wait for that no event has fed."
                .to_string(),
        ];
        if self.logsources.is_empty() {
            p.push("Nothing recorded: run `ctem detect --store --rules DIR` on event logs.".into());
        }
        if self.logsources.len() > SHOWN {
            p.push(format!(
                "The first {SHOWN} of {} are listed.",
                self.logsources.len()
            ));
        }
        Section {
            title: "Logsources".into(),
            paragraphs: p,
            head: [
                "logsource",
                "status",
                "events",
                "last seen",
                "rules fed",
                "would cover",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .logsources
                .iter()
                .take(SHOWN)
                .map(|l| {
                    vec![
                        l.name.clone(),
                        l.status.clone(),
                        l.events.to_string(),
                        day(l.last),
                        l.rules.to_string(),
                        l.would_cover.join(", "),
                    ]
                })
                .collect(),
            ..Default::default()
        }
    }

    fn detection_section(&self) -> Section {
        let blind: Vec<&str> = self
            .tactics
            .iter()
            .filter(|t| t.alerted == 0)
            .map(|t| t.tactic.as_str())
            .collect();
        let mut p = vec![
            "Techniques of each ATT&CK tactic, and how many of them alerts have named.".to_string(),
        ];
        let t = &self.techniques;
        if !t.scope.is_empty() {
            p.push(format!(
                "Techniques in scope ({}): {} of {} have an enabled rule whose logsource is \
                 seen.",
                if t.configured_scope {
                    "[kpi] techniques"
                } else {
                    "those enabled rules are tagged with"
                },
                t.covered.len(),
                t.scope.len()
            ));
            let list = |v: &[String]| {
                let shown: Vec<&str> = v.iter().take(15).map(String::as_str).collect();
                let more = v.len().saturating_sub(shown.len());
                format!(
                    "{}{}",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            };
            if !t.unfed.is_empty() {
                p.push(format!(
                    "Blind spots with a rule waiting for its logsource: {}.",
                    list(&t.unfed)
                ));
            }
            if !t.no_rule.is_empty() {
                p.push(format!(
                    "Blind spots with no enabled rule: {}.",
                    list(&t.no_rule)
                ));
            }
        }
        if self.tactics.is_empty() {
            p.push(
                "ATT&CK is not imported: run `ctem intel import enterprise-attack.json`.".into(),
            );
        } else if !blind.is_empty() {
            p.push(format!(
                "Blind spots (no alert on any technique): {}.",
                blind.join(", ")
            ));
        }
        Section {
            title: "Detection coverage by ATT&CK tactic".into(),
            paragraphs: p,
            head: vec!["tactic".into(), "techniques".into(), "alerted".into()],
            rows: self
                .tactics
                .iter()
                .map(|t| {
                    vec![
                        t.tactic.clone(),
                        t.techniques.to_string(),
                        t.alerted.to_string(),
                    ]
                })
                .collect(),
            ..Default::default()
        }
    }

    fn posture_section(&self) -> Section {
        let chart = PRIORITIES
            .iter()
            .filter_map(|(p, n)| {
                kpi(&self.kpis, &format!("open.{n}"))
                    .and_then(|k| k.value)
                    .map(|v| (format!("P{p} {n} open"), v))
            })
            .collect();
        Section {
            title: "Exposure posture and KPIs".into(),
            paragraphs: vec![
                "n/a: the KPI cannot be computed; the reason says which data is lacking.".into(),
            ],
            chart,
            head: vec!["kpi".into(), "value".into(), "n".into(), "note".into()],
            rows: self
                .kpis
                .iter()
                .map(|k| {
                    vec![
                        k.id.clone(),
                        opt(k.value),
                        k.n.map_or_else(String::new, |n| n.to_string()),
                        k.missing.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        }
    }
}

/// The goals table of both reports.
pub fn goals_section(goals: &[GoalStatus]) -> Section {
    Section {
        title: "Goals".into(),
        paragraphs: if goals.is_empty() {
            vec!["No goals declared: add `[[goals]]` to ctem.toml (docs/kpis.md).".into()]
        } else {
            vec![]
        },
        head: [
            "goal",
            "owner",
            "due",
            "value",
            "trend/week",
            "status",
            "what moves it",
        ]
        .map(String::from)
        .to_vec(),
        rows: goals
            .iter()
            .map(|s| {
                vec![
                    s.goal.name.clone().unwrap_or_else(|| {
                        format!("{} {} {}", s.goal.kpi, s.goal.op, num(s.goal.target))
                    }),
                    s.goal.owner.clone().unwrap_or_default(),
                    s.goal.due.map(|d| d.to_string()).unwrap_or_default(),
                    opt(s.value),
                    opt(s.trend_per_week),
                    s.status.as_str().to_string(),
                    s.moves.clone(),
                ]
            })
            .collect(),
        ..Default::default()
    }
}
