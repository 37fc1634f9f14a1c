//! The measurement part of `ctem demo`: a bundled attack sample run through detection, then
//! incidents, KPIs, goals and the top gaps of the assessment.

use std::path::Path;

use anyhow::{Context, Result};
use ctem_measure::goals::{self, GoalConfig};
use ctem_measure::kpi;
use ctem_measure::report::{assess::assess, num, opt};
use ctem_store::Store;

use crate::cli::DetectArgs;

/// Windows events of two LSASS dumps (OTRF Security-Datasets, MIT), gzipped.
const EVENTS: &[(&str, &[u8])] = &[
    (
        "otrf-lsass-dumpert.json.gz",
        include_bytes!("../../../../examples/demo/events/otrf-lsass-dumpert.json.gz"),
    ),
    (
        "otrf-lsass-comsvcs.json.gz",
        include_bytes!("../../../../examples/demo/events/otrf-lsass-comsvcs.json.gz"),
    ),
];

/// The Sigma rules of the demo (SigmaHQ, DRL-1.1): those that fire on its events.
const RULES: &[(&str, &[u8])] = &[
    (
        "file_event_win_hktl_dumpert.yml",
        include_bytes!("../../../../examples/demo/rules/file_event_win_hktl_dumpert.yml"),
    ),
    (
        "file_event_win_lsass_default_dump_file_names.yml",
        include_bytes!(
            "../../../../examples/demo/rules/file_event_win_lsass_default_dump_file_names.yml"
        ),
    ),
    (
        "proc_access_win_lsass_dump_comsvcs_dll.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_access_win_lsass_dump_comsvcs_dll.yml"
        ),
    ),
    (
        "proc_access_win_lsass_dump_keyword_image.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_access_win_lsass_dump_keyword_image.yml"
        ),
    ),
    (
        "proc_access_win_lsass_memdump.yml",
        include_bytes!("../../../../examples/demo/rules/proc_access_win_lsass_memdump.yml"),
    ),
    (
        "proc_access_win_susp_dbgcore_dbghelp_load.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_access_win_susp_dbgcore_dbghelp_load.yml"
        ),
    ),
    (
        "proc_creation_win_hktl_execution_via_imphashes.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_creation_win_hktl_execution_via_imphashes.yml"
        ),
    ),
    (
        "proc_creation_win_rundll32_process_dump_via_comsvcs.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_creation_win_rundll32_process_dump_via_comsvcs.yml"
        ),
    ),
    (
        "proc_creation_win_rundll32_susp_activity.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_creation_win_rundll32_susp_activity.yml"
        ),
    ),
    (
        "proc_creation_win_susp_lsass_dmp_cli_keywords.yml",
        include_bytes!(
            "../../../../examples/demo/rules/proc_creation_win_susp_lsass_dmp_cli_keywords.yml"
        ),
    ),
    (
        "win_security_audit_log_cleared.yml",
        include_bytes!("../../../../examples/demo/rules/win_security_audit_log_cleared.yml"),
    ),
    (
        "win_security_lsass_access_non_system_account.yml",
        include_bytes!(
            "../../../../examples/demo/rules/win_security_lsass_access_non_system_account.yml"
        ),
    ),
    (
        "win_security_susp_lsass_dump_generic.yml",
        include_bytes!("../../../../examples/demo/rules/win_security_susp_lsass_dump_generic.yml"),
    ),
];

/// The goals the demo measures when ctem.toml declares none (the examples of docs/kpis.md).
pub fn demo_goals() -> Vec<GoalConfig> {
    let g = |kpi: &str, op: &str, target: f64, owner: &str| GoalConfig {
        kpi: kpi.into(),
        op: op.into(),
        target,
        owner: Some(owner.into()),
        due: chrono::NaiveDate::from_ymd_opt(2027, 3, 31),
        name: None,
    };
    vec![
        g("mttr.critical_days", "<=", 7.0, "it_operations"),
        g("kev_open.total", "==", 0.0, "vulnerability_manager"),
        g(
            "coverage.scanned_assets",
            ">=",
            0.95,
            "vulnerability_manager",
        ),
        g("coverage.techniques", ">=", 0.6, "threat_analyst"),
    ]
}

fn write_all(dir: &Path, files: &[(&str, &[u8])]) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut out = Vec::new();
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("write {}", p.display()))?;
        out.push(p.display().to_string());
    }
    Ok(out)
}

