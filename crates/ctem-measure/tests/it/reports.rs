//! Golden files of the assessment and the review, Markdown and HTML, on the built store
//! with a fixed "now". `UPDATE_GOLDEN=1 cargo test -p ctem-measure --test it reports`
//! rewrites them.

use std::path::PathBuf;

use chrono::Duration;
use ctem_measure::goals::{self, GoalConfig};
use ctem_measure::incidents::{self, IncidentsConfig};
use ctem_measure::kpi::{self, KpiConfig};
use ctem_measure::report::{Format, assess::assess, review};
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
    let cfg = KpiConfig::default();
    let (mut f, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    let g = goals::evaluate(&goal_list(), &k, &[], now(), 28).unwrap();
    b.store.source_facts(&mut f).unwrap();
    let a = assess(&f, &k, &g, now(), cfg.scan_days);
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
    let prev = b.store.last_review().unwrap().unwrap();
    assert_eq!(prev.at, earlier);
    let (f, _) = kpi::current(&b.store, Some(prev.at), now(), &cfg).unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    let g = goals::evaluate(&goals_cfg, &k, &[], now(), 28).unwrap();
    let r = review::review(&f, &k, &g, Some(&prev), Some(prev.at), now()).unwrap();
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
