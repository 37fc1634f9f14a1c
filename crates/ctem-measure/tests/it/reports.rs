//! Golden files of the assessment and the review, Markdown and HTML, on the built store
//! with a fixed "now". `UPDATE_GOLDEN=1 cargo test -p ctem-measure --test it reports`
//! rewrites them.

use std::path::PathBuf;

use chrono::Duration;
use ctem_measure::goals::{self, GoalConfig};
use ctem_measure::incidents::{self, IncidentsConfig};
use ctem_measure::kpi::{self, KpiConfig};
use ctem_measure::report::{Format, assess::assess, review};
use ctem_model::IncidentState;
use ctem_store::exercise::{ExerciseStore, ExerciseTask, TaskEvent};
use ctem_store::measure::MeasureStore;

use crate::fixture::{built, now};

fn golden(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{}: missing; run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        got, want,
        "{name} differs; rerun with UPDATE_GOLDEN=1 if intended"
    );
}

fn goal_list() -> Vec<GoalConfig> {
    toml_goals(
        r#"
[[goals]]
kpi = "mttr.critical_days"
op = "<="
target = 7
owner = "it-ops lead"
due = "2027-03-31"
[[goals]]
kpi = "kev_open.internet_facing"
op = "=="
target = 0
owner = "ciso"
due = "2026-06-01"
[[goals]]
kpi = "coverage.scanned_assets"
op = ">="
target = 0.95
owner = "vm lead"
due = "2026-12-31"
[[goals]]
kpi = "coverage.techniques"
op = ">="
target = 0.6
owner = "soc lead"
due = "2027-03-31"
"#,
    )
}

fn toml_goals(text: &str) -> Vec<GoalConfig> {
    #[derive(serde::Deserialize)]
    struct F {
        goals: Vec<GoalConfig>,
    }
    let f: F = serde_json::from_value(toml_to_json(text)).unwrap();
    f.goals
}

/// A minimal reader of the `[[goals]]` tables above (this crate has no TOML dependency).
fn toml_to_json(text: &str) -> serde_json::Value {
    let mut goals = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "[[goals]]" {
            goals.push(serde_json::Map::new());
            continue;
        }
        let (k, v) = line.split_once(" = ").unwrap();
        let v = match v.strip_prefix('"') {
            Some(s) => serde_json::Value::String(s.trim_end_matches('"').into()),
            None => serde_json::json!(v.parse::<f64>().unwrap()),
        };
        goals.last_mut().unwrap().insert(k.into(), v);
    }
    serde_json::json!({ "goals": goals })
}

