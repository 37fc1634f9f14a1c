//! Each KPI against a value computed by hand from the rows of `fixture::built`.

use chrono::Duration;
use ctem_measure::incidents::{self, IncidentsConfig};
use ctem_measure::kpi::{self, Kpi, KpiConfig};
use ctem_model::IncidentState;
use ctem_store::measure::MeasureStore;

use crate::fixture::{built, empty, now};

fn get<'a>(k: &'a [Kpi], id: &str) -> &'a Kpi {
    k.iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("no kpi {id}"))
}

fn value(k: &[Kpi], id: &str) -> (Option<f64>, Option<u64>) {
    let x = get(k, id);
    (x.value, x.n)
}

fn missing(k: &[Kpi], id: &str) -> String {
    let x = get(k, id);
    assert!(x.value.is_none(), "{id} has a value: {x:?}");
    x.missing.clone().unwrap_or_default()
}

#[test]
fn every_kpi_matches_the_hand_computed_value() {
    let mut b = built();
    let s = IncidentsConfig::default().build().unwrap();
    incidents::group(&mut b.store, &s).unwrap();
    // the h1 incident (opened by the alert detected 540 minutes ago) resolved 5 hours later
    let h1 = b
        .store
        .incidents()
        .unwrap()
        .into_iter()
        .find(|i| i.key_value == "h1")
        .unwrap();
    let at = h1.detected_at + Duration::hours(5);
    b.store
        .set_incident_state(h1.id.unwrap(), IncidentState::Resolved, at, Some("ann"))
        .unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &KpiConfig::default()).unwrap();
    // MTTD: delays of 1 h and 2 h; the alert without an event time is not counted
    assert_eq!(value(&k, "mttd.hours"), (Some(1.5), Some(2)));
    assert_eq!(value(&k, "mttr.hours"), (Some(5.0), Some(1)));
    // two incidents in the last 28 days = 4 weeks
    assert_eq!(value(&k, "incidents.per_week"), (Some(0.5), Some(2)));
    // P1 fixed in 4 and 10 days: mean 7, nearest-rank p50 4, p90 10
    assert_eq!(value(&k, "mttr.critical_days"), (Some(7.0), Some(2)));
    assert_eq!(
        value(&k, "remediate.critical.p50_days"),
        (Some(4.0), Some(2))
    );
    assert_eq!(
        value(&k, "remediate.critical.p90_days"),
        (Some(10.0), Some(2))
    );
    assert_eq!(value(&k, "mttr.high_days"), (Some(6.0), Some(1)));
    // P1: fixed in time 1, fixed late 1, open in time 1, open overdue 1
    assert_eq!(value(&k, "sla.critical"), (Some(0.5), Some(4)));
    assert_eq!(value(&k, "sla.high"), (Some(1.0), Some(1)));
    assert_eq!(value(&k, "open.critical"), (Some(2.0), Some(2)));
    assert_eq!(
        value(&k, "open.low"),
        (Some(0.0), Some(0)),
        "accepted is not open"
    );
    assert_eq!(value(&k, "kev_open.total"), (Some(2.0), Some(2)));
    assert_eq!(value(&k, "kev_open.internet_facing"), (Some(1.0), Some(1)));
    assert_eq!(
        value(&k, "surface.internet_facing_assets"),
        (Some(1.0), Some(1))
    );
    assert_eq!(value(&k, "surface.services"), (Some(2.0), Some(2)));
    assert_eq!(value(&k, "surface.open_ports"), (Some(2.0), Some(2)));
    // a scan saw h1 yesterday and h2 40 days ago; h3 came from the inventory only
    assert_eq!(value(&k, "coverage.scanned_assets"), (Some(0.333), Some(3)));
    assert!(missing(&k, "coverage.techniques").contains("no enabled rules recorded"));
    assert_eq!(value(&k, "alerts.correlation_share"), (Some(0.0), Some(3)));
    assert!(missing(&k, "sla.medium").contains("P3"));
    assert!(missing(&k, "mttr.low_days").contains("P4 exposure fixed"));
}

#[test]
fn since_narrows_the_windowed_kpis_only() {
    let b = built();
    let since = now() - Duration::days(18);
    let (_, k) = kpi::current(&b.store, Some(since), now(), &KpiConfig::default()).unwrap();
    // only the P1 fixed 16 days ago (4 days) is in the window
    assert_eq!(value(&k, "mttr.critical_days"), (Some(4.0), Some(1)));
    assert_eq!(
        value(&k, "sla.critical"),
        (
            Some(2.0 / 3.0 * 1000.0).map(|v: f64| v.round() / 1000.0),
            Some(3)
        )
    );
    // state KPIs ignore the window
    assert_eq!(value(&k, "open.critical"), (Some(2.0), Some(2)));
}

#[test]
fn an_empty_store_says_what_is_missing_for_every_kpi() {
    let b = empty();
    let (_, k) = kpi::current(&b.store, None, now(), &KpiConfig::default()).unwrap();
    for x in &k {
        assert!(x.value.is_none(), "{} invented a value: {x:?}", x.id);
        assert!(!x.missing.as_deref().unwrap_or("").is_empty(), "{}", x.id);
    }
    assert!(missing(&k, "mttd.hours").contains("ctem detect --store"));
    assert!(missing(&k, "open.critical").contains("ctem import"));
    assert!(missing(&k, "mttr.critical_days").contains("no exposures stored"));
    assert!(missing(&k, "coverage.scanned_assets").contains("no assets"));
}

#[test]
fn kev_and_surface_kpis_name_the_missing_catalogue_and_flags() {
    let b = built();
    let c = rusqlite::Connection::open(b._dir.path().join("t.db")).unwrap();
    c.execute_batch("DELETE FROM intel_kev; UPDATE assets SET internet_facing = NULL;")
        .unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &KpiConfig::default()).unwrap();
    assert!(missing(&k, "kev_open.total").contains("KEV catalogue"));
    assert!(missing(&k, "surface.open_ports").contains("internet-facing flag"));
    // an alert without an event time alone cannot give an MTTD
    c.execute_batch("DELETE FROM alerts WHERE event_time IS NOT NULL")
        .unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &KpiConfig::default()).unwrap();
    assert!(missing(&k, "mttd.hours").contains("event time"));
}

#[test]
fn the_daily_snapshot_is_written_once_a_day() {
    let mut b = built();
    let cfg = KpiConfig::default();
    assert!(kpi::daily_snapshot(&mut b.store, now(), &cfg).unwrap());
    assert!(!kpi::daily_snapshot(&mut b.store, now() + Duration::hours(3), &cfg).unwrap());
    assert!(kpi::daily_snapshot(&mut b.store, now() + Duration::days(1), &cfg).unwrap());
    let snaps = b.store.snapshots().unwrap();
    assert_eq!(snaps.len(), 2);
    let v = kpi::snapshot_values(&snaps[0]).unwrap();
    assert_eq!(v["open.critical"], Some(2.0));
    assert_eq!(v["coverage.techniques"], None);
    // --snapshot replaces today's
    assert!(kpi::snapshot(&mut b.store, now() + Duration::days(1), &cfg, true).unwrap());
    assert_eq!(b.store.snapshots().unwrap().len(), 2);
}
