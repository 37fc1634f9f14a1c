//! SLA due dates, KEV caps, breach and age.

use chrono::NaiveDate;
use ctem_risk::ssvc::Decision;
use ctem_risk::{Priority, SlaConfig, SlaTarget};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn due_dates_follow_priority_and_ssvc_defaults() {
    let sla = SlaConfig::default();
    let opened = d(2024, 1, 1);
    let due = |t| sla.due_date(opened, t, None).0;
    assert_eq!(due(SlaTarget::Priority(Priority::P1)), d(2024, 1, 8));
    assert_eq!(due(SlaTarget::Priority(Priority::P2)), d(2024, 1, 31));
    assert_eq!(due(SlaTarget::Priority(Priority::P3)), d(2024, 3, 31));
    assert_eq!(due(SlaTarget::Priority(Priority::P4)), d(2024, 6, 29));
    assert_eq!(due(SlaTarget::Ssvc(Decision::Act)), d(2024, 1, 8));
    assert_eq!(due(SlaTarget::Ssvc(Decision::Track)), d(2024, 6, 29));
}

#[test]
fn kev_due_date_caps_only_when_earlier() {
    let sla = SlaConfig::default();
    let opened = d(2024, 1, 1);
    let p3 = SlaTarget::Priority(Priority::P3);
    assert_eq!(
        sla.due_date(opened, p3, Some(d(2024, 1, 22))),
        (d(2024, 1, 22), true)
    );
    assert_eq!(
        sla.due_date(opened, p3, Some(d(2025, 1, 1))),
        (d(2024, 3, 31), false)
    );
}

#[test]
fn open_items_breach_after_due_and_count_days() {
    let sla = SlaConfig::default();
    let p1 = SlaTarget::Priority(Priority::P1);
    let opened = d(2024, 1, 1);
    let on_time = sla.status(opened, p1, None, None, d(2024, 1, 8));
    assert!(!on_time.breached);
    assert_eq!((on_time.days_open, on_time.days_left), (7, 0));
    let late = sla.status(opened, p1, None, None, d(2024, 1, 10));
    assert!(late.breached);
    assert_eq!((late.days_open, late.days_left), (9, -2));
}

#[test]
fn closed_items_are_judged_at_closing() {
    let sla = SlaConfig::default();
    let p2 = SlaTarget::Priority(Priority::P2);
    let opened = d(2024, 1, 1);
    let closed_in_time = sla.status(opened, p2, None, Some(d(2024, 1, 20)), d(2024, 12, 1));
    assert!(!closed_in_time.breached);
    assert_eq!(closed_in_time.days_open, 19);
    let closed_late = sla.status(
        opened,
        p2,
        Some(d(2024, 1, 10)),
        Some(d(2024, 1, 20)),
        d(2024, 12, 1),
    );
    assert!(closed_late.breached && closed_late.capped_by_kev);
}

#[test]
fn sla_config_reads_from_toml() {
    let c = ctem_risk::sla::from_toml("p1_days = 3\n").unwrap();
    assert_eq!((c.p1_days, c.p2_days), (3, 30));
    assert!(ctem_risk::sla::from_toml("p9_days = 1").is_err());
}