/// Runs detection on the bundled events into the store at `url`, then prints incidents,
/// KPIs, goals and the top gaps.
pub fn run(settings: &ctem_core::Settings, dir: &Path, step: usize) -> Result<()> {
    let events = write_all(&dir.join("events"), EVENTS)?;
    write_all(&dir.join("rules"), RULES)?;
    outln!(
        "\n{step}. detect: {} Sigma rules over two recorded LSASS dumps (OTRF Security-Datasets)",
        RULES.len()
    );
    // an incident responder owns the incidents the alerts open
    let mut store = super::open_existing(settings)?;
    store.put_user(&ctem_model::work::User {
        name: "rita".into(),
        email: None,
        role: ctem_model::work::Role::IncidentResponder,
        teams: vec![],
    })?;
    drop(store);
    let args = DetectArgs {
        rules: vec![dir.join("rules")],
        input: "auto".into(),
        group: None,
        alerts_topic: None,
        queue: None,
        exit_idle: None,
        threads: 1,
        follow: false,
        store: true,
        json: false,
        summary: false,
        no_rule_cache: false,
        files: events,
    };
    super::detect::run(settings, args, &crate::input::Limits::default())?;
    let store = super::open_existing(settings)?;
    print_measure(store.as_ref(), &settings.measure, step + 1)?;
    drop(store);
    rehearse(settings, dir, step + 5)
}

/// The demo's scenario, run with its replay and opened as an exercise, so the dashboard's
/// scenarios page has a run and tasks to acknowledge.
const SCENARIO: &[u8] = include_bytes!("../../../../examples/demo/scenario.yml");

fn rehearse(settings: &ctem_core::Settings, dir: &Path, step: usize) -> Result<()> {
    let file = dir.join("scenario.yml");
    std::fs::write(&file, SCENARIO).with_context(|| format!("write {}", file.display()))?;
    let mut settings = settings.clone();
    settings.paths = ctem_core::Settings::from_toml(super::paths::DEMO_CONFIG, None)?.paths;
    let s = ctem_paths::scenario::Scenario::load(&file)?;
    let rules = [dir.join("rules")];
    let report = super::scenario::evaluate(&settings, &s, &file, &rules, None)?;
    let mut store = super::open_existing(&settings)?;
    let x = super::scenario::record(store.as_mut(), &s, &file, &report, true)?;
    let feasible = report
        .steps
        .iter()
        .filter(|s| s.feasible == Some(true))
        .count();
    let proven = report.steps.iter().filter(|s| !s.proven.is_empty()).count();
    outln!(
        "\n{step}. rehearse: scenario \"{}\": {} steps, {feasible} feasible here, {proven} proven by replay",
        s.name,
        report.steps.len()
    );
    if let Some(x) = x {
        outln!(
            "   exercise #{} opened: {} tasks for {} (ctem exercise ack {} STEP)",
            x.id,
            x.tasks.len(),
            {
                let mut teams: Vec<&str> =
                    x.tasks.iter().flat_map(|t| t.team.split(", ")).collect();
                teams.sort();
                teams.dedup();
                teams.join(", ")
            },
            x.id
        );
    }
    Ok(())
}

fn print_measure(
    store: &dyn Store,
    s: &ctem_core::settings::MeasureSettings,
    step: usize,
) -> Result<()> {
    let now = super::measure::now()?;
    let incidents = store.incidents()?;
    outln!(
        "\n{step}. incidents: {} grouped from the alerts (same host within 1 h)",
        incidents.len()
    );
    for i in incidents.iter().take(6) {
        outln!(
            "   #{:<3} {:<8} {:<5} {:>2} alerts  {}",
            i.id.unwrap_or_default(),
            i.severity,
            i.state.as_str(),
            i.alerts,
            crate::output::cut(&i.title, 70)
        );
    }
    let (mut f, k) = kpi::current(store, None, now, &s.kpi)?;
    outln!(
        "\n{}. KPIs (a value with its sample size, or what is missing):",
        step + 1
    );
    for id in [
        "mttd.hours",
        "incidents.per_week",
        "open.critical",
        "open.high",
        "kev_open.total",
        "sla.high",
        "coverage.scanned_assets",
        "coverage.techniques",
    ] {
        if let Some(x) = k.iter().find(|x| x.id == id) {
            match (x.value, &x.missing) {
                (Some(v), _) => outln!("   {id:<26} {} (n={})", num(v), x.n.unwrap_or(0)),
                (None, m) => outln!("   {id:<26} cannot compute: {}", m.as_deref().unwrap_or("")),
            }
        }
    }
    outln!(
        "   (the sample was recorded in 2020 and detected now: MTTD counts from the event time)"
    );
    let goal_list = if s.goals.is_empty() {
        demo_goals()
    } else {
        s.goals.clone()
    };
    let g = goals::evaluate(&goal_list, &k, &store.snapshots()?, now, 28)?;
    outln!("\n{}. goals:", step + 2);
    for x in &g {
        outln!(
            "   {:<34} {:<8} now {}",
            format!("{} {} {}", x.goal.kpi, x.goal.op, num(x.goal.target)),
            x.status.as_str(),
            opt(x.value)
        );
    }
    store.source_facts(&mut f)?;
    let a = assess(&f, &k, &g, now, &s.kpi);
    outln!("\n{}. top gaps (ctem assess):", step + 3);
    for (i, x) in a.actions.iter().take(5).enumerate() {
        outln!("   {}. {}", i + 1, crate::output::cut(&x.action, 100));
        outln!("      effect: {}", crate::output::cut(&x.effect, 100));
    }
    Ok(())
}