#[test]
fn assessment_markdown_and_html() {
    let mut b = built();
    incidents::group(&mut b.store, &IncidentsConfig::default().build().unwrap()).unwrap();
    // the rules and logsources of the coverage test: 3 of 5 techniques covered
    b.store
        .record_rules(&crate::coverage::rules(), now())
        .unwrap();
    b.store
        .record_logsources(&crate::coverage::sightings())
        .unwrap();
    let cfg = KpiConfig::default();
    let (mut f, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    let g = goals::evaluate(&goal_list(), &k, &[], now(), 28).unwrap();
    b.store.source_facts(&mut f).unwrap();
    let a = assess(&f, &k, &g, now(), &cfg);
    assert_eq!(a.techniques.covered.len(), 3);
    // the never-seen logsources, the one that covers a technique first; each names the
    // technique it would cover and its effect on the goal (0.6 -> 0.8)
    let never: Vec<(&str, u64, Vec<String>)> = a
        .logsources
        .iter()
        .filter(|l| l.status == "never seen")
        .map(|l| (l.name.as_str(), l.rules, l.would_cover.clone()))
        .collect();
    assert_eq!(
        never,
        [
            ("windows/security/*", 1, vec!["T1003".to_string()]),
            ("zeek/rdp/*", 1, vec!["T1021.001".to_string()]),
        ]
    );
    let onboard: Vec<&str> = a
        .actions
        .iter()
        .filter(|x| x.action.starts_with("onboard the logsource"))
        .map(|x| x.effect.as_str())
        .collect();
    // the ten largest gaps leave room for one of them here
    assert_eq!(onboard, ["goal coverage.techniques >= 0.6: 0.6 -> 0.8"]);
    assert!(a.actions.len() <= 10);
    assert!(
        a.actions[0]
            .action
            .contains("KEV exposures on internet-facing"),
        "{:?}",
        a.actions
    );
    let md = a.doc().render(Format::Markdown);
    let html = a.doc().render(Format::Html);
    assert!(html.contains("<svg") && !html.contains("<script") && !html.contains("<link"));
    golden("assess.md", &md);
    golden("assess.html", &html);
}

#[test]
fn review_markdown_and_html_compare_with_the_previous_review() {
    let mut b = built();
    let cfg = KpiConfig::default();
    let goals_cfg = goal_list();
    let earlier = now() - Duration::days(7);
    // the first review, a week ago, recorded its values
    let (f, k) = kpi::current(&b.store, None, earlier, &cfg).unwrap();
    let g = goals::evaluate(&goals_cfg, &k, &[], earlier, 28).unwrap();
    let r = review::review(&f, &k, &g, None, None, earlier).unwrap();
    assert!(r.deltas.is_empty());
    let rec = serde_json::to_string(&review::recorded(&k, &g)).unwrap();
    b.store.add_review(earlier, None, &rec).unwrap();
    // since then: incidents were grouped and one exposure was fixed
    incidents::group(&mut b.store, &IncidentsConfig::default().build().unwrap()).unwrap();
    // the h1 incident was acknowledged 20 minutes after detection, resolved 5 hours after
    let h1 = b
        .store
        .incidents()
        .unwrap()
        .into_iter()
        .find(|i| i.key_value == "h1")
        .unwrap();
    for (state, mins) in [
        (IncidentState::Acknowledged, 20),
        (IncidentState::Resolved, 300),
    ] {
        let at = h1.detected_at + Duration::minutes(mins);
        b.store
            .set_incident_state(h1.id.unwrap(), state, at, Some("ann"))
            .unwrap();
    }
    // and a scenario was rehearsed two days ago: the SOC acknowledged its task after 10
    // minutes and completed it after 40; IT operations acknowledged its two after 30 and 60
    // minutes and completed one, after 90
    let opened = now() - Duration::days(2);
    let task = |step: i64, team: &str| ExerciseTask {
        step,
        technique: format!("T100{step}"),
        title: format!("step {step}"),
        team: team.into(),
        response: None,
        acked_at: None,
        completed_at: None,
    };
    let x = b
        .store
        .open_exercise(
            "ransomware drill",
            "ransomware.yml",
            opened,
            &[
                task(1, "soc"),
                task(2, "it_operations"),
                task(3, "it_operations"),
            ],
        )
        .unwrap();
    for (step, ev, mins) in [
        (1, TaskEvent::Ack, 10),
        (1, TaskEvent::Complete, 40),
        (2, TaskEvent::Ack, 30),
        (2, TaskEvent::Complete, 90),
        (3, TaskEvent::Ack, 60),
    ] {
        let at = opened + Duration::minutes(mins);
        b.store.update_task(x, step, ev, at).unwrap();
    }
    // an exercise from before the period is not in this review
    b.store
        .open_exercise(
            "old drill",
            "old.yml",
            earlier - Duration::days(1),
            &[task(1, "soc")],
        )
        .unwrap();
    let prev = b.store.last_review().unwrap().unwrap();
    assert_eq!(prev.at, earlier);
    let (f, _) = kpi::current(&b.store, Some(prev.at), now(), &cfg).unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    let g = goals::evaluate(&goals_cfg, &k, &[], now(), 28).unwrap();
    let mut r = review::review(&f, &k, &g, Some(&prev), Some(prev.at), now()).unwrap();
    r.add_exercises(&b.store.exercises().unwrap());
    // real: 2 incidents, one acknowledged (20 min) and resolved (300 min)
    let real = r.real_response.clone().unwrap();
    assert_eq!(
        (real.items, real.acknowledge_minutes, real.complete_minutes),
        (2, Some(20.0), Some(300.0))
    );
    assert_eq!((real.not_acknowledged, real.not_completed), (1, 1));
    let rows: Vec<_> = r
        .exercise_response
        .iter()
        .map(|x| {
            (
                x.who.as_str(),
                x.items,
                x.acknowledge_minutes,
                x.complete_minutes,
                x.not_completed,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "exercise ransomware drill (#1): it_operations",
                2,
                Some(45.0),
                Some(90.0),
                1
            ),
            (
                "exercise ransomware drill (#1): soc",
                1,
                Some(10.0),
                Some(40.0),
                0
            ),
        ]
    );
    assert!(
        r.adapt
            .iter()
            .any(|a| a.contains("it_operations left 1 of 2 tasks undone")),
        "{:?}",
        r.adapt
    );
    assert!(
        r.adapt.iter().any(|a| a
            .contains("it_operations acknowledged in 45 min on average, real incidents in 20 min")),
        "{:?}",
        r.adapt
    );
    assert_eq!(r.fixed_exposures, 1, "the P2 fixed 3 days ago");
    assert_eq!(r.incidents_opened, 2);
    let worse: Vec<&str> = r
        .deltas
        .iter()
        .filter(|d| d.direction == "worse")
        .map(|d| d.kpi.as_str())
        .collect();
    assert_eq!(worse, ["incidents.per_week", "sla.critical"]);
    golden("review.md", &r.doc().render(Format::Markdown));
    golden("review.html", &r.doc().render(Format::Html));
}
