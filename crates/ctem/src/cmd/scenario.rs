//! `ctem scenario run` and `ctem coverage`: simulated attack scenarios and proven detection
//! coverage (crates/ctem-paths).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use ctem_detect::{Engine, Mappings};
use ctem_paths::coverage;
use ctem_paths::scenario::{self, Scenario, ScenarioReport};
use ctem_store::exercise::{Exercise, ExerciseTask, TaskEvent};

use crate::cli::ExerciseCommand;
use crate::output::{Table, cut};
use ctem_core::Settings;

fn engine(rules: &[PathBuf]) -> Result<Option<Engine>> {
    Ok(match super::attack::load_rules(rules)? {
        Some(rs) => Some(Engine::new(rs, Mappings::builtin()?)),
        None => None,
    })
}

/// Technique id -> tactic shortnames, from the store when it has ATT&CK.
fn tactics(settings: &Settings) -> Result<HashMap<String, Vec<String>>> {
    if !super::sqlite_path(&settings.store.url).is_some_and(Path::exists) {
        return Ok(HashMap::new());
    }
    let store = super::open_store(settings)?;
    Ok(super::attack::techniques(store.as_ref())?
        .into_iter()
        .map(|t| (t.id, t.tactics))
        .collect())
}

/// Options of `ctem scenario run`.
pub struct RunOptions<'a> {
    pub rules: &'a [PathBuf],
    pub replay: Option<&'a Path>,
    pub exercise: bool,
    pub json: bool,
}

