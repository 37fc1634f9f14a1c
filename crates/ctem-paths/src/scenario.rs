//! Simulated attack scenarios: an adversary as a chain of ATT&CK techniques, each judged
//! feasible (the attack graph), detectable (rules tagged with it whose logsource the data
//! holds), proven (rules that fired when the step's recorded events were replayed through
//! the detection engine), and given to the team that must act.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use ctem_detect::decode::{self, Format};
use ctem_detect::{Engine, Record};
use serde::{Deserialize, Serialize};

use crate::build::AttackGraph;
use crate::env::Environment;
use crate::error::{Error, Result};
use crate::technique::{self, Evidence};

/// A scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub steps: Vec<ScenarioStep>,
}

/// One step: a technique, optionally the events it leaves and the response expected.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioStep {
    pub technique: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Event file, relative to the scenario file.
    #[serde(default)]
    pub replay: Option<String>,
    /// The team that must act, when the scenario names it (else ownership decides).
    #[serde(default)]
    pub team: Option<String>,
    /// What that team should do (isolate a segment, restore backups, ...).
    #[serde(default)]
    pub response: Option<String>,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let s: Scenario = serde_saphyr::from_str(text).map_err(|e| Error::Scenario {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        if s.steps.is_empty() {
            return Err(Error::Scenario {
                path: origin.to_string(),
                message: "no steps".into(),
            });
        }
        for (i, st) in s.steps.iter().enumerate() {
            let t = st.technique.trim();
            let ok = t.len() >= 5
                && t.starts_with('T')
                && t[1..5].bytes().all(|b| b.is_ascii_digit())
                && (t.len() == 5
                    || (t.len() == 9
                        && &t[5..6] == "."
                        && t[6..].bytes().all(|b| b.is_ascii_digit())));
            if !ok {
                return Err(Error::Scenario {
                    path: origin.to_string(),
                    message: format!(
                        "steps[{i}].technique: {t:?} is not an ATT&CK id (T1059 or T1059.001)"
                    ),
                });
            }
        }
        Ok(s)
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    pub technique: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `null` when no graph rule or tactic judges the technique.
    pub feasible: Option<bool>,
    pub evidence: Evidence,
    /// Every loaded rule tagged with the technique.
    pub rules: Vec<String>,
    /// Those whose logsource the scenario's events hold.
    pub detectable: Vec<String>,
    /// Those that fired on the step's replayed events.
    pub proven: Vec<String>,
    /// Events replayed for this step.
    pub events: usize,
    pub team: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// The outcome of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub steps: Vec<StepResult>,
}

/// Everything a scenario run needs besides the scenario.
pub struct Context<'a> {
    pub graph: &'a AttackGraph,
    pub env: &'a Environment,
    /// The engine with the loaded rules; `None` when no rules were given.
    pub engine: Option<&'a Engine>,
    /// Technique id -> tactic shortnames (from the ATT&CK store; may be empty).
    pub tactics: &'a HashMap<String, Vec<String>>,
    /// Replays every step with this file instead of the steps' own.
    pub replay: Option<&'a Path>,
}

/// Reads an event file (EVTX, JSON lines, ...) into records.
pub fn read_events(path: &Path) -> Result<Vec<Record>> {
    let recs = decode::open(path, Format::Auto)?;
    let mut out = Vec::new();
    for r in recs {
        out.push(r?);
    }
    Ok(out)
}

/// For each rule of `engine`, whether its logsource holds on at least one of `events`. A
/// logsource the mappings do not describe cannot be judged and counts as unseen (a rule
/// that fires on the events is seen all the same: callers add it).
pub fn logsources_seen(engine: &Engine, events: &[Record]) -> Vec<bool> {
    let m = engine.mappings();
    let entries: Vec<Option<usize>> = engine
        .rules()
        .iter()
        .map(|r| m.logsource_index(&r.logsource))
        .collect();
    let mut held = vec![false; m.logsources.len()];
    for ev in events {
        let view = m.view(&ev.event);
        for (i, e) in m.logsources.iter().enumerate() {
            if !held[i] && e.holds(&view) {
                held[i] = true;
            }
        }
    }
    entries
        .iter()
        .map(|e| match e {
            Some(i) => held[*i],
            None => false,
        })
        .collect()
}

