//! The aggregate reads behind [`crate::measure::MeasureStore::measure_facts`]: one grouped
//! query per table, so a million exposures or alerts cost one scan each and never become
//! records in memory (only the durations of fixes in the window are fetched, as integers).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::SqliteStore;
use super::measure::{ots, ts};
use crate::Result;
use crate::measure::{
    EventSourceFacts, FeedFacts, MeasureFacts, PriorityFacts, ScannerFacts, TacticFacts,
};

/// Days from 0001-01-01 (the store's day numbers) to 1970-01-01.
const EPOCH_DAY: i64 = 719_163;

pub(crate) fn read(
    s: &SqliteStore,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    scan_cutoff: DateTime<Utc>,
) -> Result<MeasureFacts> {
    let since = since.map_or(i64::MIN, |t| t.timestamp());
    let mut f = MeasureFacts::default();
    let (timed, delay, untimed) = s.conn.query_row(
        "SELECT count(event_time), COALESCE(sum(detected_at - event_time), 0),
                count(*) - count(event_time)
         FROM alerts WHERE detected_at >= ?1 AND detected_at <= ?2",
        params![since, now.timestamp()],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )?;
    // few: correlations fire once per group and window (partial index, migration 53)
    f.alerts_correlation = s.conn.query_row(
        "SELECT count(*) FROM alerts
         WHERE kind = 'correlation' AND detected_at >= ?1 AND detected_at <= ?2",
        params![since, now.timestamp()],
        |r| r.get::<_, i64>(0),
    )? as u64;
    f.alerts_timed = timed as u64;
    f.alerts_delay_secs = delay;
    f.alerts_untimed = untimed as u64;
    f.alerts_total =
        s.conn
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get::<_, i64>(0))? as u64;
    f.priorities = priorities(s, since, now)?;
    f.kev_entries = s
        .conn
        .query_row("SELECT count(*) FROM intel_kev", [], |r| r.get::<_, i64>(0))?
        as u64;
    assets(s, &mut f, scan_cutoff)?;
    f.incidents = crate::measure::MeasureStore::incidents(s)?;
    f.logsources = super::measure_seen::seen_logsources(s)?;
    f.rules = super::measure_seen::detection_rules(s)?;
    let mut st = s.conn.prepare(
        "SELECT tool, count(*), max(imported_at) FROM scans GROUP BY tool ORDER BY tool",
    )?;
    f.scanners = st
        .query_map([], |r| {
            Ok(ScannerFacts {
                tool: r.get(0)?,
                scans: r.get::<_, i64>(1)? as u64,
                last_import: ts(r.get(2)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(f)
}

/// One pass over exposures and their risk rows, counted here (a GROUP BY would sort a
/// million rows); the KEV-on-internet-facing count is a second, narrow query.
fn priorities(s: &SqliteStore, since: i64, now: DateTime<Utc>) -> Result<Vec<PriorityFacts>> {
    let today = now.timestamp().div_euclid(86_400) + EPOCH_DAY;
    let mut out: Vec<PriorityFacts> = (0..=4u8)
        .map(|p| PriorityFacts {
            priority: p,
            ..Default::default()
        })
        .collect();
    let mut st = s.conn.prepare(
        "SELECT COALESCE(r.priority, 0), e.status, e.first_seen, e.fixed_at, r.kev, r.due
         FROM exposures e LEFT JOIN exposure_risk r ON r.exposure_id = e.id",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let p = r.get::<_, i64>(0)?.clamp(0, 4) as usize;
        let x = &mut out[p];
        let status = r.get_ref(1)?.as_str().unwrap_or("");
        let first: i64 = r.get(2)?;
        let due: Option<i64> = r.get(5)?;
        if first >= since {
            x.new_in_window += 1;
        }
        match status {
            "open" | "reopened" => {
                x.open += 1;
                if r.get::<_, Option<i64>>(4)? == Some(1) {
                    x.kev_open += 1;
                }
                match due {
                    Some(d) if d < today => x.open_overdue += 1,
                    Some(_) => x.open_in_time += 1,
                    None => {}
                }
            }
            "fixed" => {
                let Some(fixed) = r.get::<_, Option<i64>>(3)? else {
                    continue;
                };
                if fixed < since {
                    continue;
                }
                x.fixed_in_window += 1;
                x.remediation_secs.push((fixed - first).max(0));
                match due {
                    Some(d) if fixed.div_euclid(86_400) + EPOCH_DAY <= d => x.fixed_in_time += 1,
                    Some(_) => x.fixed_late += 1,
                    None => {}
                }
            }
            _ => {}
        }
    }
    let mut st = s.conn.prepare(
        "SELECT r.priority, count(*) FROM exposure_risk r
         JOIN exposures e ON e.id = r.exposure_id JOIN assets a ON a.id = e.asset_id
         WHERE r.kev = 1 AND e.status IN ('open', 'reopened') AND a.internet_facing = 1
         GROUP BY 1",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (p, n) = row?;
        out[p.clamp(0, 4) as usize].kev_open_internet += n as u64;
    }
    Ok(out)
}

/// Assets, their owners and flags; "scanned" means reported by a source other than an
/// inventory import (`asset_sources`, as `AssetRow::never_scanned` reads it), "recently" a
/// scan's last sighting at or after `scan_cutoff`.
fn assets(s: &SqliteStore, f: &mut MeasureFacts, scan_cutoff: DateTime<Utc>) -> Result<()> {
    let c = s.conn.query_row(
        "SELECT count(*), count(internet_facing), COALESCE(sum(internet_facing = 1), 0),
                COALESCE(sum(owner_team IS NULL OR owner_team = ''), 0)
         FROM assets",
        [],
        |r| {
            Ok([
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ])
        },
    )?;
    f.assets = c[0] as u64;
    f.assets_exposure_known = c[1] as u64;
    f.assets_internet_facing = c[2] as u64;
    f.assets_without_owner = c[3] as u64;
    let (scanned, recent) = s.conn.query_row(
        "SELECT count(*), COALESCE(sum(last >= ?2), 0) FROM
            (SELECT x.asset_id, max(x.last_seen) AS last FROM asset_sources x
             JOIN sources src ON src.id = x.source_id WHERE src.tool <> ?1
             GROUP BY x.asset_id)",
        params![super::context::INVENTORY, scan_cutoff.timestamp()],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    f.assets_recent = recent as u64;
    f.assets_never_scanned = f.assets.saturating_sub(scanned as u64);
    let (svc, ports) = s.conn.query_row(
        "SELECT count(*), count(DISTINCT v.protocol || '/' || v.port)
         FROM services v JOIN assets a ON a.id = v.asset_id
         WHERE a.internet_facing = 1 AND v.state = 'open'",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )?;
    f.internet_services = svc as u64;
    f.internet_ports = ports as u64;
    Ok(())
}

pub(crate) fn sources(s: &SqliteStore, f: &mut MeasureFacts) -> Result<()> {
    f.tactics = tactics(s)?;
    let mut st = s.conn.prepare(
        "SELECT COALESCE(source, '(unnamed)'), count(*), max(detected_at) FROM alerts
         GROUP BY 1 ORDER BY 1",
    )?;
    f.event_sources = st
        .query_map([], |r| {
            Ok(EventSourceFacts {
                source: r.get(0)?,
                alerts: r.get::<_, i64>(1)? as u64,
                last_detected: ts(r.get(2)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = s
        .conn
        .prepare("SELECT name, checked_at, updated_at FROM intel_feeds ORDER BY name")?;
    f.feeds = st
        .query_map([], |r| {
            Ok(FeedFacts {
                name: r.get(0)?,
                checked_at: ots(r.get(1)?),
                updated_at: ots(r.get(2)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(())
}

/// Techniques per tactic (ATT&CK import), and which of them an alert tag names.
fn tactics(s: &SqliteStore) -> Result<Vec<TacticFacts>> {
    let mut alerted: BTreeSet<String> = BTreeSet::new();
    let mut st = s.conn.prepare("SELECT DISTINCT tags FROM alerts")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    for row in rows {
        let tags: Vec<String> = serde_json::from_str(&row?).unwrap_or_default();
        for t in tags {
            if let Some(id) = t.strip_prefix("attack.")
                && id.starts_with(['t', 'T'])
                && id[1..].starts_with(|c: char| c.is_ascii_digit())
            {
                alerted.insert(id.to_ascii_uppercase());
            }
        }
    }
    let mut st = s.conn.prepare(
        "SELECT p.value, a.attack_id FROM intel_attack a, json_each(a.data, '$.tactics') p
         WHERE a.kind = 'technique' AND a.revoked = 0 AND a.deprecated = 0",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in rows {
        let (tactic, id) = row?;
        let e = by.entry(tactic).or_default();
        e.0 += 1;
        // a sub-technique alert covers its parent and the parent covers none of its children
        if alerted.contains(&id) || alerted.iter().any(|a| a.starts_with(&format!("{id}."))) {
            e.1 += 1;
        }
    }
    Ok(by
        .into_iter()
        .map(|(tactic, (techniques, alerted))| TacticFacts {
            tactic,
            techniques,
            alerted,
        })
        .collect())
}