pub fn run(settings: &Settings, file: &Path, o: &RunOptions<'_>) -> Result<ExitCode> {
    let s = Scenario::load(file)?;
    let report = evaluate(settings, &s, file, o.rules, o.replay)?;
    let mut store = super::open_store(settings)?;
    let exercise = record(store.as_mut(), &s, file, &report, o.exercise)?;
    if o.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(x) = &exercise {
            v["exercise"] = serde_json::to_value(x)?;
        }
        outln!("{v}");
    } else {
        out!("{}", render(&report, !o.rules.is_empty()));
        if let Some(x) = &exercise {
            outln!(
                "exercise #{} opened: {} tasks (ctem exercise ack {} STEP / complete {} STEP)",
                x.id,
                x.tasks.len(),
                x.id,
                x.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Records a run for the dashboard and the API (`GET /api/v1/scenarios`) and, when
/// `exercise`, opens an exercise with one task per step for the team that must act.
pub fn record(
    store: &mut dyn ctem_store::Store,
    s: &Scenario,
    file: &Path,
    report: &ScenarioReport,
    exercise: bool,
) -> Result<Option<Exercise>> {
    let now = Utc::now();
    let opened = if exercise {
        let tasks: Vec<ExerciseTask> = report
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| ExerciseTask {
                step: i as i64 + 1,
                technique: st.technique.clone(),
                title: st.name.clone().unwrap_or_else(|| st.technique.clone()),
                team: st.team.clone(),
                response: st.response.clone(),
                acked_at: None,
                completed_at: None,
            })
            .collect();
        let id = store.open_exercise(&s.name, &file.display().to_string(), now, &tasks)?;
        store.exercise(id)?
    } else {
        None
    };
    store.record_scenario_run(
        &s.name,
        &file.display().to_string(),
        now,
        opened.as_ref().map(|x| x.id),
        &serde_json::to_string(report)?,
    )?;
    Ok(opened)
}

/// `ctem exercise ...`.
pub fn exercise(settings: &Settings, c: ExerciseCommand) -> Result<ExitCode> {
    let mut store = super::open_existing(settings)?;
    let (event, id, step, json) = match c {
        ExerciseCommand::List { json } => {
            let all = store.exercises()?;
            if json {
                outln!("{}", serde_json::to_string(&all)?);
            } else {
                let mut t = Table::new(&["ID", "NAME", "OPENED", "TASKS", "ACKED", "DONE"]);
                for x in &all {
                    t.row(vec![
                        x.id.to_string(),
                        cut(&x.name, 40),
                        x.opened_at.format("%Y-%m-%d %H:%M").to_string(),
                        x.tasks.len().to_string(),
                        x.tasks
                            .iter()
                            .filter(|t| t.acked_at.is_some())
                            .count()
                            .to_string(),
                        x.tasks
                            .iter()
                            .filter(|t| t.completed_at.is_some())
                            .count()
                            .to_string(),
                    ]);
                }
                out!("{}", t.render());
            }
            return Ok(ExitCode::SUCCESS);
        }
        ExerciseCommand::Show { id, json } => {
            let x = store
                .exercise(id)?
                .ok_or_else(|| anyhow::anyhow!("exercise {id} not found"))?;
            if json {
                outln!("{}", serde_json::to_string(&x)?);
            } else {
                out!("{}", render_exercise(&x));
            }
            return Ok(ExitCode::SUCCESS);
        }
        ExerciseCommand::Ack { id, step, json } => (TaskEvent::Ack, id, step, json),
        ExerciseCommand::Complete { id, step, json } => (TaskEvent::Complete, id, step, json),
    };
    // the server's rule for the same change (docs/roles.md, work_exercises)
    ctem_core::roles::authorize(
        store.as_ref(),
        super::tickets::actor().as_deref(),
        ctem_model::work::Action::WorkExercises,
    )?;
    let t = store.update_task(id, step, event, Utc::now())?;
    if json {
        outln!("{}", serde_json::to_string(&t)?);
    } else {
        outln!(
            "exercise {id} task {step} ({}, {}): {}",
            t.technique,
            t.team,
            if t.completed_at.is_some() {
                "completed"
            } else {
                "acknowledged"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn render_exercise(x: &Exercise) -> String {
    let mut t = Table::new(&["STEP", "TECHNIQUE", "TASK", "TEAM", "ACKED", "COMPLETED"]);
    let at = |d: Option<chrono::DateTime<Utc>>| {
        d.map(|d| {
            let mins = (d - x.opened_at).num_seconds() as f64 / 60.0;
            format!("{} (+{mins:.0} min)", d.format("%H:%M:%S"))
        })
        .unwrap_or_else(|| "-".into())
    };
    for k in &x.tasks {
        t.row(vec![
            k.step.to_string(),
            k.technique.clone(),
            cut(k.response.as_deref().unwrap_or(&k.title), 50),
            k.team.clone(),
            at(k.acked_at),
            at(k.completed_at),
        ]);
    }
    format!(
        "exercise #{} {} (opened {})\n{}",
        x.id,
        x.name,
        x.opened_at.format("%Y-%m-%d %H:%M:%S"),
        t.render()
    )
}

/// Evaluates a scenario against the store's environment.
pub fn evaluate(
    settings: &Settings,
    s: &Scenario,
    file: &Path,
    rules: &[PathBuf],
    replay: Option<&Path>,
) -> Result<ScenarioReport> {
    let store = super::open_existing(settings)?;
    let model = super::paths::Model::load(store.as_ref(), &settings.paths)?;
    let engine = engine(rules)?;
    let tactics = tactics(settings)?;
    let cx = scenario::Context {
        graph: &model.graph,
        env: &model.env,
        engine: engine.as_ref(),
        tactics: &tactics,
        replay,
    };
    Ok(scenario::run(s, file, &cx)?)
}

pub fn render(r: &ScenarioReport, with_rules: bool) -> String {
    let mut t = Table::new(&[
        "#",
        "TECHNIQUE",
        "FEASIBLE",
        "RULES",
        "DETECTABLE",
        "PROVEN",
        "TEAM",
    ]);
    for (i, st) in r.steps.iter().enumerate() {
        let feasible = match st.feasible {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let n = |v: &[String]| {
            if with_rules {
                v.len().to_string()
            } else {
                "-".into()
            }
        };
        t.row(vec![
            (i + 1).to_string(),
            format!("{} {}", st.technique, st.name.as_deref().unwrap_or("")),
            feasible.into(),
            n(&st.rules),
            n(&st.detectable),
            n(&st.proven),
            st.team.clone(),
        ]);
    }
    let mut out = format!("scenario: {}\n{}", r.name, t.render());
    for (i, st) in r.steps.iter().enumerate() {
        out.push_str(&format!(
            "{}. {}: {}",
            i + 1,
            st.technique,
            st.evidence.basis
        ));
        if !st.evidence.exposures.is_empty() {
            let ids: Vec<String> = st
                .evidence
                .exposures
                .iter()
                .take(10)
                .map(|x| x.to_string())
                .collect();
            out.push_str(&format!("; exposures {}", ids.join(", ")));
        }
        if !st.evidence.assets.is_empty() {
            out.push_str(&format!(
                "; assets {}",
                cut(&st.evidence.assets.join(", "), 80)
            ));
        }
        if !st.proven.is_empty() {
            out.push_str(&format!("; fired {}", st.proven.join(", ")));
        }
        if let Some(resp) = &st.response {
            out.push_str(&format!("; response: {resp}"));
        }
        out.push('\n');
    }
    if !with_rules {
        out.push_str("pass --rules DIR to judge detection (detectable, proven)\n");
    }
    out
}

pub fn coverage(
    settings: &Settings,
    rules: &[PathBuf],
    replay: &[PathBuf],
    scenarios: &[PathBuf],
    navigator: Option<&Path>,
    json: bool,
) -> Result<ExitCode> {
    let Some(engine) = engine(rules)? else {
        anyhow::bail!("no rules: pass --rules DIR");
    };
    let mut files: Vec<PathBuf> = replay.to_vec();
    for f in scenarios {
        let s = Scenario::load(f)?;
        let dir = f.parent().unwrap_or(Path::new("."));
        files.extend(
            s.steps
                .iter()
                .filter_map(|st| st.replay.as_ref().map(|r| dir.join(r))),
        );
    }
    files.sort();
    files.dedup();
    let mut events = Vec::new();
    for f in &files {
        events.extend(scenario::read_events(f).with_context(|| f.display().to_string())?);
    }
    let names: BTreeMap<String, String> = tactics_names(settings)?;
    let cov = coverage::coverage(&engine, &events, &names);
    if let Some(out) = navigator {
        let layer = coverage::navigator_layer("ctem detection coverage", &cov);
        std::fs::write(out, serde_json::to_string_pretty(&layer)?)
            .with_context(|| out.display().to_string())?;
        eprintln!("wrote {} ({} techniques)", out.display(), cov.len());
    }
    if json {
        outln!("{}", serde_json::to_string(&cov)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "TECHNIQUE",
        "NAME",
        "RULES",
        "LOGSOURCE SEEN",
        "PROVEN",
        "SCORE",
    ]);
    for c in &cov {
        t.row(vec![
            c.technique.clone(),
            cut(&c.name, 40),
            c.rules.len().to_string(),
            c.logsource_seen.len().to_string(),
            c.proven.len().to_string(),
            c.score.to_string(),
        ]);
    }
    out!("{}", t.render());
    eprintln!(
        "{} techniques: {} proven, {} with logsource seen, {} events replayed",
        cov.len(),
        cov.iter().filter(|c| c.score == 3).count(),
        cov.iter().filter(|c| c.score >= 2).count(),
        events.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Technique id -> name, when the store has ATT&CK.
fn tactics_names(settings: &Settings) -> Result<BTreeMap<String, String>> {
    if !super::sqlite_path(&settings.store.url).is_some_and(Path::exists) {
        return Ok(BTreeMap::new());
    }
    let store = super::open_store(settings)?;
    Ok(super::attack::techniques(store.as_ref())?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}