/// Runs a scenario whose file is at `base` (replay paths are relative to its folder).
pub fn run(s: &Scenario, base: &Path, cx: &Context<'_>) -> Result<ScenarioReport> {
    let dir = base.parent().unwrap_or(Path::new("."));
    let mut per_step: Vec<Vec<Record>> = Vec::new();
    let mut cache: HashMap<PathBuf, Vec<Record>> = HashMap::new();
    for st in &s.steps {
        let file = match (cx.replay, &st.replay) {
            (Some(r), _) => Some(r.to_path_buf()),
            (None, Some(r)) => Some(dir.join(r)),
            (None, None) => None,
        };
        let evs = match file {
            Some(f) => match cache.get(&f) {
                Some(e) => e.clone(),
                None => {
                    let e = read_events(&f)?;
                    cache.insert(f, e.clone());
                    e
                }
            },
            None => Vec::new(),
        };
        per_step.push(evs);
    }
    let all: Vec<Record> = cache.into_values().flatten().collect();
    let seen = cx.engine.map(|e| logsources_seen(e, &all));
    let mut steps = Vec::new();
    for (st, evs) in s.steps.iter().zip(&per_step) {
        let tid = st.technique.trim().to_ascii_uppercase();
        let tactics = cx
            .tactics
            .get(&tid)
            .or_else(|| cx.tactics.get(tid.split('.').next().unwrap_or(&tid)))
            .cloned()
            .unwrap_or_default();
        let ev = technique::evidence(cx.graph, cx.env, &tid, &tactics);
        let (mut rules, mut detectable, mut proven) = (Vec::new(), Vec::new(), BTreeSet::new());
        if let (Some(engine), Some(seen)) = (cx.engine, &seen) {
            for (i, r) in engine.rules().iter().enumerate() {
                if technique::tagged_with(&r.meta.tags, &tid) {
                    rules.push(r.meta.id.clone());
                    if seen[i] {
                        detectable.push(r.meta.id.clone());
                    }
                }
            }
            for rec in evs {
                for a in engine.process_record(rec) {
                    if technique::tagged_with(&a.tags, &tid) {
                        proven.insert(a.rule_id);
                    }
                }
            }
            for p in &proven {
                if !detectable.contains(p) {
                    detectable.push(p.clone());
                }
            }
        }
        let team = st
            .team
            .clone()
            .unwrap_or_else(|| team_for(cx.env, &ev, &tactics));
        steps.push(StepResult {
            technique: tid,
            name: st.name.clone(),
            feasible: ev.feasible,
            evidence: ev,
            rules,
            detectable,
            proven: proven.into_iter().collect(),
            events: evs.len(),
            team,
            response: st.response.clone(),
        });
    }
    Ok(ScenarioReport {
        name: s.name.clone(),
        steps,
    })
}

/// The owners of the assets a step touches (their exposures' assets, entry points), else the
/// role that acts on the tactic (docs/roles.md): incident responders contain what happens on
/// hosts, IT operations restore after impact.
fn team_for(env: &Environment, ev: &Evidence, tactics: &[String]) -> String {
    let mut owners = BTreeSet::new();
    for x in &ev.exposures {
        if let Some(e) = env.exposures.iter().find(|e| e.id == *x)
            && let Some(a) = env.assets.iter().find(|a| a.id == e.asset)
            && let Some(o) = &a.owner
        {
            owners.insert(o.clone());
        }
    }
    for name in &ev.assets {
        if let Some(a) = env.assets.iter().find(|a| &a.name == name)
            && let Some(o) = &a.owner
        {
            owners.insert(o.clone());
        }
    }
    if !owners.is_empty() {
        return owners.into_iter().collect::<Vec<_>>().join(", ");
    }
    if tactics.iter().any(|t| t == "impact") {
        "it_operations".into()
    } else {
        "incident_responder".into()
    }
}
