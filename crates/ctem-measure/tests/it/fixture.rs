//! A store built row by row, so every KPI can be checked against a hand-computed value.

use chrono::{DateTime, Duration, Utc};
use ctem_model::Alert;
use ctem_store::alerts::AlertStore;
use ctem_store::sqlite::SqliteStore;
use rusqlite::{Connection, params};

/// The fixed "now" of every test: 2026-06-15 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
        .unwrap()
        .to_utc()
}

pub fn days_ago(d: i64) -> i64 {
    (now() - Duration::days(d)).timestamp()
}

/// The store's day number (days from 0001-01-01) of `now - d` days.
fn day_num(d: i64) -> i64 {
    use chrono::Datelike;
    i64::from((now() - Duration::days(d)).date_naive().num_days_from_ce())
}

pub struct Built {
    pub _dir: tempfile::TempDir,
    pub store: SqliteStore,
}

/// An empty, migrated store on disk.
pub fn empty() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("t.db")).unwrap();
    Built { _dir: dir, store }
}

/// The posture described in each row's comment.
pub fn built() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = Connection::open(&path).unwrap();
    // 1 internet-facing, owned, seen yesterday; 2 internal, no owner, seen 40 days ago;
    // 3 named by an inventory only (no finding, service or package), seen yesterday
    for (id, inet, owner, seen) in [
        (1, Some(1), Some("ops"), 1),
        (2, Some(0), None, 40),
        (3, None, Some("ops"), 1),
    ] {
        c.execute(
            "INSERT INTO assets(id, kind, name, owner_team, internet_facing, first_seen, last_seen)
             VALUES (?1, 'host', ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                format!("h{id}"),
                owner,
                inet,
                days_ago(90),
                days_ago(seen)
            ],
        )
        .unwrap();
    }
    // what reported each asset: nessus saw 1 yesterday and 2 forty days ago; 3 came from
    // the inventory only
    c.execute_batch("INSERT INTO sources(id, tool, scope) VALUES (1, 'nessus', 'default'), (2, 'inventory', 'default')")
        .unwrap();
    for (asset, source, seen) in [(1, 1, 1), (2, 1, 40), (3, 2, 1)] {
        c.execute(
            "INSERT INTO asset_sources(asset_id, source_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4)",
            params![asset, source, days_ago(90), days_ago(seen)],
        )
        .unwrap();
    }
    for (asset, port) in [(1, 443), (1, 22), (2, 5432)] {
        c.execute(
            "INSERT INTO services(asset_id, protocol, port, state, first_seen, last_seen)
             VALUES (?1, 'tcp', ?2, 'open', 0, 0)",
            params![asset, port],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO scans(tool, format, scope, explicit_scope, file, sha256, imported_at, summary)
         VALUES ('nessus', 'nessus', 'default', 0, 'a.nessus', '', ?1, '{}')",
        [days_ago(1)],
    )
    .unwrap();
    c.execute(
        "INSERT INTO intel_kev(cve_id, date_added, data) VALUES ('CVE-2024-0001', '2024-01-01', '{}')",
        [],
    )
    .unwrap();
    // (id, asset, status, priority, kev, first seen days ago, fixed days ago, due days ago)
    type Row<'a> = (i64, i64, &'a str, i64, i64, i64, Option<i64>, i64);
    let rows: [Row<'_>; 6] = [
        (1, 1, "open", 1, 1, 10, None, 2), // P1 KEV internet-facing, overdue
        (2, 2, "open", 1, 1, 2, None, -5), // P1 KEV internal, due in 5 days
        (3, 1, "fixed", 1, 0, 20, Some(16), 13), // P1 fixed in 4 days, in time
        (4, 2, "fixed", 1, 0, 30, Some(20), 23), // P1 fixed in 10 days, late
        (5, 1, "fixed", 2, 0, 9, Some(3), -21), // P2 fixed in 6 days, in time
        (6, 2, "accepted", 4, 0, 50, None, -130), // P4 accepted: not open
    ];
    for (id, asset, status, prio, kev, first, fixed, due) in rows {
        c.execute(
            "INSERT INTO exposures(id, asset_id, fingerprint, kind, title, severity, status,
                 first_seen, last_seen, fixed_at, content_hash, detail_id, instance)
             VALUES (?1, ?2, ?3, 'vulnerability', 't', 3, ?4, ?5, ?5, ?6, x'00', 1, '{}')",
            params![
                id,
                asset,
                vec![id as u8],
                status,
                days_ago(first),
                fixed.map(days_ago)
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO exposure_risk(exposure_id, score, priority, ssvc, kev, due)
             VALUES (?1, 50, ?2, 0, ?3, ?4)",
            params![id, prio, kev, day_num(due)],
        )
        .unwrap();
    }
    drop(c);
    let mut store = SqliteStore::open(&path).unwrap();
    store.store_alerts(&alerts()).unwrap();
    Built { _dir: dir, store }
}

fn alert(host: &str, event_mins_ago: Option<i64>, delay_mins: i64, level: &str) -> Alert {
    let event = event_mins_ago.map(|m| now() - Duration::minutes(m));
    Alert {
        id: None,
        rule_id: format!("rule-{host}"),
        title: format!("suspicious thing on {host}"),
        level: level.into(),
        kind: Default::default(),
        tags: vec!["attack.t1003.001".into()],
        event_time: event,
        detected_at: event.unwrap_or(now() - Duration::hours(1)) + Duration::minutes(delay_mins),
        source: Some("sample.evtx".into()),
        record: Some(1),
        host: Some(host.into()),
        user: None,
        process: None,
        event: serde_json::json!({"Computer": host}),
    }
}

/// Two alerts on h1 twenty minutes apart, delays 60 and 120 minutes (MTTD 1.5 h over 2);
/// one alert on h2 without an event time.
pub fn alerts() -> Vec<Alert> {
    vec![
        alert("h1", Some(600), 60, "medium"),
        alert("h1", Some(580), 120, "high"),
        alert("h2", None, 0, "low"),
    ]
}
