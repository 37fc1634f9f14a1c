//! Goal status across met, on track, at risk, missed and unknown.

use chrono::{Duration, NaiveDate};
use ctem_measure::goals::{self, GoalConfig, Status};
use ctem_measure::kpi::Kpi;
use ctem_store::measure::Snapshot;

use crate::fixture::now;

fn kpi(id: &str, v: Option<f64>) -> Kpi {
    Kpi {
        id: id.into(),
        title: id.into(),
        unit: "x".into(),
        value: v,
        n: v.map(|_| 1),
        missing: v.is_none().then(|| "no data".into()),
    }
}

fn goal(kpi: &str, op: &str, target: f64, due: Option<&str>) -> GoalConfig {
    GoalConfig {
        kpi: kpi.into(),
        op: op.into(),
        target,
        owner: Some("ciso".into()),
        due: due.map(|d| d.parse::<NaiveDate>().unwrap()),
        name: None,
    }
}

fn snap(days_ago: i64, json: &str) -> Snapshot {
    let t = now() - Duration::days(days_ago);
    Snapshot {
        day: t.format("%Y-%m-%d").to_string(),
        taken_at: t,
        data: json.into(),
    }
}

#[test]
fn status_follows_value_trend_and_due_date() {
    let kpis = [
        kpi("mttr.critical_days", Some(9.0)),
        kpi("kev_open.internet_facing", Some(0.0)),
        kpi("coverage.scanned_assets", Some(0.80)),
        kpi("coverage.techniques", None),
        kpi("sla.critical", Some(0.5)),
    ];
    // 14 days ago MTTR was 16 days (falling 0.5/day), coverage 0.79 (rising slowly)
    let snaps = [snap(
        14,
        r#"{"mttr.critical_days":16.0,"coverage.scanned_assets":0.79}"#,
    )];
    let goals = [
        goal("mttr.critical_days", "<=", 7.0, Some("2026-07-31")),
        goal("kev_open.internet_facing", "==", 0.0, None),
        goal("coverage.scanned_assets", ">=", 0.95, Some("2026-07-31")),
        goal("coverage.techniques", ">=", 0.6, Some("2027-03-31")),
        goal("sla.critical", ">=", 0.9, Some("2026-06-01")),
    ];
    let s = goals::evaluate(&goals, &kpis, &snaps, now(), 28).unwrap();
    let st: Vec<Status> = s.iter().map(|g| g.status).collect();
    assert_eq!(
        st,
        [
            Status::OnTrack, // 9 - 0.5 * 46 days left reaches 7
            Status::Met,
            Status::AtRisk, // +0.01 in 14 days will not reach 0.95 by July
            Status::Unknown,
            Status::Missed, // due date passed, not met
        ]
    );
    assert_eq!(s[0].trend_per_week, Some(-3.5));
    assert_eq!(s[3].missing.as_deref(), Some("no data"));
    assert!(s[2].moves.contains("scan"));
}

#[test]
fn without_history_an_unmet_goal_is_at_risk() {
    let s = goals::evaluate(
        &[goal("mttr.critical_days", "<=", 7.0, Some("2027-01-01"))],
        &[kpi("mttr.critical_days", Some(9.0))],
        &[],
        now(),
        28,
    )
    .unwrap();
    assert_eq!((s[0].status, s[0].trend_per_week), (Status::AtRisk, None));
}

#[test]
fn goals_naming_unknown_kpis_or_ops_are_refused() {
    let e = goals::validate(&[goal("mttr.critical", "<=", 7.0, None)]).unwrap_err();
    assert!(
        e.to_string()
            .contains("goal 1 (mttr.critical): unknown kpi"),
        "{e}"
    );
    let e = goals::validate(&[goal("sla.critical", "=>", 0.9, None)]).unwrap_err();
    assert!(e.to_string().contains("unknown op"), "{e}");
    goals::validate(&[goal("coverage.techniques", ">=", 0.6, None)]).unwrap();
}
